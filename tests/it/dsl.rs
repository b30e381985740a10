//! Script features for systems runner was not designed with, end to end
//! against the built-in target: header, status and either-or captures.

use crate::util::{runner, script, text};

/// A scenario of two orders (numbered `PREFIX-n`) on the built-in target,
/// walking `steps` and cancelled by cleanup.
fn two_orders_cancelled(name: &str, prefix: &str, steps: &str) -> String {
    format!(
        r#"let s = scenario("{name}");
s.target("builtin:orders");
s.population(#{{ total: 2, mix: #{{ a: "rest" }} }});
s.payload(|n| #{{ orderNumber: "{prefix}-" + n }});
s.flow("a", [
{steps}
]);
s.cleanup("a", #{{ after: "0s", steps: [post("/cancel").name("cancel").json(#{{ orderId: "{{orderId}}" }}).expect(200).marks("Cancelled")], timeout: "10s", every: "100ms" }});
s
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_read_headers_the_status_and_the_first_matching_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "captures.rhai",
        r#"let s = scenario("captures");
s.target("builtin:orders");
s.population(#{ total: 1, mix: #{ a: "rest" } });
s.flow("a", [
  get("/stats").name("stats").capture_header("ct", "Content-Type").capture_status("code")
      .capture("total", "missing.field | total"),
  get("/details").name("echo").query("orderId", "none").query("ct", "{ct}")
      .query("code", "{code}").query("total", "{total}").expect(404),
  get("/stats").name("nohdr").capture_header("x", "X-Nope"),
]);
s
"#,
    );
    let out = dir.path().join("out");
    let run = runner(&[path.to_str().unwrap(), "-q", "--out", out.to_str().unwrap()]).await;
    // The last step fails on purpose: the header is not there.
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let events = std::fs::read_to_string(out.join("events.csv")).unwrap();
    assert!(
        events.contains("/details?orderId=none&ct=application/json&code=200&total=0,404"),
        "{events}"
    );
    let report = crate::util::read_report(&out);
    let failed = &report["failed"][0];
    assert_eq!(failed["step"], "nohdr", "{report}");
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .starts_with("capture `x`: no `header x-nope` in response"),
        "{failed}"
    );
}

#[test]
fn env_is_read_at_load_time_typed_by_its_default_and_shown_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "env.rhai",
        r#"let s = scenario("env");
s.target(env("RUNNER_TEST_URL", "http://127.0.0.1:9"));
s.population(#{ total: env("RUNNER_TEST_ORDERS", 2), mix: #{ a: "rest" } });
let token = env("RUNNER_TEST_TOKEN", "none");
s.flow("a", [get("/stats").header("Authorization", "Bearer " + token)]);
s
"#,
    );
    let check = |vars: &[(&str, &str)]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
            .args(["check", path.to_str().unwrap()])
            .env_remove("RUNNER_TEST_URL")
            .envs(vars.iter().copied())
            .output()
            .unwrap()
    };
    let out = check(&[("RUNNER_TEST_ORDERS", "3"), ("RUNNER_TEST_TOKEN", "s3cr3t")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    for line in [
        "env       RUNNER_TEST_URL = unset, the script's default is used",
        "env       RUNNER_TEST_ORDERS = \"3\"",
        "env       RUNNER_TEST_TOKEN = set (hidden)",
        "population  3 orders",
    ] {
        assert!(shown.contains(line), "{line:?} missing from\n{shown}");
    }
    assert!(!shown.contains("s3cr3t"), "{shown}");
    let bad = check(&[("RUNNER_TEST_ORDERS", "many")]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(
        crate::util::stderr_flat(&bad).contains(
            "environment variable `RUNNER_TEST_ORDERS`: expected an integer (the script's default is 2), got many"
        ),
        "{}",
        text(&bad)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branches_loops_and_set_steer_each_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "control.rhai",
        &two_orders_cancelled(
            "control",
            "C",
            r#"  post("/operation/payload").name("create").send_payload().expect(202).capture("orderId", "id").state_from("status"),
  set("double", |ctx| ctx.vars.n * 2),
  when(#{ variable: "double", equals: 2 }, [get("/stats").name("first")], [get("/stats").name("second")]),
  repeat_until(#{ field: "status", equals: "Accepted" },
      [pause("10ms"), get("/details").name("look").query("orderId", "{orderId}").state_from("status")],
      #{ max: 5000, timeout: "20s" }),
  // Both look at the last response, the details of the accepted order,
  // after a pause (which lets its parsed document go: it is read again).
  pause("10ms"),
  when(#{ field: "id", equals: "{orderId}" }, [get("/stats").name("templated_ok")]),
  when(|ctx| ctx.status == 200 && ctx.response.total >= 1, [get("/stats").name("closure_ok")]),
  set("ids", |ctx| ["a", "b", "c"]),
  for_each("ids", "x", [get("/details").name("each").query("orderId", "{x}").expect(404)]),
  repeat(2, [get("/stats").name("twice")]),
  repeat_while(#{ variable: "double", gt: 100 }, [get("/stats").name("never")]),"#,
        ),
    );
    let out = dir.path().join("out");
    let run = runner(&[
        path.to_str().unwrap(),
        "--speed",
        "20",
        "-q",
        "--out",
        out.to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = crate::util::read_report(&out);
    let count = |step: &str| report["steps"][step]["count"].as_u64().unwrap_or(0);
    // Order 1 doubles to 2 and takes `first`, order 2 takes `second`.
    assert_eq!((count("first"), count("second")), (1, 1), "{report}");
    assert!(count("look") >= 2, "{report}");
    assert_eq!(count("closure_ok"), 2, "{report}");
    assert_eq!(count("templated_ok"), 2, "{report}");
    assert_eq!(count("each"), 6, "{report}");
    assert_eq!(count("twice"), 4, "{report}");
    assert_eq!(count("never"), 0, "{report}");
    assert_eq!(report["population"]["cancelled"], 2, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_that_never_ends_and_a_list_that_is_not_one_fail_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "bad.rhai",
        r#"let s = scenario("bad");
s.target("builtin:orders");
s.population(#{ total: 2, mix: #{ spin: 1, list: 1 } });
s.flow("spin", [repeat_until(#{ status: true, equals: 999 }, [get("/stats").name("spin")], #{ max: 3 })]);
s.flow("list", [set("x", |ctx| 5), for_each("x", "i", [get("/stats")])]);
s
"#,
    );
    let out = dir.path().join("out");
    let run = runner(&[path.to_str().unwrap(), "-q", "--out", out.to_str().unwrap()]).await;
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let report = crate::util::read_report(&out);
    let reasons: Vec<String> = report["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{}: {}",
                f["step"].as_str().unwrap(),
                f["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        reasons.contains(
            &"repeat: repeat: the condition still did not hold after 3 rounds".to_owned()
        ),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"for_each: for_each: `x` is not an array but 5".to_owned()),
        "{reasons:?}"
    );
    assert_eq!(report["steps"]["spin"]["count"], 3, "{report}");
}

#[test]
fn malformed_conditions_are_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    for (cond, expected) in [
        (
            r#"#{ variable: "x", equals: 1, gt: 2 }"#,
            "give exactly one test",
        ),
        (
            r#"#{ equals: 1 }"#,
            "looks at exactly one of `variable`, `field`",
        ),
        (
            r#"#{ variable: "x", equal: 1 }"#,
            "unknown option `equal` (did you mean `equals`?)",
        ),
        (r#""yes""#, "expected a closure |ctx| … or a map"),
        (
            r#"#{ field: "id", equals: "{nope}" }"#,
            "{nope} is not set before this condition",
        ),
        (
            r#"#{ variable: "itemz", gt: 1 }"#,
            "variable `itemz` is never set before this condition (a typo?)",
        ),
    ] {
        let path = script(
            dir.path(),
            "cond.rhai",
            &format!(
                "let s = scenario(\"c\");\ns.target(\"http://127.0.0.1:9\");\n\
                 s.population(#{{ total: 1, mix: #{{ a: 1 }} }});\n\
                 s.flow(\"a\", [when({cond}, [get(\"/x\")])]);\ns\n"
            ),
        );
        let out = crate::util::runner_sync(&["check", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{cond}: {}", text(&out));
        assert!(
            crate::util::stderr_flat(&out).contains(expected),
            "{cond}: {expected:?}\n{}",
            text(&out)
        );
    }
}

#[test]
fn data_files_feed_the_payload_from_the_pack_and_nowhere_else() {
    use std::sync::Arc;

    use runner::config::Params;
    use runner::pack::{Packs, Search};
    use runner::plan::{self, Options};

    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("shop");
    std::fs::create_dir_all(pack.join("data")).unwrap();
    std::fs::write(
        pack.join("pack.toml"),
        "[pack]\nname = \"shop\"\nversion = \"1.0.0\"\nrunner = \"*\"\n",
    )
    .unwrap();
    std::fs::write(
        pack.join("data/customers.csv"),
        "name,tier,zip\nAda,1,007\nBob,2,10\nCyd,3,0\n",
    )
    .unwrap();
    std::fs::write(
        pack.join("data/items.json"),
        r#"[{"sku": "A-1"}, {"sku": "B-2"}]"#,
    )
    .unwrap();
    let path = script(
        &pack,
        "buy.rhai",
        r#"let customers = data("customers.csv");
let items = data("items.json");
let s = scenario("buy");
s.target("http://127.0.0.1:9");
s.payload(|n| #{ customer: row(customers, n).name, tier: row(customers, n).tier, zip: row(customers, n).zip,
                 sku: random_row(items, n).sku });
s.population(#{ total: 4, mix: #{ a: "rest" } });
s.flow("a", [post("/buy").send_payload()]);
s
"#,
    );
    let params = Arc::new(Params::default());
    let search = Search {
        scenario_dir: Some(pack.clone()),
        ..Search::default()
    };
    let packs = Arc::new(Packs::discover(&search).unwrap());
    let loaded = runner::script::load(&path, params.clone(), packs).unwrap();
    let plan = plan::compile(&loaded.spec, loaded.runtime, &params, &Options::default()).unwrap();
    let mut by_n: Vec<(u32, serde_json::Value)> = plan
        .orders
        .iter()
        .map(|o| (o.n, serde_json::from_slice(&plan.arena.payload(o)).unwrap()))
        .collect();
    by_n.sort_by_key(|(n, _)| *n);
    // Round-robin by sequence number; CSV numbers typed; JSON rows picked by n.
    let customers: Vec<&str> = by_n
        .iter()
        .map(|(_, p)| p["customer"].as_str().unwrap())
        .collect();
    assert_eq!(customers, ["Ada", "Bob", "Cyd", "Ada"]);
    assert_eq!(by_n[1].1["tier"], 2);
    // Text with a leading zero stays text; other numbers are numbers.
    let zips: Vec<&serde_json::Value> = by_n.iter().map(|(_, p)| &p["zip"]).collect();
    assert_eq!(
        zips,
        [
            &serde_json::json!("007"),
            &serde_json::json!(10),
            &serde_json::json!(0),
            &serde_json::json!("007")
        ]
    );
    assert!(
        by_n.iter()
            .all(|(_, p)| ["A-1", "B-2"].contains(&p["sku"].as_str().unwrap()))
    );

    // An empty list is an error, not a crash.
    let empty = script(&pack, "empty.rhai", "row([], 1);\n");
    let out = crate::util::runner_sync(&["check", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        crate::util::stderr_flat(&out).contains("row(list, 1): the list is empty"),
        "{}",
        text(&out)
    );

    // An empty list is an error, not a crash.
    let empty = script(&pack, "empty.rhai", "row([], 1);\n");
    let out = crate::util::runner_sync(&["check", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        crate::util::stderr_flat(&out).contains("row(list, 1): the list is empty"),
        "{}",
        text(&out)
    );

    // Outside the scenario's folder and its pack: refused, nothing read.
    std::fs::write(dir.path().join("secret.csv"), "a\n1\n").unwrap();
    for (name, expected) in [
        ("../secret.csv", "by a relative name without `..`"),
        ("/etc/hostname", "by a relative name without `..`"),
        ("nope.csv", "no such file in"),
    ] {
        let bad = script(&pack, "bad.rhai", &format!("data({name:?});\n"));
        let out = crate::util::runner_sync(&["check", bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        assert!(
            crate::util::stderr_flat(&out).contains(expected),
            "{name}: {}",
            text(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_are_counted_per_step_reported_thresholded_and_fail_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "checks.rhai",
        r#"let s = scenario("checks");
s.target("builtin:orders");
s.population(#{ total: 2, mix: #{ soft: 1, hard: 1 } });
s.flow("soft", [get("/stats").name("stats")
    .check(#{ field: "total", ge: 0 })
    .check(#{ status: true, equals: 201 })
    .check(|ctx| ctx.response.by_status.Pending >= 0)]);
s.flow("hard", [get("/stats").name("strict").check(#{ field: "nope", exists: true }, #{ fail: true })]);
s.threshold("checks(stats) > 60%");
s.threshold("checks < 60%");
s
"#,
    );
    let out = dir.path().join("out");
    let run = runner(&[path.to_str().unwrap(), "-q", "--out", out.to_str().unwrap()]).await;
    // The `hard` order fails on its check; the thresholds hold.
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    for part in ["checks   50.00% held  (", "stats 2/3", "strict 0/1"] {
        assert!(stdout.contains(part), "{part:?} missing from\n{stdout}");
    }
    let report = crate::util::read_report(&out);
    assert_eq!(
        report["steps"]["stats"]["checks"],
        serde_json::json!({"passed": 2, "failed": 1})
    );
    assert_eq!(report["checks"]["rate"], 0.5, "{report}");
    assert!(
        report["thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["passed"] == true),
        "{report}"
    );
    let failed = &report["failed"][0];
    assert_eq!(
        (failed["flow"].as_str(), failed["step"].as_str()),
        (Some("hard"), Some("strict"))
    );
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .starts_with("check failed: response nope exists in response"),
        "{failed}"
    );
    assert_eq!(
        report["steps"]["strict"]["outcomes"]["check_failed"], 1,
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_can_accept_a_share_of_failed_orders() {
    // A fifth of creates fail with 500 and nothing is retried.
    let (target, _book) = crate::util::start_orders(0.2).await;
    let dir = tempfile::tempdir().unwrap();
    let body = |accept: &str| {
        format!(
            r#"let s = scenario("stress");
s.target("{}");
s.http(#{{ retries: 0 }});
s.population(#{{ total: 40, mix: #{{ a: "rest" }} }});
s.batches(#{{ size: 10, parallel: 4 }});
s.flow("a", [post("/operation/payload").name("create").json(#{{ n: "{{n}}" }}).expect(202).capture("orderId", "id")]);
s.cleanup("a", #{{ after: "0s", steps: [post("/cancel").name("cancel").json(#{{ orderId: "{{orderId}}" }}).expect(200).marks("Cancelled")], timeout: "10s", every: "100ms" }});
{accept}
s.threshold("success_rate > 20%");
s
"#,
            target.url
        )
    };
    let run = |name: &str, accept: &str| {
        let path = script(dir.path(), name, &body(accept));
        let out = dir.path().join(name.replace(".rhai", ""));
        (path, out)
    };
    let (strict, strict_out) = run("strict.rhai", "");
    let strict_run = runner(&[
        strict.to_str().unwrap(),
        "-q",
        "--out",
        strict_out.to_str().unwrap(),
    ])
    .await;
    let report = crate::util::read_report(&strict_out);
    let failed = report["population"]["failed"].as_u64().unwrap();
    assert!(
        failed > 0 && failed < 20,
        "the target failed some creates: {report}"
    );
    assert_eq!(strict_run.status.code(), Some(1), "{}", text(&strict_run));

    let (lenient, lenient_out) = run("lenient.rhai", r#"s.accept_failed("60%");"#);
    let lenient_run = runner(&[
        lenient.to_str().unwrap(),
        "-q",
        "--out",
        lenient_out.to_str().unwrap(),
    ])
    .await;
    assert_eq!(lenient_run.status.code(), Some(0), "{}", text(&lenient_run));
    let report = crate::util::read_report(&lenient_out);
    let failed = report["population"]["failed"].as_u64().unwrap();
    let stdout = String::from_utf8_lossy(&lenient_run.stdout);
    assert!(
        stdout.contains(&format!(
            "result: PASS, {failed} of 40 orders failed, within the accepted 60%"
        )),
        "{stdout}"
    );
    let rate = report["success_rate"].as_f64().unwrap();
    assert!(
        (rate - (40 - failed) as f64 / 40.0).abs() < 1e-9,
        "{report}"
    );
    assert_eq!(report["passed"], true);
    target.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_condition_value_is_filled_in_per_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "poll.rhai",
        &two_orders_cancelled(
            "poll",
            "P",
            r#"  post("/operation/payload").name("create").send_payload().expect(202).capture("orderId", "id"),
  poll(get("/details").name("mine").query("orderId", "{orderId}"), #{ field: "id", equals: "{orderId}", every: "10ms", timeout: "10s" }),"#,
        ),
    );
    let out = dir.path().join("out");
    let run = runner(&[path.to_str().unwrap(), "-q", "--out", out.to_str().unwrap()]).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = crate::util::read_report(&out);
    // Met on the first answer: `{orderId}` was each order's own id, not the text.
    assert_eq!(report["steps"]["mine"]["count"], 2, "{report}");
    let check = crate::util::runner_sync(&["check", path.to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&check.stdout).contains(r#"until id in ["{orderId}"]"#),
        "{}",
        text(&check)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_is_checked_once_on_the_answer_that_meets_its_condition() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "pollcheck.rhai",
        &two_orders_cancelled(
            "pollcheck",
            "Q",
            r#"  post("/operation/payload").name("create").send_payload().expect(202).capture("orderId", "id"),
  poll(get("/details").name("wait").query("orderId", "{orderId}"), #{ field: "status", equals: "Accepted", every: "10ms", timeout: "20s" })
      .check(#{ field: "status", equals: "Accepted" }, #{ fail: true }),"#,
        ),
    );
    let out = dir.path().join("out");
    let run = runner(&[
        path.to_str().unwrap(),
        "--speed",
        "20",
        "-q",
        "--out",
        out.to_str().unwrap(),
    ])
    .await;
    // Pending answers (status Pending) neither fail the check nor count.
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = crate::util::read_report(&out);
    assert!(
        report["steps"]["wait"]["count"].as_u64().unwrap() > 2,
        "{report}"
    );
    assert_eq!(
        report["steps"]["wait"]["checks"],
        serde_json::json!({"passed": 2, "failed": 0})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_check_closure_may_take_the_order_variables_and_wrong_arities_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "vars.rhai",
        &two_orders_cancelled(
            "vars",
            "V",
            r#"  post("/operation/payload").name("create").send_payload().expect(202).capture("orderId", "id"),
  poll(get("/details").name("mine").query("orderId", "{orderId}"), #{ check: |r, vars| r.id == vars.orderId && r.orderNumber == "V-" + vars.n, every: "10ms", timeout: "10s" }),"#,
        ),
    );
    let out = dir.path().join("out");
    let run = runner(&[path.to_str().unwrap(), "-q", "--out", out.to_str().unwrap()]).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = crate::util::read_report(&out);
    assert_eq!(report["steps"]["mine"]["count"], 2, "{report}");

    for (closure, expected) in [
        (
            r#"poll(get("/x"), #{ check: |a, b, c| true })"#,
            "flow `a`, poll.check: the closure takes 3 parameters; write it as",
        ),
        (
            r#"set("x", || 1)"#,
            "flow `a`, set: the closure takes 0 parameters; write it as |ctx| …",
        ),
        (
            r#"when(|a, b| true, [get("/x")])"#,
            "flow `a`, when: the closure takes 2 parameters",
        ),
    ] {
        let bad = script(
            dir.path(),
            "arity.rhai",
            &format!(
                "let s = scenario(\"a\");\ns.target(\"http://127.0.0.1:9\");\n\
                 s.population(#{{ total: 1, mix: #{{ a: 1 }} }});\ns.flow(\"a\", [{closure}]);\ns\n"
            ),
        );
        let out = crate::util::runner_sync(&["check", bad.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{closure}: {}", text(&out));
        assert!(
            crate::util::stderr_flat(&out).contains(expected),
            "{closure}: {}",
            text(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_read_headers_patterns_and_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "headers.rhai",
        r#"let s = scenario("headers");
s.target("builtin:orders");
s.population(#{ total: 1, mix: #{ a: "rest" } });
s.flow("a", [get("/stats").name("stats")
    .check(#{ header: "Content-Type", matches: "^application/json" })
    .check(#{ header: "X-Nope", exists: false })
    .check(#{ length: "by_status", ge: 0 })
    .check(#{ field: "total", matches: "^[0-9]+$" })
    .check(|ctx| ctx.headers["content-type"].starts_with("application/"))
    .check(#{ header: "content-type", matches: "^text/" })]);
s
"#,
    );
    let out = dir.path().join("out");
    let run = runner(&[path.to_str().unwrap(), "-q", "--out", out.to_str().unwrap()]).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = crate::util::read_report(&out);
    assert_eq!(
        report["steps"]["stats"]["checks"],
        serde_json::json!({"passed": 5, "failed": 1}),
        "{report}"
    );

    let bad = script(
        dir.path(),
        "bad_regex.rhai",
        r#"let s = scenario("bad");
s.target("builtin:orders");
s.population(#{ total: 1, mix: #{ a: "rest" } });
s.flow("a", [get("/stats").name("stats").check(#{ header: "server", matches: "([" })]);
s
"#,
    );
    let refused = runner(&["check", bad.to_str().unwrap()]).await;
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        crate::util::stderr_flat(&refused).contains("\"([\" is not a regular expression"),
        "{}",
        text(&refused)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_counters_and_trends_are_reported_and_thresholded() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "custom.rhai",
        r#"let s = scenario("custom");
s.target("builtin:orders");
s.population(#{ total: 4, mix: #{ a: "rest" } });
s.payload(|n| #{ orderNumber: "CU-" + n, items: n * 2 });
s.flow("a", [
  group("place", [
    post("/operation/payload").name("create").send_payload().expect(202).capture("orderId", "id"),
    get("/details").name("details").query("orderId", "{orderId}").expect(200),
  ]),
  counter("orders"),
  counter("items", "{items}"),
  trend("weight", |ctx| ctx.vars.items * 1.5),
]);
s.cleanup("a", #{ after: "0s", steps: [post("/cancel").name("cancel").json(#{ orderId: "{orderId}" }).expect(200).marks("Cancelled")], timeout: "10s", every: "100ms" });
s.threshold("group(place).max < 60s");
s.threshold("counter(items) == 20");
s.threshold("counter(orders) == 4");
s.threshold("trend(weight).max == 12");
s.threshold("trend(weight).mean == 7.5");
s
"#,
    );
    let out = dir.path().join("out");
    let run = runner(&[path.to_str().unwrap(), "-q", "--out", out.to_str().unwrap()]).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    for part in [
        "group ", "place ", "trend ", "weight ", "counter ", "items ",
    ] {
        assert!(stdout.contains(part), "{part:?} missing from\n{stdout}");
    }
    let report = crate::util::read_report(&out);
    assert_eq!(report["groups"][0]["name"], "place", "{report}");
    assert_eq!(report["groups"][0]["duration_ms"]["count"], 4, "{report}");
    assert_eq!(report["counters"]["items"], 20.0, "{report}");
    assert_eq!(report["trends"]["weight"]["max"], 12.0, "{report}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Groups (ms, their steps together)") && html.contains("weight"));

    // A threshold on a metric the run never fed names the ones it has.
    let missing = runner(&[
        path.to_str().unwrap(),
        "-q",
        "--threshold",
        "counter(itemz) > 0",
    ])
    .await;
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    assert!(
        text(&missing).contains(
            "no counter named `itemz` in this run (counters: orders, items); did you mean `items`?"
        ),
        "{}",
        text(&missing)
    );
}

/// A bare HTTP server on 127.0.0.1 that sets cookie `sU=1` on `/login?u=U` and
/// remembers the Cookie header of every request, by path.
async fn cookie_server() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                let target = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                let cookie = head
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("cookie: ")
                            .or_else(|| l.strip_prefix("Cookie: "))
                    })
                    .unwrap_or("")
                    .to_owned();
                let set = match target.split_once("?u=") {
                    Some(("/login", u)) => format!("Set-Cookie: s{u}=1; Path=/\r\n"),
                    _ => String::new(),
                };
                log.lock().unwrap().push((target, cookie));
                let reply = format!(
                    "HTTP/1.1 200 OK\r\n{set}Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
                );
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_order_keeps_its_own_cookies_when_asked() {
    let (url, seen) = cookie_server().await;
    let dir = tempfile::tempdir().unwrap();
    let scenario = |cookies: bool| {
        format!(
            r#"let s = scenario("cookies");
s.target("{url}");
s.cookies({cookies});
s.population(#{{ total: 3, mix: #{{ a: "rest" }} }});
s.flow("a", [get("/login").name("login").query("u", "{{n}}"), get("/me").name("me")]);
s
"#
        )
    };
    let on = script(dir.path(), "on.rhai", &scenario(true));
    let run = runner(&[on.to_str().unwrap(), "-q"]).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let me: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| t == "/me")
        .map(|(_, c)| c.clone())
        .collect();
    let mut me_sorted = me.clone();
    me_sorted.sort();
    // A shared jar would send earlier orders' cookies too.
    assert_eq!(me_sorted, ["s1=1", "s2=1", "s3=1"], "{me:?}");

    seen.lock().unwrap().clear();
    let off = script(dir.path(), "off.rhai", &scenario(false));
    let run = runner(&[off.to_str().unwrap(), "-q"]).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(seen.lock().unwrap().iter().all(|(_, c)| c.is_empty()));
}

/// `attempt(steps)`: a failure inside is counted and ends only the attempt;
/// the flow goes on and the order completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_is_counted_and_the_flow_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "attempt.rhai",
        &two_orders_cancelled(
            "attempt",
            "T",
            r#"  post("/operation/payload").name("create").send_payload().expect(202).capture("orderId", "id"),
  attempt([get("/details").name("missing").query("orderId", "nope").expect(200),
           get("/stats").name("skipped")]),
  get("/stats").name("after"),"#,
        ),
    );
    let out = dir.path().join("out");
    let run = runner(&[path.to_str().unwrap(), "-q", "--out", out.to_str().unwrap()]).await;
    // The failed attempt's requests are errors: the error-rate threshold is not there, so exit 0.
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = crate::util::read_report(&out);
    let count = |step: &str| report["steps"][step]["count"].as_u64().unwrap_or(0);
    assert_eq!(report["steps"]["missing"]["errors"], 2, "{report}");
    assert_eq!((count("skipped"), count("after")), (0, 2), "{report}");
    assert_eq!(report["population"]["failed"], 0, "{report}");
}
