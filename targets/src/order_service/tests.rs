//! The order-service over real HTTP on 127.0.0.1 (port 0), driven with reqwest.

use std::time::Duration;

use serde_json::{Value, json};

use super::{OrderServiceConfig, OrderServiceStore};
use crate::{Running, start_order_service};

async fn server() -> (Running, OrderServiceStore, reqwest::Client) {
    let config = OrderServiceConfig {
        ship_delay_min: Duration::from_millis(10),
        ship_delay_max: Duration::from_millis(30),
        ..OrderServiceConfig::default()
    };
    let (running, store) = start_order_service("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    (running, store, reqwest::Client::new())
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn order(customer: &str) -> Value {
    json!({ "customer": customer, "items": [{ "name": "Monster Energy", "quantity": 2 }] })
}

#[tokio::test]
async fn orders_are_submitted_listed_processed_and_shipped() {
    let (t, store, c) = server().await;
    let base = format!("{}/orders", t.url);
    let mut ids = Vec::new();
    for who in ["John", "Ann", "Wei"] {
        let (code, answer) = send(c.post(&base).json(&order(who))).await;
        assert_eq!(
            (code, answer["status"].as_str()),
            (201, Some("pending")),
            "{answer}"
        );
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    let (_, first) = send(c.get(format!("{base}/{}", ids[1]))).await;
    let at = first["timestamp"].as_str().unwrap().to_owned();
    let (code, listed) = send(c.get(&base).query(&[("from", &at), ("to", &at)])).await;
    assert_eq!((code, listed["count"].as_u64()), (200, Some(1)), "{listed}");
    assert_eq!(listed["orders"][0]["id"], ids[1].as_str());
    let (code, _) = send(c.get(&base).query(&[("from", "yesterday")])).await;
    assert_eq!(code, 400);

    let (code, _) = send(c.delete(format!("{base}/{}", ids[0]))).await;
    assert_eq!(code, 200);
    let (code, answer) = send(c.post(format!("{base}/process"))).await;
    assert_eq!(
        (code, answer["message"].as_str()),
        (200, Some("Processing started"))
    );
    let (code, _) = send(c.delete(format!("{base}/{}", ids[1]))).await;
    assert_eq!(code, 409, "only pending orders are deleted");
    let (code, answer) = send(c.post(format!("{base}/{}/cancel", ids[1]))).await;
    assert_eq!((code, answer["status"].as_str()), (200, Some("cancelled")));

    // The last one ships after its delay.
    let mut shipped = false;
    for _ in 0..200 {
        let (_, s) = send(c.get(format!("{base}/status/{}", ids[2]))).await;
        if s["status"] == "shipped" {
            shipped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(shipped);
    let (code, _) = send(c.post(format!("{base}/{}/cancel", ids[2]))).await;
    assert_eq!(code, 409, "a shipped order cannot be cancelled");
    let (code, _) = send(c.get(format!("{base}/status/order_99"))).await;
    assert_eq!(code, 404);
    let stats = store.stats();
    assert_eq!((stats.submitted, stats.deleted, stats.processed), (3, 1, 2));
    assert_eq!(stats.by_status["shipped"], 1);
    assert_eq!(stats.by_status["cancelled"], 1);
    t.stop().await;
}

#[tokio::test]
async fn bad_orders_are_400() {
    let (t, store, c) = server().await;
    let base = format!("{}/orders", t.url);
    for body in [
        json!({ "customer": "", "items": [{ "name": "x", "quantity": 1 }] }),
        json!({ "customer": "A", "items": [] }),
        json!({ "customer": "A", "items": [{ "name": "x", "quantity": -2 }] }),
    ] {
        let (code, answer) = send(c.post(&base).json(&body)).await;
        assert_eq!(code, 400, "{body}");
        assert!(answer["error"].is_string());
    }
    assert_eq!(store.stats().submitted, 0);
    t.stop().await;
}

#[test]
fn range_times_take_any_offset() {
    let utc = super::parse_time("2025-06-14T17:47:05.250Z").unwrap();
    let plus_one = super::parse_time("2025-06-14T18:47:05.250+01:00").unwrap();
    let minus_five = super::parse_time("2025-06-14T12:47:05.250-05:00").unwrap();
    assert_eq!((utc, utc), (plus_one, minus_five));
    assert!(
        super::parse_time("2025-06-14T17:47:05").is_ok(),
        "no offset: UTC"
    );
    assert!(super::parse_time("yesterday").is_err());
}
