//! The order-processor over real HTTP on 127.0.0.1 (port 0), driven with reqwest.

use std::time::Duration;

use serde_json::{Value, json};

use super::{OrderProcessorConfig, Pool};
use crate::{Running, start_order_processor};

async fn server(config: OrderProcessorConfig) -> (Running, Pool, reqwest::Client) {
    let (running, pool) = start_order_processor("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    (running, pool, reqwest::Client::new())
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn order(priority: i64, amount: f64) -> Value {
    json!({ "amount": amount, "items": ["laptop", "mouse"], "customer": "test@example.com",
            "address": "456 Test St", "priority": priority })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_queued_processed_and_counted_per_priority() {
    let config = OrderProcessorConfig {
        workers: 2,
        process_min: Duration::from_millis(1),
        process_max: Duration::from_millis(3),
        ..OrderProcessorConfig::default()
    };
    let (t, pool, c) = server(config).await;
    let url = format!("{}/orders", t.url);
    for p in [1, 2, 3, 1, 2, 3] {
        let (code, o) = send(c.post(&url).json(&order(p, 1500.0))).await;
        assert_eq!((code, o["status"].as_str()), (201, Some("pending")), "{o}");
    }
    let (code, bad) = send(c.post(&url).json(&order(1, 20_000.0))).await;
    assert_eq!(code, 400, "{bad}");
    let mut stats = Value::Null;
    for _ in 0..300 {
        stats = send(c.get(format!("{}/stats", t.url))).await.1;
        if stats["total_processed"] == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(stats["total_processed"], 6, "{stats}");
    for p in ["1", "2", "3"] {
        assert_eq!(stats["by_priority"][p]["processed"], 2, "{stats}");
    }
    assert_eq!(stats["invalid"], 1);
    let (code, health) = send(c.get(format!("{}/health", t.url))).await;
    assert_eq!((code, health["pool"]["workers"].as_u64()), (200, Some(2)));
    let (_, one) = send(c.get(format!("{url}/order_1"))).await;
    assert_eq!(one["status"], "completed");
    assert_eq!(pool.queue_length(), 0);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_with_retry_after() {
    let config = OrderProcessorConfig {
        workers: 1,
        capacity: 2,
        process_min: Duration::from_secs(5),
        process_max: Duration::from_secs(5),
        ..OrderProcessorConfig::default()
    };
    let (t, _pool, c) = server(config).await;
    let url = format!("{}/orders", t.url);
    let mut codes = Vec::new();
    for _ in 0..6 {
        let resp = c.post(&url).json(&order(2, 10.0)).send().await.unwrap();
        if resp.status() == 503 {
            assert_eq!(resp.headers()["retry-after"], "1");
        }
        codes.push(resp.status().as_u16());
    }
    // One taken by the worker, two waiting, the rest refused.
    assert!(codes.contains(&503), "{codes:?}");
    assert!(
        codes.iter().filter(|c| **c == 201).count() <= 3,
        "{codes:?}"
    );
    t.stop().await;
}
