//! The order-api target (seed 002, an order REST API): `/health`, create
//! with items and computed totals, a cursor-paginated list, get, and status
//! changes along the legal transitions only (others 409), validation errors
//! 400. Where the seed is silent (docs/targets.md): the list is newest first
//! as `{orders, next_cursor, has_more}` with `limit` 1..100 (default 10), and
//! errors are `{"error": message}`. `/stats` is this target's own helper.

mod store;

pub use store::{ApiError, Item, NewOrder, Order, OrderApiStore, Page, Stats, Status, cursor_of};

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::answer::{count_requests, error};
use crate::mishaps::{self, Faults, Mishaps};

/// How the target behaves.
#[derive(Clone, Debug, Default)]
pub struct OrderApiConfig {
    /// Latency and faults on every route but `/stats` and `/health`.
    pub faults: Faults,
    /// Seed of the fault draws.
    pub seed: u64,
}

/// The API over `store`.
pub fn router(store: OrderApiStore, config: OrderApiConfig) -> Router {
    let mishaps = Arc::new(Mishaps::from_faults(&config.faults, config.seed));
    let api = Router::new()
        .route("/api/v1/orders", get(list).post(create))
        .route("/api/v1/orders/{id}", get(one))
        .route("/api/v1/orders/{id}/status", put(status))
        .route_layer(middleware::from_fn_with_state(mishaps, mishaps::inject));
    api.route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .route("/stats", get(stats))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .with_state(store.clone())
        .layer(middleware::from_fn_with_state(
            store,
            count_requests::<OrderApiStore>,
        ))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
        };
        error(status, self.to_string())
    }
}

/// A JSON body, or 400 saying why it is not one.
fn body<T: serde::de::DeserializeOwned>(
    store: &OrderApiStore,
    bytes: &[u8],
) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .or_else(|e| store.count_invalid(Err(ApiError::Invalid(format!("invalid JSON body: {e}")))))
}

#[derive(Deserialize)]
struct CreateBody {
    #[serde(default)]
    customer_name: String,
    #[serde(default)]
    customer_email: String,
    #[serde(default)]
    items: Vec<ItemBody>,
}

#[derive(Deserialize)]
struct ItemBody {
    #[serde(default)]
    product_name: String,
    #[serde(default)]
    quantity: i64,
    #[serde(default)]
    unit_price: f64,
}

async fn create(State(store): State<OrderApiStore>, bytes: Bytes) -> Result<Response, ApiError> {
    let b: CreateBody = body(&store, &bytes)?;
    let new = NewOrder {
        customer_name: b.customer_name,
        customer_email: b.customer_email,
        items: b
            .items
            .into_iter()
            .map(|i| (i.product_name, i.quantity, i.unit_price))
            .collect(),
    };
    let order = store.create(new, SystemTime::now())?;
    Ok((StatusCode::CREATED, Json(order)).into_response())
}

/// An order id from the path, or 400.
fn id(store: &OrderApiStore, text: &str) -> Result<u64, ApiError> {
    text.parse().or_else(|_| {
        store.count_invalid(Err(ApiError::Invalid(format!(
            "order id {text:?} is not a number"
        ))))
    })
}

async fn one(
    State(store): State<OrderApiStore>,
    Path(raw): Path<String>,
) -> Result<Json<Order>, ApiError> {
    Ok(Json(store.get(id(&store, &raw)?)?))
}

#[derive(Deserialize)]
struct StatusBody {
    #[serde(default)]
    status: String,
}

async fn status(
    State(store): State<OrderApiStore>,
    Path(raw): Path<String>,
    bytes: Bytes,
) -> Result<Json<Order>, ApiError> {
    let id = id(&store, &raw)?;
    let b: StatusBody = body(&store, &bytes)?;
    let Some(to) = Status::parse(&b.status) else {
        let refused = Err(ApiError::Invalid(format!(
            "status {:?} is not one of pending, processing, completed, cancelled",
            b.status
        )));
        return store.count_invalid(refused);
    };
    Ok(Json(store.set_status(id, to, SystemTime::now())?))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

/// Most orders on a page.
const MAX_LIMIT: usize = 100;

async fn list(
    State(store): State<OrderApiStore>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page>, ApiError> {
    let limit = match q.limit.as_deref() {
        None | Some("") => 10,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                let refused = Err(ApiError::Invalid(format!(
                    "limit {text:?} must be a whole number from 1 to {MAX_LIMIT}"
                )));
                return store.count_invalid(refused);
            }
        },
    };
    let cursor = q.cursor.filter(|c| !c.is_empty());
    let page = store.list(limit, cursor.as_deref());
    Ok(Json(store.count_invalid(page)?))
}

async fn stats(State(store): State<OrderApiStore>) -> Json<Value> {
    Json(json!(store.stats()))
}

#[cfg(test)]
mod tests;
