//! The order-service target (seed 001, a concurrent in-memory order
//! service): submit, list by time range (`from`, `to`), get, `POST
//! /orders/process` (pending orders go to processing and ship after a delay,
//! each in a task of its own), status, delete (pending only), and the seed's
//! bonus cancel (`POST /orders/{id}/cancel`, unless shipped). Where the seed
//! is silent (docs/targets.md): ids are `order_N`, the list answers
//! `{orders, count}` oldest first, refusals are 400/404/409 with
//! `{"error": message}`. `/stats` is this target's own helper.

mod store;

pub use store::{Item, Order, OrderServiceStore, ServiceError, Stats, Status};

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::answer::{count_requests, error};
use crate::mishaps::{self, Faults, Mishaps, between, ordered};

/// How the target behaves.
#[derive(Clone, Debug)]
pub struct OrderServiceConfig {
    /// Shortest time from processing to shipped.
    pub ship_delay_min: Duration,
    /// Longest.
    pub ship_delay_max: Duration,
    /// Latency and faults on every route but `/stats` and `/health`.
    pub faults: Faults,
    /// Seed of the delays and fault draws.
    pub seed: u64,
}

impl Default for OrderServiceConfig {
    fn default() -> Self {
        Self {
            ship_delay_min: Duration::from_millis(500),
            ship_delay_max: Duration::from_secs(2),
            faults: Faults::default(),
            seed: 0,
        }
    }
}

#[derive(Clone)]
struct App {
    store: OrderServiceStore,
    ship_delay: (Duration, Duration),
    rng: Arc<std::sync::Mutex<ChaCha8Rng>>,
}

/// The API over `store`.
pub fn router(store: OrderServiceStore, config: OrderServiceConfig) -> Router {
    let mishaps = Arc::new(Mishaps::from_faults(&config.faults, config.seed));
    let ship_delay = ordered(config.ship_delay_min, config.ship_delay_max);
    let app = App {
        store: store.clone(),
        ship_delay,
        rng: Arc::new(std::sync::Mutex::new(ChaCha8Rng::seed_from_u64(
            config.seed,
        ))),
    };
    Router::new()
        .route("/orders", get(list).post(submit))
        .route("/orders/process", post(process))
        .route("/orders/status/{id}", get(status))
        .route("/orders/{id}", get(one).delete(delete))
        .route("/orders/{id}/cancel", post(cancel))
        .route_layer(middleware::from_fn_with_state(mishaps, mishaps::inject))
        .route("/stats", get(stats))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .with_state(app)
        .layer(middleware::from_fn_with_state(
            store,
            count_requests::<OrderServiceStore>,
        ))
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        let status = match self {
            ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict { .. } => StatusCode::CONFLICT,
        };
        error(status, self.to_string())
    }
}

#[derive(Deserialize)]
struct SubmitBody {
    #[serde(default)]
    customer: String,
    #[serde(default)]
    items: Vec<ItemBody>,
}

#[derive(Deserialize)]
struct ItemBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    quantity: i64,
}

async fn submit(State(app): State<App>, bytes: Bytes) -> Result<Response, ServiceError> {
    let body: SubmitBody = serde_json::from_slice(&bytes).or_else(|e| {
        app.store.count_refusal(Err(ServiceError::Invalid(format!(
            "invalid JSON body: {e}"
        ))))
    })?;
    let items = body
        .items
        .into_iter()
        .map(|i| (i.name, i.quantity))
        .collect();
    let order = app.store.submit(&body.customer, items, SystemTime::now())?;
    let answer = json!({ "id": order.id, "status": order.status });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

#[derive(Deserialize)]
struct Range {
    from: Option<String>,
    to: Option<String>,
}

async fn list(
    State(app): State<App>,
    Query(range): Query<Range>,
) -> Result<Json<Value>, ServiceError> {
    let parse = |name: &str, text: Option<String>| match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => parse_time(&t).map(Some).or_else(|_| {
            app.store.count_refusal(Err(ServiceError::Invalid(format!(
                "{name} {t:?} is not an ISO timestamp, e.g. 2025-06-14T17:47:05Z"
            ))))
        }),
    };
    let from = parse("from", range.from)?;
    let to = parse("to", range.to)?;
    let orders = app.store.list(from, to);
    Ok(Json(json!({ "orders": orders, "count": orders.len() })))
}

/// An ISO 8601 time: RFC 3339 with any offset (`Z`, `+01:00`), or without
/// one (read as UTC).
fn parse_time(text: &str) -> Result<SystemTime, ()> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(SystemTime::from(t));
    }
    humantime::parse_rfc3339_weak(text).map_err(|_| ())
}

async fn one(State(app): State<App>, Path(id): Path<String>) -> Result<Json<Order>, ServiceError> {
    Ok(Json(app.store.get(&id)?))
}

async fn status(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ServiceError> {
    let order = app.store.get(&id)?;
    Ok(Json(json!({ "id": order.id, "status": order.status })))
}

async fn delete(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ServiceError> {
    app.store.delete(&id)?;
    Ok(Json(json!({ "message": "Order deleted" })))
}

async fn cancel(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ServiceError> {
    let order = app.store.cancel(&id)?;
    Ok(Json(json!({ "id": order.id, "status": order.status })))
}

/// Every pending order goes to processing now and ships after its own delay.
async fn process(State(app): State<App>) -> Json<Value> {
    let taken = app.store.take_pending();
    for id in taken {
        let delay = {
            let mut rng = app
                .rng
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            between(&mut rng, app.ship_delay.0, app.ship_delay.1)
        };
        let store = app.store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            store.ship(&id);
        });
    }
    Json(json!({ "message": "Processing started" }))
}

async fn stats(State(app): State<App>) -> Json<Value> {
    Json(json!(app.store.stats()))
}

#[cfg(test)]
mod tests;
