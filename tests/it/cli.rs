//! Exit codes and diagnostics of the real binary.

use crate::util::{day_in_life, runner_sync, script, stderr_flat, text};

#[test]
fn a_syntax_error_exits_2_and_shows_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "broken.rhai",
        "let s = scenario(\"x\");\ns.population(#{ total: 5 ;\ns\n",
    );
    let out = runner_sync(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.rhai:2:"), "{err}");
    assert!(
        err.contains("s.population(#{ total: 5 ;"),
        "the offending line is shown: {err}"
    );
}

#[test]
fn a_runtime_error_in_the_script_points_at_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "bad.rhai",
        "let s = scenario(\"x\");\ns.flow(\"a\", [pause(\"5 parsecs\")]);\ns\n",
    );
    let out = runner_sync(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.rhai:2:"), "{err}");
    assert!(err.contains("invalid duration"), "{err}");
}

#[test]
fn a_runaway_loop_is_stopped_by_the_operation_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), "loop.rhai", "let n = 0;\nloop { n += 1; }\n");
    let out = runner_sync(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Too many operations"),
        "{}",
        text(&out)
    );
}

#[test]
fn scripts_cannot_reach_files_or_eval() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), "eval.rhai", "eval(\"1\")\n");
    let out = runner_sync(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let path = script(dir.path(), "file.rhai", "import \"/etc/passwd\" as p;\n");
    let out = runner_sync(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not found"),
        "{}",
        text(&out)
    );
}

#[test]
fn an_activated_count_above_the_total_exits_2_naming_the_keys() {
    let out = runner_sync(&[
        "check",
        day_in_life().to_str().unwrap(),
        "--set",
        "simulation.totalOrders=10",
        "--set",
        "simulation.activatedCount=11",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("simulation.activatedCount"), "{err}");
}

#[test]
fn a_misspelt_key_exits_2_with_the_closest_known_key() {
    let out = runner_sync(&[
        "check",
        day_in_life().to_str().unwrap(),
        "--set",
        "simulation.batchSise=3",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr_flat(&out).contains("did you mean `simulation.batchSize`"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_bad_duration_in_a_config_file_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, "[intervals]\nbetweenGetPolls = \"often\"\n").unwrap();
    let out = runner_sync(&[
        "check",
        day_in_life().to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("intervals.betweenGetPolls") && err.contains("duration"),
        "{err}"
    );
}

#[test]
fn a_bad_url_is_refused_before_anything_is_sent() {
    for url in ["ftp://127.0.0.1", "not a url", "http://"] {
        let out = runner_sync(&[day_in_life().to_str().unwrap(), "--target", url]);
        assert_eq!(out.status.code(), Some(2), "{url}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("target"),
            "{url}: {}",
            text(&out)
        );
    }
}

#[test]
fn check_prints_flows_population_and_batches() {
    let out = runner_sync(&["check", day_in_life().to_str().unwrap(), "--speed", "10"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "population  200 orders",
        "activate     170",
        "accepted     30",
        "11 batches, up to 5 in parallel",
        "flow activate",
        "poll poll_accepted",
        "cleanup after 6s",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }
}

#[test]
fn a_missing_script_and_a_bad_flag_exit_2() {
    let out = runner_sync(&["run", "/nonexistent/x.rhai"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot read script"),
        "{}",
        text(&out)
    );
    let out = runner_sync(&["run", day_in_life().to_str().unwrap(), "--speed", "fast"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn a_dry_run_prints_the_layout_and_timeline_and_sends_nothing() {
    // Nothing listens on port 1: a dry run must not notice.
    let out = runner_sync(&[
        day_in_life().to_str().unwrap(),
        "--dry-run",
        "--target",
        "http://127.0.0.1:1",
        "--speed",
        "100",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "population  200 orders",
        "planned timeline",
        "batch #0",
        "estimated total: about",
        "dry run: nothing was sent",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in\n{stdout}");
    }
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("runner: day_in_life"),
        "no run started: {}",
        text(&out)
    );
}

#[test]
fn old_script_names_still_work_for_one_release_and_warn_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::util::script(
        dir.path(),
        "old.rhai",
        r#"let s = scenario("old");
s.target("http://127.0.0.1:9");
let n = s.option("users", 2, "How many");
let browse = action(#{ name: "browse", category: "read", steps: [get("/x/{type}").name("browse")] });
s.population(#{ total: n, mix: #{ a: "rest" } });
s.flow("a", [choose(#{ requests: [1, 1], actions: [browse] })]);
s
"#,
    );
    let path = path.to_str().unwrap();
    let out = runner_sync(&[
        "check",
        path,
        "--set",
        "option.users=3",
        "--threshold",
        "orders.total >= 1",
        "--threshold",
        "polls_per_order.max < 100",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = stderr_flat(&out);
    for warning in [
        "old.rhai:3: s.option(name, default, description) is deprecated; use param(name, default, description)",
        "old.rhai:6: choose(#{…}) is deprecated; use journey(#{…})",
        "`option.users` (from --set) is deprecated",
        "step `browse`: the template variable {type} is deprecated; use {flow}",
        "threshold metric `orders.total` is deprecated; use `population.total`",
        "threshold metric `polls_per_order` is deprecated; use `polls`",
    ] {
        assert!(err.contains(warning), "{warning:?} missing from\n{err}");
    }
    // The old forms do what they did: `option.users` sets the declared `users`.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("population  3 orders"),
        "{}",
        text(&out)
    );
    // The new names warn about nothing.
    let new = std::fs::read_to_string(path)
        .unwrap()
        .replace("s.option(", "param(")
        .replace("choose(", "journey(")
        .replace("{type}", "{flow}");
    let path = crate::util::script(dir.path(), "new.rhai", &new);
    let out = runner_sync(&[
        "check",
        path.to_str().unwrap(),
        "--users",
        "3",
        "--threshold",
        "population.total >= 1",
        "--threshold",
        "polls.max < 100",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!stderr_flat(&out).contains("deprecated"), "{}", text(&out));
}

#[test]
fn threads_are_a_count_of_one_or_more() {
    let script = day_in_life();
    let script = script.to_str().unwrap();
    let run = runner_sync(&[
        script,
        "--threads",
        "1",
        "--speed",
        "1000",
        "--set",
        "simulation.totalOrders=10",
        "--set",
        "simulation.activatedCount=5",
        "-q",
    ]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let zero = runner_sync(&["check", script, "--threads", "0"]);
    assert_eq!(zero.status.code(), Some(2), "{}", text(&zero));
    assert!(
        stderr_flat(&zero).contains("invalid value '0' for '--threads <N>'"),
        "{}",
        text(&zero)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_terminal_pipe_does_not_stop_the_run_or_its_cleanup() {
    use tokio::io::AsyncBufReadExt;
    let out = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .arg(day_in_life())
        .args(["--speed", "200", "--set", "simulation.totalOrders=40"])
        .args([
            "--set",
            "simulation.activatedCount=30",
            "--set",
            "thresholds.createP95=60s",
        ])
        .arg("--out")
        .arg(out.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // `runner … 2>&1 | head -1`: the first line is read, then both pipes close.
    let stderr = child.stderr.take().unwrap();
    let mut first = String::new();
    tokio::io::BufReader::new(stderr)
        .read_line(&mut first)
        .await
        .unwrap();
    assert!(first.starts_with("runner: day_in_life"), "{first}");
    drop(child.stdout.take());
    let status = tokio::time::timeout(std::time::Duration::from_secs(120), child.wait())
        .await
        .expect("runner finishes")
        .unwrap();
    assert_eq!(status.code(), Some(0), "no panic on a closed pipe");
    let report = crate::util::read_report(out.path());
    assert_eq!(report["passed"], true);
    assert_eq!(report["population"]["stranded"], 0);
}

#[test]
fn global_options_may_come_before_the_script_or_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::util::script(
        dir.path(),
        "first.rhai",
        r#"let s = scenario("first");
s.target("http://127.0.0.1:1");
s.population(#{ total: 3, mix: #{ a: "rest" } });
s.flow("a", [get("/x").name("x")]);
s"#,
    );
    let script = path.to_str().unwrap();
    for args in [
        vec!["--threads", "1", script, "--dry-run"],
        vec!["--log-level=warn", "--threads", "1", script, "--dry-run"],
        vec!["--threads", "1", "run", script, "--dry-run"],
        vec!["--threads", "1", "check", script],
    ] {
        let out = runner_sync(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("scenario  first"),
            "{args:?}: {}",
            text(&out)
        );
    }
}
