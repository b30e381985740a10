//! Run-wide stages: setup before the first order, barriers (`phase()`) that
//! every order reaches before any goes on, once-steps at a barrier, teardown
//! after every cleanup; their captures read by every order.

use crate::util::{read_report, runner, script, stderr_flat, text};

const PHASED: &str = r#"let s = scenario("phases");
s.target("builtin:orders");
s.population(#{ total: 6, mix: #{ a: "rest" } });
s.batches(#{ size: 2, parallel: 2 });
s.payload(|n| #{ orderNumber: "PH-" + n });
s.setup([get("/stats").name("before").capture("before", "total")]);
s.flow("a", [
  post("/operation/payload").name("create").send_payload().expect(202).capture("orderId", "id"),
  phase("process", [get("/stats").name("count").capture("created", "total")
      .check(#{ field: "total", equals: 6 }, #{ fail: true })]),
  get("/details").name("details").query("orderId", "{orderId}").query("seen", "{created}")
      .query("before", "{before}").expect(200),
]);
s.cleanup("a", #{ after: "0s", steps: [post("/cancel").name("cancel").json(#{ orderId: "{orderId}" }).expect(200).marks("Cancelled")], timeout: "10s", every: "100ms" });
s.teardown([get("/stats").name("after").check(#{ field: "by_status.Cancelled", equals: 6 }, #{ fail: true })]);
s
"#;

/// The names of report.json's run-wide stages, in order.
fn stage_names(report: &serde_json::Value) -> Vec<&str> {
    report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect()
}

/// The `step` column of events.csv, in order.
fn steps_in_order(out: &std::path::Path) -> Vec<(String, String)> {
    let mut reader = csv::Reader::from_path(out.join("events.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (step, path) = (col("step"), col("path"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[step].to_owned(), r[path].to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_barrier_holds_every_order_until_all_reach_it_and_setup_feeds_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), "phases.rhai", PHASED);
    let out = dir.path().join("out");
    let run = runner(&[
        path.to_str().unwrap(),
        "-q",
        "--out",
        out.to_str().unwrap(),
        "--threshold",
        "requests_per_second > 0",
        "--threshold",
        "population_per_second > 0",
        "--threshold",
        "requests_failed == 0",
        "--threshold",
        "requests_retried < 1",
    ])
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let rows = steps_in_order(&out);
    let at = |name: &str| -> Vec<usize> {
        rows.iter()
            .enumerate()
            .filter(|(_, (s, _))| s == name)
            .map(|(i, _)| i)
            .collect()
    };
    let (creates, count, details) = (at("create"), at("count"), at("details"));
    assert_eq!(
        (creates.len(), count.len(), details.len()),
        (6, 1, 6),
        "{rows:?}"
    );
    assert_eq!(at("before"), [0], "setup comes first: {rows:?}");
    assert!(creates.iter().all(|c| *c < count[0]), "{rows:?}");
    assert!(details.iter().all(|d| *d > count[0]), "{rows:?}");
    assert_eq!(*at("after").last().unwrap(), rows.len() - 1, "{rows:?}");
    // Every order read what the phase's once-step and the setup captured.
    for i in details {
        assert!(rows[i].1.ends_with("&seen=6&before=0"), "{}", rows[i].1);
    }
    let report = read_report(&out);
    let stages = stage_names(&report);
    assert_eq!(stages, ["setup", "phase process", "teardown"], "{report}");
    assert_eq!(report["steps"]["count"]["checks"]["passed"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_setup_starts_no_order_and_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let failing = PHASED.replace(
        r#"s.setup([get("/stats").name("before")"#,
        r#"s.setup([get("/stats").name("before").check(#{ status: true, equals: 418 }, #{ fail: true })"#,
    );
    let path = script(dir.path(), "setup.rhai", &failing);
    let out = dir.path().join("out");
    let run = runner(&[path.to_str().unwrap(), "-q", "--out", out.to_str().unwrap()]).await;
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("result: FAIL, setup failed"),
        "{}",
        text(&run)
    );
    let rows = steps_in_order(&out);
    assert_eq!(rows.len(), 1, "only the setup request was sent: {rows:?}");
    let report = read_report(&out);
    assert!(
        report["stages"][0]["failed"]
            .as_str()
            .unwrap()
            .contains("check failed"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misplaced_phases_and_payloads_are_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            PHASED.replace(
                r#"  phase("process", ["#,
                r#"  when(#{ status: true, equals: 202 }, [phase("inner")]),
  phase("process", ["#,
            ),
            "put it among the flow's own steps",
        ),
        (
            PHASED.replace(
                r#"s.setup([get("/stats").name("before")"#,
                r#"s.setup([post("/x").name("before").send_payload()"#,
            ),
            "run-wide steps have no order",
        ),
        (
            PHASED
                .replace(
                    r#"s.cleanup("a""#,
                    r#"s.flow("b", [phase("other"), get("/stats").name("b")]);
s.cleanup("a""#,
                )
                .replace("mix: #{ a: \"rest\" }", "mix: #{ a: 1, b: \"rest\" }"),
            "flow `a` calls phase 1 `process`",
        ),
    ];
    for (i, (text_, expected)) in cases.iter().enumerate() {
        let path = script(dir.path(), &format!("bad{i}.rhai"), text_);
        let out = runner(&["check", path.to_str().unwrap()]).await;
        assert_eq!(out.status.code(), Some(2), "case {i}: {}", text(&out));
        assert!(
            stderr_flat(&out).contains(expected),
            "case {i}: {expected:?}\n{}",
            text(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_waiting_at_a_barrier_whose_once_steps_fail_fail_and_are_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let failing = PHASED.replace(
        r#"phase("process", [get("/stats").name("count")"#,
        r#"phase("process", [get("/nope").name("count")"#,
    );
    let path = script(dir.path(), "once.rhai", &failing);
    let out = dir.path().join("out");
    let run = runner(&[path.to_str().unwrap(), "-q", "--out", out.to_str().unwrap()]).await;
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let report = read_report(&out);
    assert_eq!(report["population"]["failed"], 6, "{report}");
    assert_eq!(report["population"]["stranded"], 0, "{report}");
    assert_eq!(report["population"]["by_state"]["Cancelled"], 6, "{report}");
    assert_eq!(report["failed"][0]["step"], "phase process", "{report}");
    let rows = steps_in_order(&out);
    assert!(rows.iter().all(|(s, _)| s != "details"), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_and_checks_read_payload_fields_no_request_uses() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "payload.rhai",
        r#"let s = scenario("payload");
s.target("builtin:orders");
s.population(#{ total: 2, mix: #{ a: "rest" } });
s.payload(|n| #{ orderNumber: "PV-" + n, target: "Pending", vip: n == 1 });
s.flow("a", [
  post("/operation/payload").name("create").send_payload().expect(202).capture("orderId", "id")
      .check(#{ variable: "target", equals: "Pending" }),
  when(#{ variable: "vip", equals: true }, [get("/stats").name("vip_only")]),
]);
s.cleanup("a", #{ after: "0s", steps: [post("/cancel").name("cancel").json(#{ orderId: "{orderId}" }).expect(200).marks("Cancelled")], timeout: "10s", every: "100ms" });
s
"#,
    );
    let out = dir.path().join("out");
    let run = runner(&[path.to_str().unwrap(), "-q", "--out", out.to_str().unwrap()]).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = read_report(&out);
    assert_eq!(report["steps"]["create"]["checks"]["passed"], 2, "{report}");
    assert_eq!(report["steps"]["vip_only"]["count"], 1, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_ctrl_c_teardown_still_undoes_what_setup_made() {
    let (target, book) = crate::util::start_orders(0.0).await;
    let dir = tempfile::tempdir().unwrap();
    let path = script(
        dir.path(),
        "undo.rhai",
        r#"let s = scenario("undo");
s.population(#{ total: 4, mix: #{ a: "rest" } });
s.batches(#{ size: 1, parallel: 4 });
s.payload(|n| #{ orderNumber: "UNDO-" + n });
s.setup([post("/operation/payload").name("reference").json(#{ orderNumber: "REF-1" }).expect(202).capture("ref", "id")]);
s.flow("a", [
  post("/operation/payload").name("create").send_payload().expect(202).capture("orderId", "id"),
  pause("60s"),
]);
s.cleanup("a", #{ after: "0s", steps: [post("/cancel").name("cancel").json(#{ orderId: "{orderId}" }).expect(200).marks("Cancelled")], timeout: "10s", every: "100ms" });
s.teardown([post("/cancel").name("unref").json(#{ orderId: "{ref}" }).expect(200)]);
s
"#,
    );
    let out = dir.path().join("out");
    // Once the reference order and the four orders exist, every flow is in its pause.
    let args = [path.to_str().unwrap(), "-q", "--target", &target.url];
    let out_args = ["--out", out.to_str().unwrap()];
    let all: Vec<&str> = args.iter().chain(&out_args).copied().collect();
    let run = crate::util::interrupted_at(&all, &book, 5).await;
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let stats = book.stats();
    assert_eq!(stats.total, 5);
    assert_eq!(
        stats.by_status.terminal(),
        5,
        "the orders and the reference order are undone: {stats:?}"
    );
    let report = read_report(&out);
    let stages = stage_names(&report);
    assert_eq!(stages, ["setup", "teardown"], "{}", text(&run));
    assert_eq!(report["stages"][1]["failed"], serde_json::Value::Null);
    target.stop().await;
}
