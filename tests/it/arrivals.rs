//! The open load model (`s.arrivals`): orders and users start at a rate,
//! whatever the target's response times; arrivals beyond the in-flight cap
//! are dropped and counted; lateness and drops are reported and thresholdable.

use std::time::{Duration, SystemTime};

use crate::util::{read_report, runner, script, stderr_flat, text};

/// One create per order against the orders target answering after `latency`.
fn open_script(latency: &str, arrivals: &str) -> String {
    format!(
        r#"let s = scenario("open");
s.target("builtin:orders?latency={latency}");
s.population(#{{ total: param("total", 100), mix: #{{ a: "rest" }} }});
s.payload(|n| #{{ orderNumber: "OPEN-" + n }});
s.arrivals({arrivals});
s.flow("a", [post("/operation/payload").name("create").send_payload().expect(202).capture("orderId", "id")]);
s.cleanup("a", #{{ after: "0s", steps: [post("/cancel").name("cancel").json(#{{ orderId: "{{orderId}}" }}).expect(200).marks("Cancelled")], timeout: "30s", every: "100ms" }});
s
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_target_fills_the_cap_and_arrivals_beyond_it_are_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    // 100 arrivals in 1 s; each create takes 300 ms and at most 5 run at once,
    // so at most 5 × (1 + 1 s / 300 ms) < 22 can start, however slow this machine.
    let path = script(
        dir.path(),
        "open.rhai",
        &open_script(
            "300ms",
            r#"#{ rate: 100, duration: "1s", max_in_flight: 5 }"#,
        ),
    );
    let out = dir.path().join("out");
    let run = runner(&[
        path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--threshold",
        "dropped == 0",
        "--threshold",
        "start_lag.p99 < 1m",
    ])
    .await;
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let report = read_report(&out);
    let a = &report["arrivals"];
    let (started, dropped) = (
        a["started"].as_u64().unwrap(),
        a["dropped"].as_u64().unwrap(),
    );
    assert_eq!(a["scheduled"], 100, "{a}");
    assert_eq!(started + dropped, 100, "{a}");
    assert!((5..22).contains(&started), "{a}");
    assert_eq!(report["population"]["dropped"], dropped);
    assert_eq!(a["start_lag_ms"]["count"], started, "{a}");
    // What started was created and cleaned up; what was dropped never reached the target.
    assert_eq!(report["population"]["created"], started);
    assert_eq!(report["population"]["stranded"], 0);
    assert_eq!(report["steps"]["create"]["count"], started);
    let verdicts = report["thresholds"].as_array().unwrap();
    assert_eq!(verdicts[0]["passed"], false, "{verdicts:?}");
    assert_eq!(verdicts[1]["passed"], true, "{verdicts:?}");
    let shown = text(&run);
    assert!(
        shown.contains(&format!(
            "{started} of 100 scheduled orders started, {dropped} dropped at max_in_flight 5"
        )),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrivals_keep_their_rate_while_answers_are_slow_and_flows_count_from_the_schedule() {
    let dir = tempfile::tempdir().unwrap();
    // 20 arrivals at 20/s; each answer takes 500 ms: a closed loop with one
    // worker would send one create at a time, the open model overlaps them.
    let path = script(
        dir.path(),
        "open.rhai",
        &open_script("500ms", r#"#{ rate: 20, max_in_flight: 100 }"#),
    );
    let out = dir.path().join("out");
    let run = runner(&[
        path.to_str().unwrap(),
        "-q",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "total=20",
    ])
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = read_report(&out);
    let a = &report["arrivals"];
    assert_eq!(
        (a["scheduled"].as_u64(), a["started"].as_u64()),
        (Some(20), Some(20)),
        "{a}"
    );
    assert_eq!(a["dropped"], 0, "{a}");
    let flow = &report["lifecycle"]["flow_duration_ms"];
    assert!(flow["p50"].as_f64().unwrap() >= 500.0, "{flow}");
    // Creates sent while the first one was still waiting for its answer.
    let mut reader = csv::Reader::from_path(out.join("events.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (step, at, latency) = (col("step"), col("timestamp"), col("latency_ms"));
    let creates: Vec<(SystemTime, Duration)> = reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| &r[step] == "create")
        .map(|r| {
            let sent = humantime::parse_rfc3339(&r[at]).unwrap();
            let took = Duration::from_secs_f64(r[latency].parse::<f64>().unwrap() / 1000.0);
            (sent, took)
        })
        .collect();
    assert_eq!(creates.len(), 20);
    let first_answer = creates.iter().map(|(s, l)| *s + *l).min().unwrap();
    let overlapping = creates.iter().filter(|(s, _)| *s < first_answer).count();
    assert!(
        overlapping >= 3,
        "{overlapping} creates before the first answer: {creates:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_arrive_at_a_rate_with_the_shipped_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let scenario = crate::util::root().join("scenarios/user_populate.rhai");
    let run = runner(&[
        scenario.to_str().unwrap(),
        "-q",
        "--out",
        out.to_str().unwrap(),
        "--users",
        "6",
        "--min-request-count",
        "3",
        "--max-request-count",
        "5",
        "--speed",
        "50",
        "--arrival-rate",
        "0.5",
    ])
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = read_report(&out);
    let a = &report["arrivals"];
    assert_eq!(
        (a["started"].as_u64(), a["dropped"].as_u64()),
        (Some(6), Some(0)),
        "{a}"
    );
    assert_eq!(report["population"]["created"], 6);
    assert_eq!(report["population"]["stranded"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_shows_the_stages_and_bad_arrivals_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let staged = open_script(
        "0ms",
        r#"#{ start_rate: 0, stages: [#{ rate: 10, over: "2s" }, #{ rate: 10, over: "5s" }], max_in_flight: 7 }"#,
    );
    let path = script(dir.path(), "staged.rhai", &staged);
    let run = runner(&["check", path.to_str().unwrap()]).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let shown = text(&run);
    assert!(
        shown.contains("arrivals    60 scheduled over 7s, at most 7 in flight"),
        "{shown}"
    );
    assert!(shown.contains("stage 1 0/s to 10/s over 2s"), "{shown}");
    assert!(
        shown.contains("the population has 100: 40 never start"),
        "{shown}"
    );

    let refused = [
        (r#"#{ rate: 5, stages: [] }"#, "not both"),
        (r#"#{ stages: [#{ rate: 5 }] }"#, "needs `over`"),
        (r#"#{ rate: -1 }"#, "0 or more"),
        (
            r#"#{ rate: 5, max_in_flight: 0 }"#,
            "max_in_flight must be at least 1",
        ),
        (r#"#{ rate: 5, cap: 3 }"#, "unknown option `cap`"),
        (
            r#"#{ rate: 5, start_rate: 1 }"#,
            "`start_rate` goes with `stages`",
        ),
        (
            r#"#{ stages: [#{ rate: 5, over: "1s" }], duration: "1s" }"#,
            "`duration` goes with `rate`",
        ),
    ];
    for (arrivals, expected) in refused {
        let path = script(dir.path(), "bad.rhai", &open_script("0ms", arrivals));
        let run = runner(&["check", path.to_str().unwrap()]).await;
        assert_eq!(run.status.code(), Some(2), "{arrivals}: {}", text(&run));
        assert!(
            stderr_flat(&run).contains(expected),
            "{arrivals}: {}",
            text(&run)
        );
    }
    let phased = open_script("0ms", "#{ rate: 5 }").replace(
        r#".capture("orderId", "id")]"#,
        r#".capture("orderId", "id"), phase("later", [])]"#,
    );
    let path = script(dir.path(), "phased.rhai", &phased);
    let run = runner(&["check", path.to_str().unwrap()]).await;
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(stderr_flat(&run).contains("phase()"), "{}", text(&run));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrivals_stop_at_the_duration_and_the_rest_is_reported_not_started() {
    let dir = tempfile::tempdir().unwrap();
    // 20/s over 10 s, but the run stops starting after 500 ms.
    let source = open_script("0ms", r#"#{ rate: 20, duration: "10s" }"#)
        .replace("s.arrivals(", "s.duration(\"500ms\");\ns.arrivals(");
    let path = script(dir.path(), "short.rhai", &source);
    let out = dir.path().join("out");
    let run = runner(&[path.to_str().unwrap(), "-q", "--out", out.to_str().unwrap()]).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let a = &read_report(&out)["arrivals"];
    let started = a["started"].as_u64().unwrap();
    assert_eq!(a["scheduled"], 100, "{a}");
    assert!((1..=10).contains(&started), "{a}");
    assert_eq!(a["not_started"].as_u64().unwrap(), 100 - started, "{a}");
}
