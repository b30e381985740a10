//! The order-processor target (seed 003, a real-time order processor with a
//! priority worker pool): `POST /orders` validates the seed's business rules
//! (400), queues the order in a bounded buffer (503 when full) and answers
//! 201 with it; N workers take the most urgent order first; `GET /stats` and
//! `GET /health` as in the seed, the stats with per-priority processed counts
//! and waits. Where the seed is silent (docs/targets.md): the status code of a
//! create (201), `GET /orders/{id}` to read one order, errors as `{"error": …}`.

mod pool;

pub use pool::{MAX_AMOUNT, MAX_ITEMS, NewOrder, Order, PRIORITY_AMOUNT, Pool, Refusal};

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::answer::{count_requests, error};
use crate::mishaps::{self, Faults, Mishaps, between, ordered};

/// How the target behaves.
#[derive(Clone, Debug)]
pub struct OrderProcessorConfig {
    /// Workers taking orders (the seed's default is 10).
    pub workers: usize,
    /// Orders the buffer holds while they wait (the seed's default is 100).
    pub capacity: usize,
    /// Shortest time a worker spends on an order.
    pub process_min: Duration,
    /// Longest.
    pub process_max: Duration,
    /// Latency and faults on every route but `/stats` and `/health`.
    pub faults: Faults,
    /// Seed of the processing times and fault draws.
    pub seed: u64,
}

impl Default for OrderProcessorConfig {
    fn default() -> Self {
        Self {
            workers: 10,
            capacity: 100,
            process_min: Duration::from_millis(20),
            process_max: Duration::from_millis(80),
            faults: Faults::default(),
            seed: 0,
        }
    }
}

/// Starts `pool.workers()` workers until `stop`; each takes the most urgent
/// order and spends a time drawn from the config on it.
pub fn spawn_workers(pool: &Pool, config: &OrderProcessorConfig, stop: CancellationToken) {
    let rng = Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(config.seed)));
    let (lo, hi) = ordered(config.process_min, config.process_max);
    for _ in 0..pool.workers() {
        let (pool, rng, stop) = (pool.clone(), rng.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let (id, priority, wait) = tokio::select! {
                    taken = pool.take() => taken,
                    _ = stop.cancelled() => return,
                };
                let took = between(
                    &mut rng.lock().unwrap_or_else(PoisonError::into_inner),
                    lo,
                    hi,
                );
                tokio::select! {
                    _ = tokio::time::sleep(took) => {}
                    _ = stop.cancelled() => return,
                }
                pool.complete(&id, priority, wait, took);
            }
        });
    }
}

/// The API over `pool`.
pub fn router(pool: Pool, config: &OrderProcessorConfig) -> Router {
    let mishaps = Arc::new(Mishaps::from_faults(&config.faults, config.seed));
    Router::new()
        .route("/orders", post(create))
        .route("/orders/{id}", get(one))
        .route_layer(middleware::from_fn_with_state(mishaps, mishaps::inject))
        .route("/stats", get(stats))
        .route("/health", get(health))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .with_state(pool.clone())
        .layer(middleware::from_fn_with_state(pool, count_requests::<Pool>))
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = match self {
            Refusal::Invalid(_) => StatusCode::BAD_REQUEST,
            Refusal::Duplicate(_) => StatusCode::CONFLICT,
            Refusal::Full(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        let mut response = error(status, self.to_string());
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

#[derive(Deserialize)]
struct CreateBody {
    id: Option<String>,
    #[serde(default)]
    amount: f64,
    #[serde(default)]
    items: Vec<String>,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    priority: i64,
    #[serde(default)]
    notes: String,
}

async fn create(State(pool): State<Pool>, bytes: Bytes) -> Result<Response, Refusal> {
    let body: CreateBody = serde_json::from_slice(&bytes).map_err(|e| {
        pool.note_invalid();
        Refusal::Invalid(format!("invalid JSON body: {e}"))
    })?;
    let new = NewOrder {
        id: body.id,
        amount: body.amount,
        items: body.items,
        customer: body.customer,
        address: body.address,
        priority: body.priority,
        notes: body.notes,
    };
    let order = pool.submit(new, SystemTime::now())?;
    Ok((StatusCode::CREATED, Json(order)).into_response())
}

async fn one(State(pool): State<Pool>, Path(id): Path<String>) -> Response {
    match pool.get(&id) {
        Some(order) => Json(order).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("order {id} not found")),
    }
}

async fn stats(State(pool): State<Pool>) -> Json<Value> {
    Json(pool.stats())
}

async fn health(State(pool): State<Pool>) -> Json<Value> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Json(json!({
        "status": "healthy",
        "timestamp": now,
        "pool": { "healthy": true, "queue_length": pool.queue_length(), "workers": pool.workers() },
    }))
}

#[cfg(test)]
mod tests;
