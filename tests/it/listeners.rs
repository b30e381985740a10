//! Outside listeners: `--otlp-endpoint` (a trace per order with a span per
//! request, and metrics, over OTLP/HTTP JSON) and `--webhook` (alerts), each
//! received here by a server on 127.0.0.1 that decodes what it gets.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use serde_json::Value;

use crate::util::{read_report, runner, script, text};

/// Bodies received, by path.
type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// A server on 127.0.0.1:0 keeping every JSON body POSTed to it.
async fn receiver() -> (String, Received, tokio::task::JoinHandle<()>) {
    let got: Received = Arc::default();
    let app = Router::new()
        .route(
            "/{*path}",
            post(
                |State(got): State<Received>, Path(path): Path<String>, body: String| async move {
                    let value = serde_json::from_str(&body).expect("a JSON body");
                    got.lock().unwrap().push((path, value));
                    "ok"
                },
            ),
        )
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, got, server)
}

fn bodies(got: &Received, path: &str) -> Vec<Value> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, v)| v.clone())
        .collect()
}

const ORDERS: &str = r#"let s = scenario("listened");
s.target(param("target", "builtin:orders"));
s.http(#{ retries: 0 });
s.breaker(#{ failures: 2, open_for: "100ms" });
s.population(#{ total: 5, mix: #{ a: "rest" } });
s.batches(#{ size: 5, parallel: 1 });
s.payload(|n| #{ orderNumber: "LIS-" + n });
s.flow("a", [
  post("/operation/payload").name("create").send_payload().expect(202).capture("orderId", "id"),
  get("/details").name("details").query("orderId", "{orderId}").expect(200),
]);
s.cleanup("a", #{ after: "0s", steps: [post("/cancel").name("cancel").json(#{ orderId: "{orderId}" }).expect(200).marks("Cancelled")], timeout: "10s", every: "50ms" });
s
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_otlp_receiver_gets_a_trace_per_order_and_the_step_metrics() {
    let (url, got, _server) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), "listened.rhai", ORDERS);
    let out = dir.path().join("out");
    let run = runner(&[
        path.to_str().unwrap(),
        "-q",
        "--out",
        out.to_str().unwrap(),
        "--otlp-endpoint",
        &url,
    ])
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let report = read_report(&out);

    let mut spans = Vec::new();
    for body in bodies(&got, "v1/traces") {
        let rs = &body["resourceSpans"][0];
        let service = &rs["resource"]["attributes"][0];
        assert_eq!(service["key"], "service.name");
        assert_eq!(service["value"]["stringValue"], "runner");
        spans.extend(rs["scopeSpans"][0]["spans"].as_array().unwrap().clone());
    }
    let roots: BTreeMap<String, &Value> = spans
        .iter()
        .filter(|s| s["parentSpanId"] == "")
        .map(|s| (s["traceId"].as_str().unwrap().to_owned(), s))
        .collect();
    assert_eq!(roots.len(), 5, "one trace per order: {roots:?}");
    assert!(
        roots
            .values()
            .all(|r| r["name"] == "a" && r["status"]["code"] == 1)
    );
    let requests: Vec<&Value> = spans.iter().filter(|s| s["parentSpanId"] != "").collect();
    assert_eq!(requests.len() as u64, report["requests"].as_u64().unwrap());
    for r in &requests {
        let root = roots[r["traceId"].as_str().unwrap()];
        assert_eq!(r["parentSpanId"], root["spanId"], "{r}");
        assert_eq!(r["kind"], 3);
        let start: u128 = r["startTimeUnixNano"].as_str().unwrap().parse().unwrap();
        let end: u128 = r["endTimeUnixNano"].as_str().unwrap().parse().unwrap();
        assert!(start > 0 && end >= start, "{r}");
    }
    let names = |step: &str| requests.iter().filter(|r| r["name"] == step).count();
    assert_eq!(
        (names("create"), names("details"), names("cancel")),
        (5, 5, 5)
    );

    // The last metrics export holds the run's totals.
    let metrics = bodies(&got, "v1/metrics");
    let last = metrics.last().expect("a metrics export");
    let list = last["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
        .as_array()
        .unwrap();
    let requests = list
        .iter()
        .find(|m| m["name"] == "runner.requests")
        .unwrap();
    for point in requests["sum"]["dataPoints"].as_array().unwrap() {
        let step = point["attributes"][0]["value"]["stringValue"]
            .as_str()
            .unwrap();
        let n: u64 = point["asInt"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            n,
            report["steps"][step]["count"].as_u64().unwrap(),
            "{step}"
        );
    }
    assert!(list.iter().any(|m| m["name"] == "runner.latency.p95"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_hear_of_an_opened_breaker_a_failed_threshold_and_the_end() {
    let (url, got, _server) = receiver().await;
    // A second webhook nobody listens on: logged, and the run goes on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), "listened.rhai", ORDERS);
    let hook = format!("{url}/hook");
    let run = runner(&[
        path.to_str().unwrap(),
        "-q",
        "--set",
        "target=builtin:orders?error_rate=1",
        "--threshold",
        "error_rate < 1%",
        "--webhook",
        &hook,
        "--webhook",
        &dead,
    ])
    .await;
    assert_eq!(run.status.code(), Some(1), "{}", text(&run));
    let events: Vec<Value> = bodies(&got, "hook");
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"breaker_opened"), "{kinds:?}");
    let failed: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "threshold_failed")
        .collect();
    assert_eq!(failed.len(), 1, "{kinds:?}");
    assert_eq!(failed[0]["threshold"], "error_rate < 1%");
    let end = events.last().unwrap();
    assert_eq!(end["event"], "run_ended", "{kinds:?}");
    assert_eq!(end["passed"], false);
    assert_eq!(end["scenario"], "listened");
    assert!(end["text"].as_str().unwrap().contains("FAIL"), "{end}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_url_that_is_not_http_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = script(dir.path(), "listened.rhai", ORDERS);
    for (flag, url) in [
        ("--webhook", "ftp://127.0.0.1/x"),
        ("--otlp-endpoint", "nope"),
    ] {
        let run = runner(&[path.to_str().unwrap(), "-q", flag, url]).await;
        assert_eq!(run.status.code(), Some(2), "{}", text(&run));
        assert!(text(&run).contains(flag), "{}", text(&run));
    }
}
