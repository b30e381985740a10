//! Scenario packs: scaffolded, found through --pack-path, RUNNER_PACK_PATH and
//! runner.toml, imported as PACK/MODULE, run as PACK:SCENARIO; every mistake
//! a clear message with exit 2.

use std::path::Path;
use std::process::Output;

use crate::util::{stderr_flat, text};

/// Runs the binary in `dir`, with RUNNER_PACK_PATH set to `env` (or unset).
fn runner_in(dir: &Path, env: Option<&str>, args: &[&str]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_runner"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        // Git packs are unpacked here, never in the user's cache.
        .env("RUNNER_CACHE", dir.join(".runner-cache"));
    match env {
        Some(v) => command.env("RUNNER_PACK_PATH", v),
        None => command.env_remove("RUNNER_PACK_PATH"),
    };
    command.output().expect("runner starts")
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn manifest(name: &str, runner: &str) -> String {
    format!(
        "[pack]\nname = \"{name}\"\nversion = \"1.0.0\"\ndescription = \"test pack\"\nrunner = \"{runner}\"\n"
    )
}

/// A library pack `lib` with one module, and a pack `app` whose scenario imports it.
fn two_packs(root: &Path) {
    write(&root.join("lib/pack.toml"), &manifest("lib", "*"));
    write(
        &root.join("lib/modules/steps.rhai"),
        "fn ping() { get(\"/stats\").name(\"ping\").expect(200) }\n",
    );
    write(
        &root.join("app/pack.toml"),
        &(manifest("app", ">=0.1")
            + "[params]\n\"app.requests\" = 2\n[profiles.more]\n\"app.requests\" = 3\n"),
    );
    write(
        &root.join("app/ping.rhai"),
        "import \"lib/steps\" as steps;\n\
         let s = scenario(\"ping\");\ns.description(\"Ping the stats\");\n\
         s.target(param(\"api.baseUrl\", \"builtin:orders\"));\n\
         s.population(#{ total: param(\"app.requests\", 1), mix: #{ ping: \"rest\" } });\n\
         s.flow(\"ping\", [steps::ping()]);\ns\n",
    );
}

#[test]
fn a_new_pack_passes_check_by_path_and_by_name_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let made = runner_in(dir.path(), None, &["pack", "new", "shop"]);
    assert_eq!(made.status.code(), Some(0), "{}", text(&made));
    for file in ["pack.toml", "README.md", "smoke.rhai", "modules/api.rhai"] {
        assert!(dir.path().join("shop").join(file).is_file(), "{file}");
    }
    // A bare file name inside the pack's folder is the pack's scenario too.
    let here = runner_in(
        &dir.path().join("shop"),
        None,
        &["check", "smoke.rhai", "--profile", "larger"],
    );
    assert_eq!(here.status.code(), Some(0), "{}", text(&here));
    assert!(
        text(&here).contains("population  40 orders"),
        "{}",
        text(&here)
    );
    let by_path = runner_in(dir.path(), None, &["check", "shop/smoke.rhai"]);
    assert_eq!(by_path.status.code(), Some(0), "{}", text(&by_path));
    // The pack's [params] default (4 orders) is what the plan uses.
    assert!(
        String::from_utf8_lossy(&by_path.stdout).contains("population  4 orders"),
        "{}",
        text(&by_path)
    );
    let by_name = runner_in(
        dir.path(),
        None,
        &["shop:smoke", "--pack-path", ".", "--speed", "10", "-q"],
    );
    assert_eq!(by_name.status.code(), Some(0), "{}", text(&by_name));
    let again = runner_in(dir.path(), None, &["pack", "new", "shop"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(
        stderr_flat(&again).contains("already exists"),
        "{}",
        text(&again)
    );
}

#[test]
fn packs_are_found_through_the_flag_the_environment_and_runner_toml() {
    let dir = tempfile::tempdir().unwrap();
    let packs = dir.path().join("packs");
    two_packs(&packs);
    let project = dir.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    let packs_arg = packs.to_str().unwrap();
    // A folder of packs on --pack-path.
    let out = runner_in(
        &project,
        None,
        &["check", "app:ping", "--pack-path", packs_arg],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The same through RUNNER_PACK_PATH (`:`-separated, the packs one by one).
    let env = format!(
        "{}:{}",
        packs.join("lib").display(),
        packs.join("app").display()
    );
    let out = runner_in(&project, Some(&env), &["check", "app:ping"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // And through the project's runner.toml, paths relative to it.
    write(
        &project.join("runner.toml"),
        "[packs]\nlib = { path = \"../packs/lib\" }\napp = { path = \"../packs/app\" }\n",
    );
    let out = runner_in(&project, None, &["check", "app:ping"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let list = runner_in(&project, None, &["pack", "list"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("app") && listed.contains("lib") && listed.contains("1.0.0"),
        "{listed}"
    );
    let show = runner_in(&project, None, &["pack", "show", "app"]);
    let shown = String::from_utf8_lossy(&show.stdout);
    for part in [
        "ping",
        "Ping the stats",
        "app.requests = 2",
        "more",
        "app.requests = 3",
    ] {
        assert!(shown.contains(part), "{part:?} missing from\n{shown}");
    }
}

#[test]
fn pack_params_sit_under_the_profile_and_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    two_packs(dir.path());
    let packs = dir.path().to_str().unwrap();
    let population = |extra: &[&str]| {
        let mut args = vec!["check", "app:ping", "--pack-path", packs];
        args.extend_from_slice(extra);
        let out = runner_in(dir.path(), None, &args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("population  ").map(str::to_owned))
            .unwrap()
    };
    assert_eq!(population(&[]), "2 orders");
    assert_eq!(population(&["--profile", "more"]), "3 orders");
    assert_eq!(
        population(&["--profile", "more", "--set", "app.requests=5"]),
        "5 orders"
    );
}

/// Each bad pack setup: exit 2 and a message with `expected`.
fn refused(dir: &Path, args: &[&str], expected: &str) {
    let out = runner_in(dir, None, args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr_flat(&out).contains(expected),
        "{expected:?}\n{}",
        text(&out)
    );
}

#[test]
fn pack_mistakes_are_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    two_packs(&root.join("packs"));
    let packs = root.join("packs");
    let packs = packs.to_str().unwrap();
    refused(
        root,
        &["check", "nope:ping", "--pack-path", packs],
        "no pack named `nope`",
    );
    refused(
        root,
        &["check", "nope:ping", "--pack-path", packs],
        &format!("looked in: --pack-path {packs}"),
    );
    refused(
        root,
        &["check", "app:pong", "--pack-path", packs],
        "pack `app` has no scenario `pong`",
    );
    write(
        &root.join("uses.rhai"),
        "import \"lib/nothing\" as n;\nimport \"ghost/steps\" as g;\n",
    );
    refused(
        root,
        &["check", "uses.rhai", "--pack-path", packs],
        "pack `lib` has no module `nothing`",
    );
    write(&root.join("ghost.rhai"), "import \"ghost/steps\" as g;\n");
    refused(
        root,
        &["check", "ghost.rhai", "--pack-path", packs],
        "no pack named `ghost`",
    );
    // Two packs of one name.
    write(&root.join("copy/lib/pack.toml"), &manifest("lib", "*"));
    let copy = root.join("copy");
    refused(
        root,
        &[
            "check",
            "app:ping",
            "--pack-path",
            packs,
            "--pack-path",
            copy.to_str().unwrap(),
        ],
        "two packs are named `lib`",
    );
    // A runner version the pack does not accept.
    write(&root.join("future/pack.toml"), &manifest("future", ">=99"));
    let future = root.join("future");
    refused(
        root,
        &["pack", "list", "--pack-path", future.to_str().unwrap()],
        "pack `future` needs runner >=99",
    );
    // A malformed manifest names the key.
    write(&root.join("bad/pack.toml"), &manifest("Bad_Name", "*"));
    let bad = root.join("bad");
    refused(
        root,
        &["pack", "list", "--pack-path", bad.to_str().unwrap()],
        "pack.name",
    );
    // runner.toml with a source this runner does not know, or a git pack runner.lock lacks.
    let project = root.join("project");
    write(
        &project.join("runner.toml"),
        "[packs]\nshop = { svn = \"file:///nowhere\" }\n",
    );
    refused(&project, &["pack", "list"], "unknown field `svn`");
    write(
        &project.join("runner.toml"),
        "[packs]\nshop = { git = \"file:///nowhere\", rev = \"v1\" }\n",
    );
    refused(
        &project,
        &["check", "shop:smoke"],
        "runner.lock does not pin it",
    );
    // Listing still works, and says what is wrong.
    let listed = runner_in(&project, None, &["pack", "list"]);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed));
    assert!(
        text(&listed).contains("unusable: pack `shop` comes from git"),
        "{}",
        text(&listed)
    );
    refused(&project, &["pack", "update"], "file:///nowhere");
}

#[test]
fn an_import_cycle_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("a.rhai"),
        "import \"b\" as b;\nfn f() { 1 }\n",
    );
    write(
        &dir.path().join("b.rhai"),
        "import \"a\" as a;\nfn g() { 2 }\n",
    );
    write(&dir.path().join("main.rhai"), "import \"a\" as a;\n");
    refused(
        dir.path(),
        &["check", "main.rhai"],
        "import cycle: a.rhai → b.rhai → a.rhai",
    );
}

/// Runs git quietly in `dir`, as a throwaway identity.
fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
}

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

#[test]
fn a_pack_in_a_git_repository_is_added_pinned_run_offline_and_guarded() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A pack in a repository of its own: v1 tagged, then a v2 commit on main.
    let made = runner_in(root, None, &["pack", "new", "shop"]);
    assert_eq!(made.status.code(), Some(0), "{}", text(&made));
    let repo = root.join("shop");
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "v1"]);
    git(&repo, &["tag", "v1"]);
    let manifest = repo.join("pack.toml");
    let v2 = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("0.1.0", "0.2.0");
    std::fs::write(&manifest, v2).unwrap();
    git(&repo, &["commit", "-qam", "v2"]);

    let project = root.join("project");
    std::fs::create_dir(&project).unwrap();
    let url = file_url(&repo);
    let added = runner_in(&project, None, &["pack", "add", &format!("{url}#v1")]);
    assert_eq!(added.status.code(), Some(0), "{}", text(&added));
    assert!(
        text(&added).contains("added pack `shop` 0.1.0"),
        "{}",
        text(&added)
    );
    let toml = std::fs::read_to_string(project.join("runner.toml")).unwrap();
    assert!(
        toml.contains(&format!("shop = {{ git = \"{url}\", rev = \"v1\" }}")),
        "{toml}"
    );
    let lock = std::fs::read_to_string(project.join("runner.lock")).unwrap();
    assert!(lock.contains("checksum = \"sha256:"), "{lock}");
    assert!(lock.contains("version = \"0.1.0\""), "{lock}");

    let listed = runner_in(&project, None, &["pack", "list"]);
    let listing = text(&listed);
    assert!(listing.contains(&format!("git+{url}#v1")), "{listing}");
    assert!(listing.contains("0.1.0"), "{listing}");

    // Offline afterwards: the source repository is gone, the pinned pack still runs.
    let moved = root.join("moved");
    std::fs::rename(&repo, &moved).unwrap();
    let out = project.join("out");
    let ran = runner_in(
        &project,
        None,
        &[
            "run",
            "shop:smoke",
            "-q",
            "--out",
            out.to_str().unwrap(),
            "--speed",
            "50",
        ],
    );
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran));
    assert!(out.join("report.json").is_file());
    std::fs::rename(&moved, &repo).unwrap();

    // Files changed behind the lock: refused, and `pack update` unpacks the pinned files again.
    let checkouts = project.join(".runner-cache/checkouts");
    let module = std::fs::read_dir(&checkouts)
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .map(|c| c.path().join("modules/api.rhai"))
        .next()
        .unwrap();
    std::fs::write(&module, "fn create() { 1 }\n").unwrap();
    refused(
        &project,
        &["check", "shop:smoke"],
        "does not match runner.lock",
    );
    let updated = runner_in(&project, None, &["pack", "update", "shop"]);
    assert_eq!(updated.status.code(), Some(0), "{}", text(&updated));
    assert!(text(&updated).contains("unchanged"), "{}", text(&updated));
    let checked = runner_in(&project, None, &["check", "shop:smoke"]);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked));

    // Following the branch moves the pin to v2; a ref that does not exist is refused.
    let follow = runner_in(&project, None, &["pack", "add", &format!("{url}#main")]);
    assert_eq!(follow.status.code(), Some(0), "{}", text(&follow));
    let lock = std::fs::read_to_string(project.join("runner.lock")).unwrap();
    assert!(lock.contains("version = \"0.2.0\""), "{lock}");
    refused(
        &project,
        &["pack", "add", &format!("{url}#nope")],
        "#nope is no tag, branch or commit",
    );

    let removed = runner_in(&project, None, &["pack", "remove", "shop"]);
    assert_eq!(removed.status.code(), Some(0), "{}", text(&removed));
    let toml = std::fs::read_to_string(project.join("runner.toml")).unwrap();
    assert!(!toml.contains("shop"), "{toml}");
    refused(&project, &["check", "shop:smoke"], "no pack named `shop`");
}

#[test]
fn a_folder_pack_is_pinned_by_checksum_and_its_runner_requirement_checked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    two_packs(&root.join("packs"));
    let project = root.join("project");
    std::fs::create_dir(&project).unwrap();
    for pack in ["../packs/lib", "../packs/app"] {
        let added = runner_in(&project, None, &["pack", "add", pack]);
        assert_eq!(added.status.code(), Some(0), "{}", text(&added));
    }
    let listed = text(&runner_in(&project, None, &["pack", "list"]));
    assert!(listed.contains("path+../packs/lib"), "{listed}");
    assert!(listed.contains("sha256:"), "{listed}");
    let checked = runner_in(&project, None, &["check", "app:ping"]);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked));

    // Editing a pinned folder is refused until the change is pinned.
    write(
        &root.join("packs/lib/modules/steps.rhai"),
        "fn ping() { get(\"/\").name(\"ping\") }\n",
    );
    refused(&project, &["check", "app:ping"], "pack `lib`");
    refused(
        &project,
        &["check", "app:ping"],
        "does not match runner.lock",
    );
    let updated = runner_in(&project, None, &["pack", "update"]);
    assert_eq!(updated.status.code(), Some(0), "{}", text(&updated));
    assert!(
        text(&updated).contains("lib 1.0.0 checksum"),
        "{}",
        text(&updated)
    );
    let checked = runner_in(&project, None, &["check", "app:ping"]);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked));

    write(&root.join("future/pack.toml"), &manifest("future", ">=99"));
    refused(
        &project,
        &["pack", "add", "../future"],
        "pack `future` needs runner >=99",
    );
    refused(
        &project,
        &["pack", "add", "../nothing"],
        "no pack.toml in that folder",
    );
    refused(
        &project,
        &["pack", "remove", "ghost"],
        "no pack named `ghost`",
    );
}

/// `population` and the per-step request counts of a run's report.json.
fn outcome(out_dir: &Path) -> (serde_json::Value, Vec<(String, u64)>) {
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    let steps = report["steps"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v["count"].as_u64().unwrap()))
        .collect();
    (report["population"].clone(), steps)
}

#[test]
fn an_archive_runs_from_an_empty_folder_with_the_same_plan_and_result() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let packs = root.join("packs");
    two_packs(&packs);
    write(&packs.join("app/data/names.csv"), "name\nada\nbob\n");
    write(
        &packs.join("app/labels.rhai"),
        "import \"lib/steps\" as steps;\n\
         let s = scenario(\"labels\");\ns.description(\"Labels from a data file\");\n\
         s.target(param(\"api.baseUrl\", \"builtin:orders\"));\n\
         s.payload(|n| #{ orderNumber: row(data(\"names.csv\"), n).name + n });\n\
         s.population(#{ total: param(\"app.requests\", 1), mix: #{ ping: \"rest\" } });\n\
         s.flow(\"ping\", [steps::ping()]);\ns\n",
    );
    let packs_arg = packs.to_str().unwrap();
    let given = [
        "--profile",
        "more",
        "--seed",
        "3",
        "--set",
        "app.requests=4",
    ];
    let with = |head: &[&str]| -> Vec<String> {
        head.iter().chain(&given).map(|s| s.to_string()).collect()
    };
    let run = |dir: &Path, args: &[String]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        runner_in(dir, None, &args)
    };

    let made = run(
        root,
        &with(&[
            "archive",
            "app:labels",
            "--pack-path",
            packs_arg,
            "-o",
            "bundle.tar.gz",
        ]),
    );
    assert_eq!(made.status.code(), Some(0), "{}", text(&made));
    let listing = text(&made);
    for part in [
        "modules/steps.rhai",
        "data/names.csv",
        "app/pack.toml",
        "lib/pack.toml",
    ] {
        assert!(listing.contains(part), "{part} missing:\n{listing}");
    }

    let source = run(
        root,
        &with(&["check", "app:labels", "--pack-path", packs_arg]),
    );
    assert_eq!(source.status.code(), Some(0), "{}", text(&source));
    let source_plan = String::from_utf8_lossy(&source.stdout);
    let source_plan = source_plan.rsplit_once("\nok: ").unwrap().0;
    let source_run = run(
        root,
        &with(&[
            "run",
            "app:labels",
            "--pack-path",
            packs_arg,
            "-q",
            "--out",
            "source",
        ]),
    );
    assert_eq!(source_run.status.code(), Some(0), "{}", text(&source_run));

    // An empty folder elsewhere: no packs, no runner.toml, only the bundle.
    let empty = root.join("elsewhere");
    std::fs::create_dir(&empty).unwrap();
    std::fs::copy(root.join("bundle.tar.gz"), empty.join("bundle.tar.gz")).unwrap();
    std::fs::remove_dir_all(&packs).unwrap();
    let checked = runner_in(&empty, None, &["check", "bundle.tar.gz"]);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked));
    let shown = String::from_utf8_lossy(&checked.stdout);
    assert!(shown.contains("pack      lib 1.0.0"), "{shown}");
    assert!(shown.contains("--set app.requests=4"), "{shown}");
    assert!(
        shown.contains(source_plan),
        "plans differ:\n{source_plan}\n---\n{shown}"
    );
    assert!(shown.contains("population  4 orders"), "{shown}");

    // Files edited in the unpacked copy are replaced from the bundle.
    let unpacked = empty.join(".runner-cache/bundles");
    let copy = std::fs::read_dir(&unpacked)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(copy.join("packs/app/data/names.csv"), "name\nmallory\n").unwrap();
    let again = runner_in(&empty, None, &["check", "bundle.tar.gz"]);
    assert_eq!(String::from_utf8_lossy(&again.stdout), shown);

    let ran = runner_in(
        &empty,
        None,
        &["run", "bundle.tar.gz", "-q", "--out", "out"],
    );
    assert_eq!(ran.status.code(), Some(0), "{}", text(&ran));
    let bundled = outcome(&empty.join("out"));
    assert_eq!(bundled.0["total"], 4, "{:?}", bundled.0);
    assert_eq!(bundled, outcome(&root.join("source")));

    // A bundle changed after it was made is refused before anything runs.
    let bytes = std::fs::read(empty.join("bundle.tar.gz")).unwrap();
    std::fs::write(empty.join("broken.tar.gz"), &bytes[..bytes.len() / 2]).unwrap();
    refused(&empty, &["check", "broken.tar.gz"], "bundle broken.tar.gz");
}
