//! Watching a run: progress lines, structured logs, Prometheus during the run.

use std::time::Duration;

use crate::util::{day_in_life, runner, text};

const SMALL: [&str; 4] = [
    "--set",
    "simulation.totalOrders=40",
    "--set",
    "simulation.activatedCount=25",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_progress_is_a_plain_status_line() {
    let script = day_in_life();
    let mut args = vec![script.to_str().unwrap(), "--speed", "1000"];
    args.extend(SMALL);
    let run = runner(&args).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let stderr = String::from_utf8_lossy(&run.stderr);
    let last = stderr
        .lines()
        .find(|l| l.ends_with("· done"))
        .unwrap_or_else(|| panic!("no final status line:\n{stderr}"));
    assert!(
        last.contains("created 40/40")
            && last.contains("flows done 40/40")
            && last.contains("terminal 40"),
        "{last}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no terminal escapes in captured output"
    );

    args.push("--quiet");
    let quiet = runner(&args).await;
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet));
    assert!(
        !String::from_utf8_lossy(&quiet.stderr).contains("· done"),
        "{}",
        text(&quiet)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_record_every_state_transition_in_the_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("run.log");
    let script = day_in_life();
    let mut args = vec![
        script.to_str().unwrap(),
        "--speed",
        "1000",
        "--log-format",
        "json",
        "--log-level",
        "debug",
        "--log-file",
        log.to_str().unwrap(),
    ];
    args.extend(SMALL);
    let run = runner(&args).await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        !String::from_utf8_lossy(&run.stderr).contains("state changed"),
        "logs stay out of stderr"
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let changes: Vec<_> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "state changed")
        .collect();
    // 40 orders: Pending, Accepted, then Activated + Ended (25) or Cancelled (15).
    assert_eq!(changes.len(), 40 * 3 + 25);
    let ended = changes
        .iter()
        .filter(|c| c["fields"]["to"] == "Ended")
        .count();
    assert_eq!(ended, 25);
    let first = changes[0]["fields"].as_object().unwrap();
    for key in ["id", "label", "flow", "batch", "from", "to"] {
        assert!(first.contains_key(key), "missing {key} in {first:?}");
    }
}

/// A free port on 127.0.0.1 for `--metrics-addr`.
fn metrics_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// Starts `runner args` quietly with metrics on `addr`.
fn spawn_with_metrics(args: &[&str], addr: &str) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(args)
        .args(["--quiet", "--metrics-addr", addr])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Scrapes `addr` until a body has every line prefix in `wanted`.
async fn scrape_until(addr: &str, wanted: &[&str]) -> String {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://{addr}/metrics");
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Ok(resp) = client.get(&url).send().await
                && let Ok(body) = resp.text().await
                && wanted
                    .iter()
                    .all(|w| body.lines().any(|l| l.starts_with(w) && !l.ends_with(" 0")))
            {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("metrics with non-zero {wanted:?} within 60 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_metrics_are_served_during_the_run() {
    let addr = metrics_addr();
    let script = day_in_life();
    // Speed 20 keeps the run going for several seconds, long enough to scrape it mid-run.
    let mut args = vec![script.to_str().unwrap(), "--speed", "20"];
    args.extend(SMALL);
    args.extend(["--set", "simulation.batchSize=4"]);
    let child = spawn_with_metrics(&args, &addr);
    let body = scrape_until(&addr, &["runner_requests_total{"]).await;
    for name in [
        "runner_request_duration_seconds_bucket{",
        "runner_requests_total{",
        "runner_in_flight_requests",
        "runner_population{",
        "# TYPE runner_batch_duration_seconds histogram",
    ] {
        assert!(body.contains(name), "missing {name} in\n{body}");
    }
    assert!(
        body.contains("step=\"create\"") && body.contains("status_class=\"2xx\""),
        "{body}"
    );
    let run = child.wait_with_output().await.unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
}

/// Every series the shipped Grafana dashboard queries is one runner serves,
/// with the labels it filters and groups by.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grafana_dashboard_queries_only_what_runner_serves() {
    let dashboard = crate::util::root().join("examples/grafana/runner-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dashboard).unwrap()).unwrap();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() >= 20, "{} queries", exprs.len());

    // Users with injected 500s: every family, errors included, has series.
    let addr = metrics_addr();
    let script = crate::util::root().join("scenarios/user_populate.rhai");
    let args = [
        script.to_str().unwrap(),
        "--scenario",
        "development",
        "--speed",
        "2",
        "--server-error-rate",
        "0.2",
    ];
    let mut child = spawn_with_metrics(&args, &addr);
    let body = scrape_until(
        &addr,
        &[
            "runner_errors_total{",
            "runner_batch_duration_seconds_count",
        ],
    )
    .await;
    child.kill().await.unwrap();
    let served: std::collections::BTreeSet<&str> = body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let name = regex::Regex::new(r"runner_[a-z_]+").unwrap();
    let label = regex::Regex::new(r"(?:by \(|[{,]\s*)([a-z_]+)\s*(?:=~|=|!=|,|\))").unwrap();
    for expr in &exprs {
        for m in name.find_iter(expr) {
            assert!(
                served.contains(m.as_str()),
                "{} is not served ({expr}); served: {served:?}",
                m.as_str()
            );
        }
        for c in label.captures_iter(expr) {
            let l = &c[1];
            let known = ["job", "instance", "le"].contains(&l) || body.contains(&format!("{l}=\""));
            assert!(known, "label {l} is not served ({expr})");
        }
    }
}

/// Every `expr` and variable `query` in a Grafana dashboard.
fn collect_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_threshold_exits_1_and_the_junit_file_marks_it_failed() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let script = day_in_life();
    let mut args = vec![
        script.to_str().unwrap(),
        "--speed",
        "1000",
        "--threshold",
        "max(create) < 0.001ms",
        "--junit",
        junit.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ];
    args.extend(SMALL);
    let run = runner(&args).await;
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("FAIL  max(create) < 0.001ms"),
        "{}",
        text(&run)
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"failures="1""#), "{xml}");
    assert!(
        xml.contains(r#"name="max(create) &lt; 0.001ms""#) && xml.contains("<failure"),
        "{xml}"
    );
    // The script's own thresholds held and are reported too.
    let report = crate::util::read_report(dir.path());
    let verdicts: Vec<(String, bool)> = report["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["expr"].as_str().unwrap().to_owned(),
                t["passed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        verdicts.contains(&("stranded == 0".into(), true)),
        "{verdicts:?}"
    );
    assert!(
        verdicts.contains(&("max(create) < 0.001ms".into(), false)),
        "{verdicts:?}"
    );
    assert_eq!(report["passed"], false);
}

#[test]
fn a_malformed_threshold_is_refused_before_the_run() {
    let out = crate::util::runner_sync(&[
        day_in_life().to_str().unwrap(),
        "--threshold",
        "p95(create) <",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = crate::util::stderr_flat(&out);
    assert!(err.contains("threshold \"p95(create) <\""), "{err}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("runner: day_in_life"),
        "nothing started: {err}"
    );
}
