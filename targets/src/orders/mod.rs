//! The built-in orders target: an in-memory order book with the real order
//! lifecycle (Pending → Accepted → Activated → Ended, or Cancelled), asynchronous
//! acceptance after a random delay, and injected faults, served over the order
//! API described in DESIGN.md.
//!
//! Fault injection, so a runner's resilience can be tried against real failures.
//! Every request except `GET /stats` first waits the configured latency, then
//! meets at most one fault, drawn from one seeded generator:
//!
//! - **drop**: the connection is closed without any answer (the client sees the
//!   connection closed or reset, promptly);
//! - **stall**: nothing for `stall_delay` (default 60 s, longer than a client's
//!   usual timeout), then `504 {"error": "injected stall"}`;
//! - **error**: `500 {"error": "injected failure"}` at once.
//!
//! A fault is decided, and served, before the request touches any state: a
//! dropped, stalled or failed create never creates an order, a failed cancel
//! never cancels. That keeps the target's own counters an exact check of the
//! client. Real systems may differ: they can fail *after* committing (a create
//! that succeeded although the client saw a timeout or a reset), which a client
//! retrying non-idempotent calls must be ready for; this target does not play
//! that case.

mod faults;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value, json};

use crate::answer::error;
use faults::{Chaos, inject_faults};

/// How the orders target behaves: acceptance latency and fault injection.
///
/// The three fault shares are drawn from one uniform number per request, in the
/// order drop, stall, error: with shares adding up to at most 1 each is exact;
/// above 1, the later ones get what is left.
#[derive(Clone, Debug, PartialEq)]
pub struct OrdersConfig {
    /// Shortest wait before a created order turns Accepted.
    pub accept_delay_min: Duration,
    /// Longest wait before a created order turns Accepted.
    pub accept_delay_max: Duration,
    /// Shortest delay added before answering every request except `/stats`.
    pub latency_min: Duration,
    /// Longest delay added before answering every request except `/stats`.
    pub latency_max: Duration,
    /// Share (0.0..=1.0) of requests (all routes but `/stats`) answered 500 before
    /// anything is done.
    pub error_rate: f64,
    /// Share (0.0..=1.0) of requests (all routes but `/stats`) whose connection is
    /// closed without any answer, before anything is done.
    pub drop_rate: f64,
    /// Share (0.0..=1.0) of requests (all routes but `/stats`) answered only after
    /// `stall_delay`, with a 504, and without anything done.
    pub stall_rate: f64,
    /// How long a stalled request waits before its 504.
    pub stall_delay: Duration,
    /// Seed of the delay and fault draws, so a run can be reproduced.
    pub seed: u64,
}

impl Default for OrdersConfig {
    fn default() -> Self {
        Self {
            accept_delay_min: Duration::from_secs(1),
            accept_delay_max: Duration::from_secs(3),
            latency_min: Duration::ZERO,
            latency_max: Duration::ZERO,
            error_rate: 0.0,
            drop_rate: 0.0,
            stall_rate: 0.0,
            stall_delay: Duration::from_secs(60),
            seed: 0,
        }
    }
}

/// Where an order is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OrderStatus {
    /// Created, waiting for the system to accept it.
    Pending,
    /// Accepted by the system; may be activated or cancelled.
    Accepted,
    /// Activated; can only be ended.
    Activated,
    /// Cancelled before activation (terminal).
    Cancelled,
    /// Ended after activation (terminal).
    Ended,
}

impl OrderStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Pending,
        OrderStatus::Accepted,
        OrderStatus::Activated,
        OrderStatus::Cancelled,
        OrderStatus::Ended,
    ];

    /// True when no further transition is possible (Cancelled or Ended).
    pub fn is_terminal(self) -> bool {
        matches!(self, OrderStatus::Cancelled | OrderStatus::Ended)
    }

    /// The status name as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "Pending",
            OrderStatus::Accepted => "Accepted",
            OrderStatus::Activated => "Activated",
            OrderStatus::Cancelled => "Cancelled",
            OrderStatus::Ended => "Ended",
        }
    }

    /// Position in [`OrderStatus::ALL`], used to index per-status counters.
    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lifecycle transition that can be requested on an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Pending → Accepted (done by the server itself, after a delay).
    Accept,
    /// Accepted → Activated.
    Activate,
    /// Pending or Accepted → Cancelled.
    Cancel,
    /// Activated → Ended.
    End,
}

impl Action {
    /// The status this action leads to, if the order is in `from`; `None` if illegal.
    pub fn apply(self, from: OrderStatus) -> Option<OrderStatus> {
        use OrderStatus::*;
        match (self, from) {
            (Action::Accept, Pending) => Some(Accepted),
            (Action::Activate, Accepted) => Some(Activated),
            (Action::Cancel, Pending | Accepted) => Some(Cancelled),
            (Action::End, Activated) => Some(Ended),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Accept => "accept",
            Action::Activate => "activate",
            Action::Cancel => "cancel",
            Action::End => "end",
        })
    }
}

/// Why a lookup or transition on the order book failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// No order has this id.
    #[error("order {id} not found")]
    NotFound {
        /// The id that was asked for.
        id: String,
    },
    /// The order exists but its status does not allow the action.
    #[error("cannot {action} order {id}: it is {from}")]
    Conflict {
        /// The order's id.
        id: String,
        /// The order's status, unchanged.
        from: OrderStatus,
        /// The action that was refused.
        action: Action,
    },
}

/// One stored order: the client's payload plus the server's id, status and creation time.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    /// Server-assigned id, like `ord-1`.
    pub id: String,
    /// Current lifecycle status.
    pub status: OrderStatus,
    /// When the order was created (wall clock).
    pub created_at: SystemTime,
    /// The payload's fields as sent, minus the reserved keys `id`, `status`, `createdAt`.
    pub fields: Map<String, Value>,
}

/// Keys the server owns in the order JSON; payload fields with these names are dropped.
const RESERVED_KEYS: [&str; 3] = ["id", "status", "createdAt"];

impl Serialize for Order {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len() + 3))?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("status", &self.status)?;
        map.serialize_entry(
            "createdAt",
            &humantime::format_rfc3339_millis(self.created_at).to_string(),
        )?;
        for (key, value) in &self.fields {
            if !RESERVED_KEYS.contains(&key.as_str()) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// Number of orders in each status; every status is always present when serialized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByStatus {
    /// Orders waiting for acceptance.
    #[serde(rename = "Pending")]
    pub pending: u64,
    /// Orders accepted, not yet activated or cancelled.
    #[serde(rename = "Accepted")]
    pub accepted: u64,
    /// Orders activated, not yet ended.
    #[serde(rename = "Activated")]
    pub activated: u64,
    /// Orders cancelled.
    #[serde(rename = "Cancelled")]
    pub cancelled: u64,
    /// Orders ended.
    #[serde(rename = "Ended")]
    pub ended: u64,
}

impl ByStatus {
    /// The count for one status.
    pub fn get(&self, status: OrderStatus) -> u64 {
        match status {
            OrderStatus::Pending => self.pending,
            OrderStatus::Accepted => self.accepted,
            OrderStatus::Activated => self.activated,
            OrderStatus::Cancelled => self.cancelled,
            OrderStatus::Ended => self.ended,
        }
    }

    /// Orders in a terminal status (Cancelled + Ended).
    pub fn terminal(&self) -> u64 {
        self.cancelled + self.ended
    }
}

/// The server-side view of a run, so anyone can check the end state (`GET /stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Orders ever created.
    pub total: u64,
    /// Orders per current status.
    pub by_status: ByStatus,
    /// HTTP requests served (all routes, all outcomes).
    #[serde(default)]
    pub requests: u64,
}

/// Shared, cheaply cloned order store holding the lifecycle state machine.
#[derive(Clone, Debug, Default)]
pub struct OrderBook {
    inner: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<BookState>,
    requests: AtomicU64,
}

#[derive(Debug, Default)]
struct BookState {
    next_id: u64,
    orders: HashMap<String, Order>,
    counts: [u64; 5],
}

impl OrderBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Locks the state; a panic elsewhere must not take the server down, so poison is ignored.
    fn lock(&self) -> MutexGuard<'_, BookState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a new Pending order; an object payload's fields become the order's fields,
    /// any other value is kept under the key `payload`.
    pub fn create(&self, payload: Value) -> Order {
        let mut fields = match payload {
            Value::Object(map) => map,
            other => Map::from_iter([("payload".to_owned(), other)]),
        };
        for key in RESERVED_KEYS {
            fields.remove(key);
        }
        let mut state = self.lock();
        state.next_id += 1;
        let order = Order {
            id: format!("ord-{}", state.next_id),
            status: OrderStatus::Pending,
            created_at: SystemTime::now(),
            fields,
        };
        state.counts[OrderStatus::Pending.index()] += 1;
        state.orders.insert(order.id.clone(), order.clone());
        order
    }

    /// The order with this id, if any.
    pub fn get(&self, id: &str) -> Option<Order> {
        self.lock().orders.get(id).cloned()
    }

    /// The order whose payload field `orderNumber` is `number` (lets a client
    /// that lost an order's id, e.g. after a crash, find it again).
    pub fn find_by_number(&self, number: &str) -> Option<Order> {
        self.lock()
            .orders
            .values()
            .find(|o| o.fields.get("orderNumber").and_then(Value::as_str) == Some(number))
            .cloned()
    }

    /// Applies `action` to order `id`, returning the order after the transition.
    pub fn apply(&self, id: &str, action: Action) -> Result<Order, TransitionError> {
        let mut state = self.lock();
        let BookState { orders, counts, .. } = &mut *state;
        let order = orders
            .get_mut(id)
            .ok_or_else(|| TransitionError::NotFound { id: id.to_owned() })?;
        let from = order.status;
        let to = action
            .apply(from)
            .ok_or_else(|| TransitionError::Conflict {
                id: id.to_owned(),
                from,
                action,
            })?;
        order.status = to;
        counts[from.index()] -= 1;
        counts[to.index()] += 1;
        Ok(order.clone())
    }

    /// Pending → Accepted; what the server's acceptance task does after its delay.
    pub fn accept(&self, id: &str) -> Result<Order, TransitionError> {
        self.apply(id, Action::Accept)
    }

    /// Accepted → Activated.
    pub fn activate(&self, id: &str) -> Result<Order, TransitionError> {
        self.apply(id, Action::Activate)
    }

    /// Pending or Accepted → Cancelled.
    pub fn cancel(&self, id: &str) -> Result<Order, TransitionError> {
        self.apply(id, Action::Cancel)
    }

    /// Activated → Ended.
    pub fn end(&self, id: &str) -> Result<Order, TransitionError> {
        self.apply(id, Action::End)
    }

    /// Counts of orders by status, plus requests served.
    pub fn stats(&self) -> Stats {
        let state = self.lock();
        let c = state.counts;
        let by_status = ByStatus {
            pending: c[OrderStatus::Pending.index()],
            accepted: c[OrderStatus::Accepted.index()],
            activated: c[OrderStatus::Activated.index()],
            cancelled: c[OrderStatus::Cancelled.index()],
            ended: c[OrderStatus::Ended.index()],
        };
        Stats {
            total: state.orders.len() as u64,
            by_status,
            requests: self.inner.requests.load(Ordering::Relaxed),
        }
    }

    /// Counts one served HTTP request.
    fn note_request(&self) {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Clone, Debug)]
struct AppState {
    book: OrderBook,
    chaos: Arc<Chaos>,
}

/// The order API over `book`, behaving as `config` says.
pub fn router(book: OrderBook, config: OrdersConfig) -> Router {
    let chaos = Arc::new(Chaos::new(&config));
    let state = AppState {
        book: book.clone(),
        chaos: chaos.clone(),
    };
    Router::new()
        .route("/operation/payload", post(create_order))
        .route("/details", get(details))
        .route("/activate", post(activate))
        .route("/cancel", post(cancel))
        .route("/end", post(end))
        .route("/stats", get(stats))
        .fallback(no_route)
        .with_state(state)
        // Outermost last: every request is counted, dropped and stalled ones too.
        .layer(middleware::from_fn_with_state(chaos, inject_faults))
        .layer(middleware::from_fn_with_state(book, count_request))
}

impl IntoResponse for TransitionError {
    fn into_response(self) -> Response {
        match &self {
            TransitionError::NotFound { .. } => error(StatusCode::NOT_FOUND, self.to_string()),
            TransitionError::Conflict { id, from, .. } => (
                StatusCode::CONFLICT,
                Json(json!({ "error": self.to_string(), "orderId": id, "status": from })),
            )
                .into_response(),
        }
    }
}

/// A request the server cannot read; answered 400 with `{"error": message}`.
#[derive(Debug)]
struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        error(StatusCode::BAD_REQUEST, self.0)
    }
}

/// Parses a request body that must be a JSON object, or says why not.
fn json_object(body: &[u8]) -> Result<Map<String, Value>, BadRequest> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(BadRequest(format!(
            "body must be a JSON object, got {}",
            json_kind(&other)
        ))),
        Err(e) => Err(BadRequest(format!("malformed JSON body: {e}"))),
    }
}

/// The JSON type name of a value, for error messages.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads `{"orderId": "..."}` from a transition request body.
fn order_id_from(body: &[u8]) -> Result<String, BadRequest> {
    let map = json_object(body)?;
    match map.get("orderId") {
        Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
        Some(Value::String(_)) => Err(BadRequest("orderId is empty".into())),
        Some(other) => Err(BadRequest(format!(
            "orderId must be a string, got {}",
            json_kind(other)
        ))),
        None => Err(BadRequest("body must contain the field orderId".into())),
    }
}

async fn count_request(State(book): State<OrderBook>, request: Request, next: Next) -> Response {
    book.note_request();
    next.run(request).await
}

async fn create_order(State(app): State<AppState>, body: Bytes) -> Response {
    let payload = match json_object(&body) {
        Ok(map) => map,
        Err(bad) => return bad.into_response(),
    };
    let delay = app.chaos.accept_delay();
    let order = app.book.create(Value::Object(payload));
    tracing::debug!(id = %order.id, ?delay, "order created");
    let book = app.book.clone();
    let id = order.id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        // A cancel may have come first; then there is nothing to accept.
        match book.accept(&id) {
            Ok(_) => tracing::debug!(%id, "order accepted"),
            Err(e) => tracing::debug!(%id, error = %e, "order not accepted"),
        }
    });
    (StatusCode::ACCEPTED, Json(order)).into_response()
}

/// Query of `GET /details`.
#[derive(Debug, Deserialize)]
struct DetailsQuery {
    #[serde(rename = "orderId")]
    order_id: Option<String>,
    #[serde(rename = "orderNumber")]
    order_number: Option<String>,
}

async fn details(
    State(app): State<AppState>,
    query: Result<Query<DetailsQuery>, QueryRejection>,
) -> Response {
    let id = match query {
        Ok(Query(DetailsQuery {
            order_id: Some(id), ..
        })) if !id.is_empty() => id,
        // Lookup by order number (not in the reference API; used by `runner resume`).
        Ok(Query(DetailsQuery {
            order_number: Some(n),
            ..
        })) if !n.is_empty() => {
            return match app.book.find_by_number(&n) {
                Some(order) => Json(order).into_response(),
                None => error(
                    StatusCode::NOT_FOUND,
                    format!("no order with orderNumber {n}"),
                ),
            };
        }
        Ok(_) => {
            return error(StatusCode::BAD_REQUEST, "missing query parameter orderId");
        }
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("bad query: {e}")),
    };
    match app.book.get(&id) {
        Some(order) => Json(order).into_response(),
        None => TransitionError::NotFound { id }.into_response(),
    }
}

/// Shared body of the transition routes: parse the id, apply, answer.
fn transition(app: &AppState, body: &[u8], action: Action) -> Response {
    let id = match order_id_from(body) {
        Ok(id) => id,
        Err(bad) => return bad.into_response(),
    };
    match app.book.apply(&id, action) {
        Ok(order) => {
            tracing::debug!(%id, %action, status = %order.status, "order transition");
            Json(order).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn activate(State(app): State<AppState>, body: Bytes) -> Response {
    transition(&app, &body, Action::Activate)
}

async fn cancel(State(app): State<AppState>, body: Bytes) -> Response {
    transition(&app, &body, Action::Cancel)
}

async fn end(State(app): State<AppState>, body: Bytes) -> Response {
    transition(&app, &body, Action::End)
}

async fn stats(State(app): State<AppState>) -> Json<Stats> {
    Json(app.book.stats())
}

async fn no_route(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("no route for {method} {}", uri.path()),
    )
}
