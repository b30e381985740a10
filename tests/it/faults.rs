//! The runner against a built-in orders target that injects real faults:
//! 500s, dropped connections and stalls past the client's timeout. Whatever
//! the target does, every order the runner created must end terminal.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use runner_targets::{self as builtin, OrderBook, OrdersConfig, Running};
use serde_json::Value;

use crate::util::{day_in_life, read_report, runner, text};

/// An orders target on 127.0.0.1 with a fast acceptance delay and `faults` applied.
async fn faulty_target(faults: OrdersConfig) -> (Running, OrderBook) {
    let config = OrdersConfig {
        accept_delay_min: Duration::from_millis(1),
        accept_delay_max: Duration::from_millis(5),
        seed: 7,
        ..faults
    };
    builtin::start_orders("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("bind 127.0.0.1:0")
}

fn read_events(dir: &Path) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(dir.join("events.csv")).unwrap();
    reader.deserialize().map(Result::unwrap).collect()
}

/// Errors of `class` over every step of the report.
fn errors_of_class(report: &Value, class: &str) -> u64 {
    report["steps"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|step| step["error_classes"][class].as_u64())
        .sum()
}

/// The no-loss checks: nothing failed or stranded, and the target agrees that
/// every order the runner created is terminal.
fn assert_every_order_terminal(book: &OrderBook, report: &Value, run: &str) {
    let orders = &report["population"];
    assert_eq!(orders["failed"], 0, "{orders}\n{run}");
    assert_eq!(orders["stranded"], 0, "{orders}\n{run}");
    let stats = book.stats();
    let by = stats.by_status;
    assert_eq!(
        by.pending + by.accepted + by.activated,
        0,
        "orders left open on the target: {stats:?}\n{run}"
    );
    assert_eq!(
        Some(stats.total),
        orders["created"].as_u64(),
        "the target holds exactly the orders the runner created"
    );
}

/// Only the shipped `error_rate < 1%` threshold fails: the faults make the
/// target unhealthy, but the run itself loses nothing.
fn assert_only_the_error_rate_threshold_fails(report: &Value, run: &str) {
    let failing: Vec<&Value> = report["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["passed"] == false)
        .collect();
    assert_eq!(failing.len(), 1, "{failing:?}\n{run}");
    assert_eq!(failing[0]["expr"], "error_rate < 1%");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_dropped_connections_leave_no_order_open() {
    let (target, book) = faulty_target(OrdersConfig {
        error_rate: 0.2,
        drop_rate: 0.05,
        ..OrdersConfig::default()
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let run = runner(&[
        day_in_life().to_str().unwrap(),
        "--target",
        &target.url,
        "--speed",
        "1000",
        // A request failing eleven times in a row (0.25^11) is practically impossible.
        "--set",
        "api.retryMax=10",
        "--set",
        "api.timeout=2s",
        "-q",
        "--out",
        out.path().to_str().unwrap(),
    ])
    .await;
    let shown = text(&run);
    // Exit 1 is expected: the shipped `error_rate < 1%` threshold fails.
    assert!(matches!(run.status.code(), Some(0 | 1)), "{shown}");
    let report = read_report(out.path());
    assert_eq!(report["population"]["created"], 200, "{shown}");
    assert_every_order_terminal(&book, &report, &shown);
    assert_only_the_error_rate_threshold_fails(&report, &shown);

    // Both kinds of fault reached the runner and were counted as what they are.
    assert!(
        errors_of_class(&report, "http_5xx") > 0,
        "{}",
        report["steps"]
    );
    assert!(
        errors_of_class(&report, "connect") > 0,
        "{}",
        report["steps"]
    );
    // Each was retried: a failed create or activate is sent again, not given up.
    let events = read_events(out.path());
    for outcome in ["connect", "unexpected_status"] {
        assert!(
            events
                .iter()
                .any(|e| e["outcome"] == outcome && e["step"] == "create"),
            "no create met a {outcome} fault"
        );
    }
    let retried_creates: HashSet<&str> = events
        .iter()
        .filter(|e| e["step"] == "create" && e["attempt"] != "1" && e["outcome"] == "ok")
        .map(|e| e["label"].as_str())
        .collect();
    assert!(!retried_creates.is_empty(), "creates succeed on a retry");
    // Requests that succeeded after a retry are counted apart from the
    // errored attempts; with ten retries none gave up for good.
    let retried_ok = events
        .iter()
        .filter(|e| e["attempt"] != "1" && ["ok", "pending"].contains(&e["outcome"].as_str()))
        .count() as u64;
    assert_eq!(report["requests_retried"], retried_ok, "{shown}");
    assert!(retried_ok > 0);
    assert_eq!(report["requests_failed"], 0, "{shown}");
    assert!(report["requests_per_second"].as_f64().unwrap() > 0.0);
    assert!(report["active_s"].as_f64().unwrap() <= report["duration_s"].as_f64().unwrap());
    target.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_times_out_on_the_client_and_is_retried() {
    // Stalls last well past the runner's 200 ms timeout.
    let (target, book) = faulty_target(OrdersConfig {
        stall_rate: 0.15,
        stall_delay: Duration::from_secs(1),
        ..OrdersConfig::default()
    })
    .await;
    let out = tempfile::tempdir().unwrap();
    let run = runner(&[
        day_in_life().to_str().unwrap(),
        "--target",
        &target.url,
        "--speed",
        "1000",
        "--set",
        "simulation.totalOrders=20",
        "--set",
        "simulation.activatedCount=12",
        "--set",
        "api.retryMax=10",
        "--set",
        "api.timeout=200ms",
        "-q",
        "--out",
        out.path().to_str().unwrap(),
    ])
    .await;
    let shown = text(&run);
    assert!(matches!(run.status.code(), Some(0 | 1)), "{shown}");
    let report = read_report(out.path());
    assert_eq!(report["population"]["created"], 20, "{shown}");
    assert_every_order_terminal(&book, &report, &shown);
    assert!(
        errors_of_class(&report, "timeout") > 0,
        "{}",
        report["steps"]
    );

    // A timed-out attempt is followed by the next attempt of the same step and order.
    let events = read_events(out.path());
    let attempts: HashSet<(&str, &str, u32)> = events
        .iter()
        .map(|e| {
            (
                e["label"].as_str(),
                e["step"].as_str(),
                e["attempt"].parse().unwrap(),
            )
        })
        .collect();
    let timeouts: Vec<_> = events
        .iter()
        .filter(|e| e["outcome"] == "timeout")
        .collect();
    assert!(!timeouts.is_empty());
    for e in timeouts {
        let attempt: u32 = e["attempt"].parse().unwrap();
        assert!(
            attempts.contains(&(e["label"].as_str(), e["step"].as_str(), attempt + 1)),
            "timeout not retried: {e:?}"
        );
        let latency: f64 = e["latency_ms"].parse().unwrap();
        assert!(
            (150.0..1000.0).contains(&latency),
            "the client gave up at its timeout, not at the stall's end: {e:?}"
        );
    }
    target.stop().await;
}
