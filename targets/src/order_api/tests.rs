//! The order-api over real HTTP on 127.0.0.1 (port 0), driven with reqwest.

use serde_json::{Value, json};

use super::{OrderApiConfig, OrderApiStore};
use crate::mishaps::Faults;
use crate::{Running, start_order_api};

async fn server() -> (Running, OrderApiStore, reqwest::Client) {
    let (running, store) =
        start_order_api("127.0.0.1:0".parse().unwrap(), OrderApiConfig::default())
            .await
            .unwrap();
    (running, store, reqwest::Client::new())
}

async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn laptop() -> Value {
    json!({
        "customer_name": "John Doe",
        "customer_email": "john@example.com",
        "items": [{ "product_name": "Laptop", "quantity": 2, "unit_price": 999.99 }]
    })
}

#[tokio::test]
async fn an_order_is_created_read_listed_and_moved_along_its_transitions() {
    let (t, store, c) = server().await;
    let base = format!("{}/api/v1/orders", t.url);
    let (code, health) = send(c.get(format!("{}/health", t.url))).await;
    assert_eq!((code, health["status"].as_str()), (200, Some("ok")));

    let (code, order) = send(c.post(&base).json(&laptop())).await;
    assert_eq!(code, 201, "{order}");
    assert_eq!(order["total_amount"], 1999.98);
    assert_eq!(order["status"], "pending");
    assert_eq!(order["items"][0]["total_price"], 1999.98);
    let id = order["id"].as_u64().unwrap();

    let (code, got) = send(c.get(format!("{base}/{id}"))).await;
    assert_eq!((code, &got), (200, &order));
    let (code, _) = send(c.get(format!("{base}/999"))).await;
    assert_eq!(code, 404);
    let (code, _) = send(c.get(format!("{base}/abc"))).await;
    assert_eq!(code, 400);

    let status = |s: &str| json!({ "status": s });
    let (code, _) = send(
        c.put(format!("{base}/{id}/status"))
            .json(&status("completed")),
    )
    .await;
    assert_eq!(code, 409, "pending cannot jump to completed");
    let (code, _) = send(
        c.put(format!("{base}/{id}/status"))
            .json(&status("shipped")),
    )
    .await;
    assert_eq!(code, 400, "not one of the seed's statuses");
    for next in ["processing", "completed"] {
        let (code, moved) = send(c.put(format!("{base}/{id}/status")).json(&status(next))).await;
        assert_eq!((code, moved["status"].as_str()), (200, Some(next)));
    }
    let (code, page) = send(c.get(&base).query(&[("limit", "5")])).await;
    assert_eq!(code, 200);
    assert_eq!(page["orders"][0]["id"], id);
    assert_eq!(page["next_cursor"], Value::Null);
    let (code, _) = send(c.get(&base).query(&[("limit", "0")])).await;
    assert_eq!(code, 400);

    let stats = store.stats();
    assert_eq!((stats.created, stats.transitions, stats.refused), (1, 2, 1));
    assert_eq!(stats.invalid, 3);
    assert_eq!(stats.requests["PUT /api/v1/orders/{id}/status"], 4);
    t.stop().await;
}

#[tokio::test]
async fn validation_errors_are_400_and_create_nothing() {
    let (t, store, c) = server().await;
    let base = format!("{}/api/v1/orders", t.url);
    let mut no_items = laptop();
    no_items["items"] = json!([]);
    let mut bad_email = laptop();
    bad_email["customer_email"] = json!("john");
    let mut bad_quantity = laptop();
    bad_quantity["items"][0]["quantity"] = json!(-1);
    for body in [no_items, bad_email, bad_quantity] {
        let (code, answer) = send(c.post(&base).json(&body)).await;
        assert_eq!(code, 400, "{body}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let (code, _) = send(c.post(&base).body("not json")).await;
    assert_eq!(code, 400);
    assert_eq!(store.stats().created, 0);
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_clients_all_get_their_order() {
    let (t, store, _) = server().await;
    let base = format!("{}/api/v1/orders", t.url);
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..500 {
        let (base, body) = (base.clone(), laptop());
        // A client of its own each: 500 connections at once.
        clients.spawn(async move { send(reqwest::Client::new().post(base).json(&body)).await.0 });
    }
    let codes = clients.join_all().await;
    assert!(codes.iter().all(|c| *c == 201), "{codes:?}");
    assert_eq!(store.stats().created, 500);
    // Every id once, walking the cursor to the end.
    let client = reqwest::Client::new();
    let (mut ids, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let mut req = client.get(&base).query(&[("limit", "100")]);
        if let Some(c) = &cursor {
            req = req.query(&[("cursor", c)]);
        }
        let (_, page) = send(req).await;
        ids.extend(
            page["orders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_u64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=500).collect::<Vec<_>>());
    t.stop().await;
}

#[tokio::test]
async fn faults_are_served_before_anything_changes() {
    let dropping = OrderApiConfig {
        faults: Faults {
            drop_rate: 1.0,
            ..Faults::default()
        },
        ..OrderApiConfig::default()
    };
    let (t, store) = start_order_api("127.0.0.1:0".parse().unwrap(), dropping)
        .await
        .unwrap();
    let c = reqwest::Client::new();
    let sent = c
        .post(format!("{}/api/v1/orders", t.url))
        .json(&laptop())
        .send()
        .await;
    assert!(sent.is_err(), "the connection is closed without an answer");
    let (code, _) = send(c.get(format!("{}/health", t.url))).await;
    assert_eq!(code, 200, "/health is never faulty");
    assert_eq!(store.stats().created, 0);
    t.stop().await;

    let stalling = OrderApiConfig {
        faults: Faults {
            stall_rate: 1.0,
            stall_delay: std::time::Duration::from_millis(50),
            ..Faults::default()
        },
        ..OrderApiConfig::default()
    };
    let (t, store) = start_order_api("127.0.0.1:0".parse().unwrap(), stalling)
        .await
        .unwrap();
    let (code, _) = send(c.post(format!("{}/api/v1/orders", t.url)).json(&laptop())).await;
    assert_eq!(code, 504);
    assert_eq!(store.stats().created, 0);
    t.stop().await;
}
