//! Tests of the orders target: its state machine, its HTTP answers and its faults.

use std::io;

use super::faults::{Decision, Fault};
use super::*;
use crate::{Running, start_orders};
use OrderStatus::*;

/// A book holding one order brought to `status` through legal transitions.
fn order_in(status: OrderStatus) -> (OrderBook, String) {
    let book = OrderBook::new();
    let id = book.create(json!({ "orderNumber": "ORD-1" })).id;
    let path: &[Action] = match status {
        Pending => &[],
        Accepted => &[Action::Accept],
        Activated => &[Action::Accept, Action::Activate],
        Cancelled => &[Action::Cancel],
        Ended => &[Action::Accept, Action::Activate, Action::End],
    };
    for action in path {
        book.apply(&id, *action).unwrap();
    }
    assert_eq!(book.get(&id).unwrap().status, status);
    (book, id)
}

// ---- state machine -------------------------------------------------------

#[test]
fn created_orders_are_pending_with_sequential_ids_and_their_payload() {
    let book = OrderBook::new();
    let a = book.create(json!({ "orderNumber": "ORD-1", "location": "US-EAST-1" }));
    let b = book.create(json!({ "orderNumber": "ORD-2" }));
    assert_eq!((a.id.as_str(), b.id.as_str()), ("ord-1", "ord-2"));
    assert_eq!(a.status, Pending);
    assert_eq!(a.fields["location"], "US-EAST-1");
    assert_eq!(book.get("ord-2").unwrap(), b);
}

#[test]
fn order_json_has_payload_fields_and_server_fields_win() {
    let book = OrderBook::new();
    let order = book.create(json!({ "id": "mine", "status": "Ended", "pocOrder": "POC" }));
    let v = serde_json::to_value(&order).unwrap();
    assert_eq!(v["id"], "ord-1");
    assert_eq!(v["status"], "Pending");
    assert_eq!(v["pocOrder"], "POC");
    let created = v["createdAt"].as_str().unwrap();
    assert!(humantime::parse_rfc3339(created).is_ok(), "{created}");
    assert_eq!(v.as_object().unwrap().len(), 4);
}

#[test]
fn a_non_object_payload_is_kept_under_payload() {
    let order = OrderBook::new().create(json!([1, 2]));
    assert_eq!(order.fields["payload"], json!([1, 2]));
}

#[test]
fn every_legal_transition_succeeds_and_every_illegal_one_is_a_conflict() {
    let actions = [
        Action::Accept,
        Action::Activate,
        Action::Cancel,
        Action::End,
    ];
    let legal = [
        (Pending, Action::Accept, Accepted),
        (Pending, Action::Cancel, Cancelled),
        (Accepted, Action::Activate, Activated),
        (Accepted, Action::Cancel, Cancelled),
        (Activated, Action::End, Ended),
    ];
    for from in OrderStatus::ALL {
        for action in actions {
            let (book, id) = order_in(from);
            let expected = legal
                .iter()
                .find(|(f, a, _)| *f == from && *a == action)
                .map(|(_, _, to)| *to);
            match (book.apply(&id, action), expected) {
                (Ok(order), Some(to)) => {
                    assert_eq!(order.status, to, "{action} from {from}");
                    assert_eq!(book.get(&id).unwrap().status, to);
                }
                (Err(e), None) => {
                    assert_eq!(
                        e,
                        TransitionError::Conflict {
                            id: id.clone(),
                            from,
                            action
                        },
                        "{action} from {from}"
                    );
                    assert_eq!(book.get(&id).unwrap().status, from, "unchanged");
                }
                (got, want) => panic!("{action} from {from}: got {got:?}, want {want:?}"),
            }
            assert_eq!(book.stats().by_status.get(book.get(&id).unwrap().status), 1);
        }
    }
}

#[test]
fn the_named_methods_are_the_matching_actions() {
    let (book, id) = order_in(Pending);
    assert_eq!(book.accept(&id).unwrap().status, Accepted);
    assert_eq!(book.activate(&id).unwrap().status, Activated);
    assert_eq!(book.end(&id).unwrap().status, Ended);
    let (book, id) = order_in(Accepted);
    assert_eq!(book.cancel(&id).unwrap().status, Cancelled);
}

#[test]
fn cancel_after_activation_is_a_conflict() {
    let (book, id) = order_in(Activated);
    let err = book.cancel(&id).unwrap_err();
    assert_eq!(
        err,
        TransitionError::Conflict {
            id: id.clone(),
            from: Activated,
            action: Action::Cancel
        }
    );
    assert_eq!(
        err.to_string(),
        "cannot cancel order ord-1: it is Activated"
    );
}

#[test]
fn activating_a_pending_order_is_a_conflict() {
    let (book, id) = order_in(Pending);
    assert!(matches!(
        book.activate(&id),
        Err(TransitionError::Conflict {
            from: Pending,
            action: Action::Activate,
            ..
        })
    ));
}

#[test]
fn terminal_orders_refuse_every_action() {
    for status in [Cancelled, Ended] {
        assert!(status.is_terminal());
        let (book, id) = order_in(status);
        for action in [
            Action::Accept,
            Action::Activate,
            Action::Cancel,
            Action::End,
        ] {
            assert!(book.apply(&id, action).is_err(), "{action} from {status}");
        }
    }
    assert!(!Pending.is_terminal() && !Accepted.is_terminal() && !Activated.is_terminal());
}

#[test]
fn unknown_ids_are_not_found_for_every_method() {
    let book = OrderBook::new();
    assert_eq!(book.get("ord-9"), None);
    let not_found = Err(TransitionError::NotFound { id: "ord-9".into() });
    assert_eq!(book.accept("ord-9"), not_found);
    assert_eq!(book.activate("ord-9"), not_found);
    assert_eq!(book.cancel("ord-9"), not_found);
    assert_eq!(book.end("ord-9"), not_found);
    assert_eq!(
        TransitionError::NotFound { id: "ord-9".into() }.to_string(),
        "order ord-9 not found"
    );
}

#[test]
fn stats_count_orders_by_current_status() {
    let book = OrderBook::new();
    let ids: Vec<String> = (0..6).map(|_| book.create(json!({})).id).collect();
    book.accept(&ids[1]).unwrap();
    book.accept(&ids[2]).unwrap();
    book.activate(&ids[2]).unwrap();
    book.cancel(&ids[3]).unwrap();
    book.accept(&ids[4]).unwrap();
    book.activate(&ids[4]).unwrap();
    book.end(&ids[4]).unwrap();
    book.accept(&ids[5]).unwrap();
    let _ = book.activate(&ids[0]); // refused: changes nothing
    let stats = book.stats();
    assert_eq!(stats.total, 6);
    assert_eq!(
        stats.by_status,
        ByStatus {
            pending: 1,
            accepted: 2,
            activated: 1,
            cancelled: 1,
            ended: 1
        }
    );
    assert_eq!(stats.by_status.terminal(), 2);
}

#[test]
fn stats_serialize_with_all_five_statuses_even_when_empty() {
    let v = serde_json::to_value(OrderBook::new().stats()).unwrap();
    assert_eq!(
        v,
        json!({
            "total": 0,
            "by_status": { "Pending": 0, "Accepted": 0, "Activated": 0, "Cancelled": 0, "Ended": 0 },
            "requests": 0
        })
    );
}

#[test]
fn cloned_books_share_state() {
    let book = OrderBook::new();
    let other = book.clone();
    let id = book.create(json!({})).id;
    other.cancel(&id).unwrap();
    assert_eq!(book.get(&id).unwrap().status, Cancelled);
}

fn faulty(drop_rate: f64, stall_rate: f64, error_rate: f64) -> OrdersConfig {
    OrdersConfig {
        drop_rate,
        stall_rate,
        error_rate,
        seed: 7,
        ..OrdersConfig::default()
    }
}

/// How often each fault came up in `n` decisions.
fn tally(chaos: &Chaos, n: u32) -> HashMap<&'static str, f64> {
    let mut counts = HashMap::new();
    for _ in 0..n {
        let name = match chaos.decide().fault {
            Fault::Pass => "pass",
            Fault::Error => "error",
            Fault::Drop => "drop",
            Fault::Stall => "stall",
        };
        *counts.entry(name).or_insert(0.0) += 1.0 / f64::from(n);
    }
    counts
}

fn near(counts: &HashMap<&str, f64>, name: &str, want: f64) {
    let got = counts.get(name).copied().unwrap_or(0.0);
    assert!((got - want).abs() < 0.02, "{name}: {got} vs {want}");
}

#[test]
fn accept_delays_are_reproducible_from_the_seed_and_stay_in_range() {
    let config = OrdersConfig {
        accept_delay_min: Duration::from_millis(10),
        accept_delay_max: Duration::from_millis(20),
        seed: 7,
        ..OrdersConfig::default()
    };
    let draws = |c: &Chaos| (0..50).map(|_| c.accept_delay()).collect::<Vec<_>>();
    let a = draws(&Chaos::new(&config));
    assert_eq!(a, draws(&Chaos::new(&config)));
    assert!(a.iter().any(|d| *d != a[0]), "the delays vary");
    for d in a {
        assert!((config.accept_delay_min..=config.accept_delay_max).contains(&d));
    }
}

#[test]
fn fault_draws_are_reproducible_from_the_seed() {
    let config = OrdersConfig {
        latency_min: Duration::from_millis(1),
        latency_max: Duration::from_millis(9),
        ..faulty(0.1, 0.1, 0.3)
    };
    let draws = |c: &Chaos| (0..200).map(|_| c.decide()).collect::<Vec<_>>();
    let a = draws(&Chaos::new(&config));
    assert_eq!(a, draws(&Chaos::new(&config)));
    let other = draws(&Chaos::new(&OrdersConfig { seed: 8, ..config }));
    assert_ne!(a, other);
}

#[test]
fn each_fault_comes_up_at_its_share() {
    let counts = tally(&Chaos::new(&faulty(0.05, 0.1, 0.2)), 20_000);
    near(&counts, "drop", 0.05);
    near(&counts, "stall", 0.1);
    near(&counts, "error", 0.2);
    near(&counts, "pass", 0.65);
}

#[test]
fn a_share_of_one_always_hits_and_zero_never_does() {
    for (config, always) in [
        (faulty(1.0, 0.0, 0.0), Fault::Drop),
        (faulty(0.0, 1.0, 0.0), Fault::Stall),
        (faulty(0.0, 0.0, 1.0), Fault::Error),
        (faulty(0.0, 0.0, 0.0), Fault::Pass),
    ] {
        let chaos = Chaos::new(&config);
        for _ in 0..200 {
            assert_eq!(chaos.decide().fault, always, "{config:?}");
        }
    }
}

#[test]
fn shares_above_one_in_total_go_to_drop_then_stall_then_error() {
    let counts = tally(&Chaos::new(&faulty(0.6, 0.3, 0.5)), 20_000);
    near(&counts, "drop", 0.6);
    near(&counts, "stall", 0.3);
    near(&counts, "error", 0.1);
    near(&counts, "pass", 0.0);
}

#[test]
fn out_of_range_and_nan_shares_are_clamped_and_swapped_ranges_tolerated() {
    let chaos = Chaos::new(&OrdersConfig {
        accept_delay_min: Duration::from_millis(5),
        accept_delay_max: Duration::from_millis(1),
        latency_min: Duration::from_millis(4),
        latency_max: Duration::from_millis(2),
        ..faulty(f64::NAN, -1.0, 3.0)
    });
    for _ in 0..100 {
        let d = chaos.accept_delay();
        assert!(d >= Duration::from_millis(1) && d <= Duration::from_millis(5));
        let Decision { latency, fault } = chaos.decide();
        assert!(latency >= Duration::from_millis(2) && latency <= Duration::from_millis(4));
        assert_eq!(fault, Fault::Error);
    }
}

#[test]
fn latency_is_drawn_in_range_and_a_fixed_one_is_exact() {
    let chaos = Chaos::new(&OrdersConfig {
        latency_min: Duration::from_millis(10),
        latency_max: Duration::from_millis(20),
        ..OrdersConfig::default()
    });
    let lat: Vec<Duration> = (0..100).map(|_| chaos.decide().latency).collect();
    assert!(
        lat.iter()
            .all(|d| (Duration::from_millis(10)..=Duration::from_millis(20)).contains(d))
    );
    assert!(lat.iter().any(|d| *d != lat[0]));
    let fixed = Chaos::new(&OrdersConfig {
        latency_min: Duration::from_millis(3),
        latency_max: Duration::from_millis(3),
        ..OrdersConfig::default()
    });
    assert_eq!(
        fixed.decide(),
        Decision {
            latency: Duration::from_millis(3),
            fault: Fault::Pass
        }
    );
}

#[test]
fn a_target_without_faults_draws_nothing_for_requests() {
    let config = OrdersConfig {
        accept_delay_min: Duration::from_millis(1),
        accept_delay_max: Duration::from_millis(100),
        ..OrdersConfig::default()
    };
    let (quiet, busy) = (Chaos::new(&config), Chaos::new(&config));
    for _ in 0..10 {
        assert_eq!(busy.decide().fault, Fault::Pass);
        assert_eq!(quiet.accept_delay(), busy.accept_delay());
    }
}

// ---- HTTP ----------------------------------------------------------------

fn fast_config() -> OrdersConfig {
    OrdersConfig {
        accept_delay_min: Duration::ZERO,
        accept_delay_max: Duration::from_millis(10),
        seed: 42,
        ..OrdersConfig::default()
    }
}

/// Returns the server on a free loopback port, its book and a proxy-free client.
async fn server(config: OrdersConfig) -> (Running, OrderBook, reqwest::Client) {
    let (running, book) = start_orders("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    (running, book, client)
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn get_json(client: &reqwest::Client, url: String) -> (u16, Value) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Polls `/details` until the order leaves Pending; at most about 2 s.
async fn until_accepted(client: &reqwest::Client, base: &str, id: &str) -> Value {
    for _ in 0..100 {
        let (code, order) = get_json(client, format!("{base}/details?orderId={id}")).await;
        assert_eq!(code, 200);
        if order["status"] != "Pending" {
            return order;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("order {id} still Pending after 2 s");
}

#[tokio::test]
async fn an_order_goes_through_create_accept_activate_end_over_http() {
    let (running, book, client) = server(fast_config()).await;
    let base = running.url.clone();

    let payload = json!({ "orderNumber": "ORD-2024-000001", "location": "US-EAST-1" });
    let (code, created) = post(&client, format!("{base}/operation/payload"), payload).await;
    assert_eq!(code, 202);
    assert_eq!(created["status"], "Pending");
    assert_eq!(created["orderNumber"], "ORD-2024-000001");
    assert!(created["createdAt"].is_string());
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id, "ord-1");

    let accepted = until_accepted(&client, &base, &id).await;
    assert_eq!(accepted["status"], "Accepted");
    assert_eq!(accepted["location"], "US-EAST-1");

    let (code, activated) = post(
        &client,
        format!("{base}/activate"),
        json!({ "orderId": id }),
    )
    .await;
    assert_eq!(
        (code, activated["status"].as_str()),
        (200, Some("Activated"))
    );

    let (code, ended) = post(&client, format!("{base}/end"), json!({ "orderId": id })).await;
    assert_eq!((code, ended["status"].as_str()), (200, Some("Ended")));

    let (code, stats) = get_json(&client, format!("{base}/stats")).await;
    assert_eq!(code, 200);
    assert_eq!(stats["total"], 1);
    assert_eq!(stats["by_status"]["Ended"], 1);
    assert_eq!(stats["by_status"]["Pending"], 0);
    assert!(stats["requests"].as_u64().unwrap() >= 5);
    assert_eq!(book.stats().by_status.ended, 1);
    running.stop().await;
}

#[tokio::test]
async fn illegal_transitions_over_http_are_409_with_the_current_status() {
    let config = OrdersConfig {
        accept_delay_min: Duration::from_secs(60),
        accept_delay_max: Duration::from_secs(60),
        ..fast_config()
    };
    let (running, _book, client) = server(config).await;
    let base = running.url.clone();
    let (_, created) = post(&client, format!("{base}/operation/payload"), json!({})).await;
    let id = created["id"].as_str().unwrap().to_owned();

    for route in ["activate", "end"] {
        let (code, body) = post(&client, format!("{base}/{route}"), json!({ "orderId": id })).await;
        assert_eq!(code, 409, "{route}");
        assert_eq!(body["status"], "Pending");
        assert!(body["error"].as_str().unwrap().contains(route), "{body}");
    }

    let (code, body) = post(&client, format!("{base}/cancel"), json!({ "orderId": id })).await;
    assert_eq!((code, body["status"].as_str()), (200, Some("Cancelled")));
    let (code, body) = post(&client, format!("{base}/cancel"), json!({ "orderId": id })).await;
    assert_eq!((code, body["status"].as_str()), (409, Some("Cancelled")));
    running.stop().await;
}

#[tokio::test]
async fn unknown_orders_are_404_on_every_route() {
    let (running, _book, client) = server(fast_config()).await;
    let base = running.url.clone();
    let (code, body) = get_json(&client, format!("{base}/details?orderId=ord-404")).await;
    assert_eq!(code, 404);
    assert_eq!(body["error"], "order ord-404 not found");
    for route in ["activate", "cancel", "end"] {
        let (code, body) = post(
            &client,
            format!("{base}/{route}"),
            json!({ "orderId": "ord-404" }),
        )
        .await;
        assert_eq!(code, 404, "{route}");
        assert!(body["error"].is_string());
    }
    let (code, body) = get_json(&client, format!("{base}/no/such/route")).await;
    assert_eq!(code, 404);
    assert_eq!(body["error"], "no route for GET /no/such/route");
    running.stop().await;
}

#[tokio::test]
async fn malformed_bodies_and_missing_ids_are_400_with_a_message() {
    let (running, book, client) = server(fast_config()).await;
    let base = running.url.clone();
    let raw = |route: &str, body: &'static str| {
        client
            .post(format!("{base}/{route}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases = [
        ("operation/payload", "{not json", "malformed JSON body"),
        ("operation/payload", "[1, 2]", "must be a JSON object"),
        ("operation/payload", "", "malformed JSON body"),
        ("activate", "{\"id\": \"ord-1\"}", "orderId"),
        ("cancel", "{\"orderId\": 7}", "orderId must be a string"),
        ("end", "oops", "malformed JSON body"),
    ];
    for (route, body, message) in cases {
        let response = raw(route, body).await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{route} {body}");
        let json: Value = response.json().await.unwrap();
        let error = json["error"].as_str().unwrap();
        assert!(error.contains(message), "{route} {body}: {error}");
    }
    let (code, body) = get_json(&client, format!("{base}/details")).await;
    assert_eq!(code, 400);
    assert_eq!(body["error"], "missing query parameter orderId");
    assert_eq!(book.stats().total, 0);
    running.stop().await;
}

#[tokio::test]
async fn creates_without_a_content_type_are_accepted() {
    let (running, _book, client) = server(fast_config()).await;
    let response = client
        .post(format!("{}/operation/payload", running.url))
        .body("{\"orderNumber\": \"X\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    running.stop().await;
}

#[tokio::test]
async fn injected_failures_are_500_on_every_route_but_stats_and_change_nothing() {
    let config = OrdersConfig {
        error_rate: 1.0,
        ..fast_config()
    };
    let (running, book, client) = server(config).await;
    let base = running.url.clone();
    // Put there behind the server's back: the API cannot create it.
    let id = book.create(json!({})).id;
    book.accept(&id).unwrap();
    for _ in 0..3 {
        let (code, body) = post(
            &client,
            format!("{base}/operation/payload"),
            json!({ "a": 1 }),
        )
        .await;
        assert_eq!(code, 500);
        assert_eq!(body, json!({ "error": "injected failure" }));
    }
    for route in ["activate", "cancel", "end"] {
        let (code, body) = post(&client, format!("{base}/{route}"), json!({ "orderId": id })).await;
        assert_eq!(
            (code, &body),
            (500, &json!({ "error": "injected failure" }))
        );
    }
    let (code, _) = get_json(&client, format!("{base}/details?orderId={id}")).await;
    assert_eq!(code, 500);
    let (code, stats) = get_json(&client, format!("{base}/stats")).await;
    assert_eq!(code, 200);
    assert_eq!(stats["total"], 1);
    assert_eq!(book.get(&id).unwrap().status, Accepted, "no transition ran");
    assert_eq!(book.stats().total, 1);
    assert_eq!(book.stats().requests, 8);
    running.stop().await;
}

/// Sends one raw HTTP/1.1 request and returns every byte the server sent back
/// before closing (a reset counts as nothing sent).
async fn raw_exchange(addr: std::net::SocketAddr, request: &str) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer))
        .await
        .expect("the connection is closed promptly");
    match read {
        Ok(_) => answer,
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => answer,
        Err(e) => panic!("read failed: {e}"),
    }
}

#[tokio::test]
async fn a_dropped_request_gets_no_answer_at_all_and_creates_nothing() {
    let config = OrdersConfig {
        drop_rate: 1.0,
        ..fast_config()
    };
    let (running, book, client) = server(config).await;
    let body = "{\"orderNumber\": \"ORD-1\"}";
    let request = format!(
        "POST /operation/payload HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(
        String::from_utf8_lossy(&raw_exchange(running.addr, &request).await),
        "",
        "not a single byte"
    );
    let get = "GET /details?orderId=ord-1 HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n";
    assert!(raw_exchange(running.addr, get).await.is_empty());

    // What an HTTP client sees: a failed request, not a timeout.
    let err = client
        .post(format!("{}/operation/payload", running.url))
        .body(body)
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_timeout() && err.is_request(), "{err:?}");

    // /stats is never dropped.
    let (code, stats) = get_json(&client, format!("{}/stats", running.url)).await;
    assert_eq!((code, &stats["total"]), (200, &json!(0)));
    assert_eq!(book.stats().requests, 4);
    running.stop().await;
}

#[tokio::test]
async fn a_stalled_request_outlasts_a_short_timeout_then_is_504_and_creates_nothing() {
    let config = OrdersConfig {
        stall_rate: 1.0,
        stall_delay: Duration::from_millis(300),
        ..fast_config()
    };
    let (running, book, client) = server(config).await;
    let url = format!("{}/operation/payload", running.url);
    let err = client
        .post(&url)
        .timeout(Duration::from_millis(100))
        .body("{}")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");

    let started = std::time::Instant::now();
    let (code, body) = post(&client, url, json!({})).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!((code, body), (504, json!({ "error": "injected stall" })));
    assert_eq!(book.stats().total, 0);
    running.stop().await;
}

#[tokio::test]
async fn stats_answers_at_once_when_every_other_route_stalls_or_lags_for_an_hour() {
    // An hour of stall or latency against the client's 5 s timeout: /stats
    // answering at all proves it is exempt, with no bound on how fast.
    let hour = Duration::from_secs(3600);
    for config in [
        OrdersConfig {
            stall_rate: 1.0,
            stall_delay: hour,
            ..fast_config()
        },
        OrdersConfig {
            latency_min: hour,
            latency_max: hour,
            ..fast_config()
        },
    ] {
        let (running, _, client) = server(config).await;
        let err = client
            .get(format!("{}/details?orderId=ord-1", running.url))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout(), "other routes are held: {err:?}");
        let (code, stats) = get_json(&client, format!("{}/stats", running.url)).await;
        assert_eq!((code, &stats["total"]), (200, &json!(0)));
        running.stop().await;
    }
}

#[tokio::test]
async fn latency_delays_every_route() {
    let config = OrdersConfig {
        latency_min: Duration::from_millis(150),
        latency_max: Duration::from_millis(200),
        ..fast_config()
    };
    let (running, book, client) = server(config).await;
    let started = std::time::Instant::now();
    let (code, _) = post(
        &client,
        format!("{}/operation/payload", running.url),
        json!({}),
    )
    .await;
    assert_eq!(code, 202);
    assert!(started.elapsed() >= Duration::from_millis(150));
    let started = std::time::Instant::now();
    let (code, _) = get_json(&client, format!("{}/details?orderId=ord-1", running.url)).await;
    assert_eq!(code, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(book.stats().total, 1);
    running.stop().await;
}

#[tokio::test]
async fn a_cancel_before_acceptance_wins_over_the_acceptance_task() {
    let config = OrdersConfig {
        accept_delay_min: Duration::from_millis(50),
        accept_delay_max: Duration::from_millis(50),
        ..fast_config()
    };
    let (running, book, client) = server(config).await;
    let base = running.url.clone();
    let (_, created) = post(&client, format!("{base}/operation/payload"), json!({})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (code, _) = post(&client, format!("{base}/cancel"), json!({ "orderId": id })).await;
    assert_eq!(code, 200);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(book.get(&id).unwrap().status, Cancelled);
    running.stop().await;
}
