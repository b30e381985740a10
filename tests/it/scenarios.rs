//! The shipped scenario end to end: the real binary against a built-in target
//! on 127.0.0.1, the end state checked from the target's own counters.

use std::collections::{HashMap, HashSet};

use crate::util::{day_in_life, read_report, runner, start_orders, text};

fn read_events(dir: &std::path::Path) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(dir.join("events.csv")).unwrap();
    reader.deserialize().map(Result::unwrap).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn day_in_life_ends_with_every_order_terminal_on_the_target() {
    let (target, book) = start_orders(0.0).await;
    let out = tempfile::tempdir().unwrap();
    let run = runner(&[
        day_in_life().to_str().unwrap(),
        "--target",
        &target.url,
        "--speed",
        "1000",
        "--out",
        out.path().to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));

    let stats = book.stats();
    assert_eq!(stats.total, 200);
    assert_eq!(stats.by_status.ended, 170);
    assert_eq!(stats.by_status.cancelled, 30);

    let report = read_report(out.path());
    let orders = &report["population"];
    assert_eq!(orders["total"], 200);
    assert_eq!(orders["created"], 200);
    assert_eq!(orders["activated"], 170);
    assert_eq!(orders["ended"], 170);
    assert_eq!(orders["cancelled"], 30);
    assert_eq!(orders["failed"], 0);
    assert_eq!(orders["stranded"], 0);
    assert_eq!(report["steps"]["create"]["count"], 200);
    for step in ["create", "poll_accepted", "activate", "end", "cancel"] {
        for key in [
            "count", "errors", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms",
        ] {
            assert!(
                report["steps"][step][key].is_number(),
                "steps.{step}.{key} missing"
            );
        }
    }

    // events.csv agrees with report.json and with the target.
    let events = read_events(out.path());
    assert_eq!(events.len() as u64, report["requests"].as_u64().unwrap());
    let created: HashSet<&str> = events
        .iter()
        .filter(|e| e["step"] == "create" && e["outcome"] == "ok")
        .map(|e| e["id"].as_str())
        .collect();
    assert_eq!(created.len(), 200);
    for id in &created {
        let order = book.get(id).expect("every created id exists on the target");
        assert!(order.status.is_terminal(), "{id} is {:?}", order.status);
    }
    let ends = events
        .iter()
        .filter(|e| e["step"] == "end" && e["status"] == "200")
        .count();
    let cancels = events
        .iter()
        .filter(|e| e["step"] == "cancel" && e["status"] == "200")
        .count();
    assert_eq!((ends, cancels), (170, 30));
    assert!(
        events
            .iter()
            .all(|e| !e["label"].is_empty() && !e["batch"].is_empty())
    );
    target.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_failing_a_fifth_of_creates_still_ends_every_order_terminal() {
    let (target, book) = start_orders(0.2).await;
    let out = tempfile::tempdir().unwrap();
    let run = runner(&[
        day_in_life().to_str().unwrap(),
        "--target",
        &target.url,
        "--speed",
        "1000",
        // Ten retries make a create that fails every time (0.2^11) practically impossible.
        "--set",
        "api.retryMax=10",
        "--out",
        out.path().to_str().unwrap(),
    ])
    .await;
    // Every order ends fine; only the scenario's `error_rate < 1%` threshold fails.
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let stats = book.stats();
    assert_eq!(stats.total, 200);
    assert_eq!(
        (stats.by_status.ended, stats.by_status.cancelled),
        (170, 30)
    );

    let report = read_report(out.path());
    assert_eq!(
        (
            report["population"]["failed"].as_u64(),
            report["population"]["stranded"].as_u64()
        ),
        (Some(0), Some(0))
    );
    let failing: Vec<_> = report["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["passed"] == false)
        .collect();
    assert_eq!(failing.len(), 1, "{failing:?}");
    assert_eq!(failing[0]["expr"], "error_rate < 1%");
    let create = &report["steps"]["create"];
    assert!(
        create["errors"].as_u64().unwrap() > 0,
        "the injected 500s are counted: {create}"
    );
    assert_eq!(create["statuses"]["500"], create["errors"]);
    let retries = read_events(out.path())
        .iter()
        .filter(|e| e["step"] == "create" && e["attempt"] != "1")
        .count();
    assert_eq!(
        retries as u64,
        create["errors"].as_u64().unwrap(),
        "each 500 was retried once more"
    );
    target.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_target_runs_the_scenario_with_no_target_given() {
    let out = tempfile::tempdir().unwrap();
    let run = runner(&[
        "run",
        day_in_life().to_str().unwrap(),
        "--speed",
        "1000",
        "--set",
        "simulation.totalOrders=40",
        "--set",
        "simulation.activatedCount=25",
        "--out",
        out.path().to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        stdout.contains("activated 25  cancelled 15  ended 25  failed 0  stranded 0"),
        "{stdout}"
    );
    let report = read_report(out.path());
    assert_eq!(
        report["population"]["by_state"],
        serde_json::json!({"Ended": 25, "Cancelled": 15})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_target_is_retried_counted_and_reported() {
    // Bind and drop a listener to get a local port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let run = runner(&[
        day_in_life().to_str().unwrap(),
        "--target",
        &url,
        "--speed",
        "1000",
        "--set",
        "simulation.totalOrders=3",
        "--set",
        "simulation.activatedCount=2",
        "--set",
        "api.retryMax=2",
        "--out",
        out.path().to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let report = read_report(out.path());
    assert_eq!(report["population"]["failed"], 3);
    assert_eq!(report["population"]["created"], 0);
    assert_eq!(
        report["steps"]["create"]["count"], 9,
        "3 orders × (1 try + 2 retries)"
    );
    assert_eq!(report["steps"]["create"]["outcomes"]["connect"], 9);
    assert!(
        report["failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("after 3 attempts")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_run_cleans_up_every_created_order_and_writes_reports() {
    let (target, book) = start_orders(0.0).await;
    let out = tempfile::tempdir().unwrap();
    // At speed 20 the full run takes minutes, so the interrupt lands mid-run.
    let script = day_in_life();
    let args = [
        script.to_str().unwrap(),
        "--target",
        &target.url,
        "--speed",
        "20",
        "--out",
        out.path().to_str().unwrap(),
    ];
    let run = crate::util::interrupted_at(&args, &book, 10).await;
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));

    let stats = book.stats();
    let report = read_report(out.path());
    assert_eq!(report["interrupted"], true);
    assert_eq!(
        report["population"]["created"], stats.total,
        "every order on the target is tracked"
    );
    assert!(stats.total < 200, "the run was cut short");
    assert_eq!(
        stats.by_status.terminal(),
        stats.total,
        "all terminal on the target: {stats:?}"
    );
    assert_eq!(report["population"]["stranded"], 0);
    assert!(out.path().join("events.csv").exists());
    target.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_scenario_and_example_runs_out_of_the_box() {
    let root = crate::util::root();
    let mut scripts: Vec<_> = ["scenarios", "examples"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rhai"))
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 2, "{scripts:?}");
    for script in scripts {
        let mut args = vec![script.to_str().unwrap(), "--speed", "1000"];
        // The user-traffic default is 100 users × up to 1000 requests: take its small profile.
        if script.ends_with("user_populate.rhai") {
            args.extend(["--scenario", "development"]);
        }
        let run = runner(&args).await;
        assert_eq!(
            run.status.code(),
            Some(0),
            "{}: {}",
            script.display(),
            text(&run)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_gives_up_at_once_on_an_answer_that_cannot_match() {
    let dir = tempfile::tempdir().unwrap();
    let script = crate::util::script(
        dir.path(),
        "s.rhai",
        r#"let s = scenario("x"); s.target("builtin:orders");
           s.population(#{ total: 2, mix: #{ a: "rest" } });
           s.flow("a", [poll(get("/stats").name("stats").capture("x", "nope"),
                             #{ field: "total", equals: -1, every: "10ms", timeout: "10m" })]);
           s"#,
    );
    let out = tempfile::tempdir().unwrap();
    let run = runner(&[
        script.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ])
    .await;
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let report = read_report(out.path());
    assert_eq!(report["population"]["failed"], 2);
    assert_eq!(
        report["steps"]["stats"]["count"], 2,
        "one poll per order, no waiting for the timeout"
    );
    assert!(
        report["failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("capture `x`"),
        "{report}"
    );
}
