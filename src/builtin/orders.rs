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

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper::body::Frame;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value, json};

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

/// What the target does with one request (all routes but `/stats`), decided
/// before the request touches any state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// Served normally.
    Pass,
    /// Answered 500 at once.
    Error,
    /// Connection closed without an answer.
    Drop,
    /// Answered 504 after the stall delay.
    Stall,
}

/// One request's draw: the latency to add, then what happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Decision {
    latency: Duration,
    fault: Fault,
}

/// Acceptance delays, latency and fault injection, drawn from one seeded generator.
#[derive(Debug)]
struct Chaos {
    delay_min: Duration,
    delay_max: Duration,
    latency_min: Duration,
    latency_max: Duration,
    /// Upper bounds of the cumulative shares: drop, then stall, then error.
    drop_below: f64,
    stall_below: f64,
    error_below: f64,
    stall_delay: Duration,
    rng: Mutex<ChaCha8Rng>,
}

/// `(a, b)` in ascending order.
fn ordered(a: Duration, b: Duration) -> (Duration, Duration) {
    if a <= b { (a, b) } else { (b, a) }
}

/// A share clamped into 0.0..=1.0; NaN counts as 0.
fn share(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

/// A uniform draw in `min..=max`.
fn between(rng: &mut ChaCha8Rng, min: Duration, max: Duration) -> Duration {
    if min == max {
        return min;
    }
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(nanos(min)..=nanos(max)))
}

impl Chaos {
    fn new(config: &OrdersConfig) -> Self {
        let (delay_min, delay_max) = ordered(config.accept_delay_min, config.accept_delay_max);
        let (latency_min, latency_max) = ordered(config.latency_min, config.latency_max);
        let drop_below = share(config.drop_rate);
        let stall_below = (drop_below + share(config.stall_rate)).min(1.0);
        let error_below = (stall_below + share(config.error_rate)).min(1.0);
        Self {
            delay_min,
            delay_max,
            latency_min,
            latency_max,
            drop_below,
            stall_below,
            error_below,
            stall_delay: config.stall_delay,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed)),
        }
    }

    fn rng(&self) -> MutexGuard<'_, ChaCha8Rng> {
        self.rng.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides one request. A target without latency or faults draws nothing, so
    /// its acceptance delays are the same whatever the traffic.
    fn decide(&self) -> Decision {
        let latency_fixed = self.latency_min == self.latency_max;
        if latency_fixed && self.error_below == 0.0 {
            return Decision {
                latency: self.latency_min,
                fault: Fault::Pass,
            };
        }
        let mut rng = self.rng();
        let latency = between(&mut rng, self.latency_min, self.latency_max);
        let fault = if self.error_below == 0.0 {
            Fault::Pass
        } else {
            let u: f64 = rng.random(); // 0.0..1.0, so a share of 1.0 always hits
            if u < self.drop_below {
                Fault::Drop
            } else if u < self.stall_below {
                Fault::Stall
            } else if u < self.error_below {
                Fault::Error
            } else {
                Fault::Pass
            }
        };
        Decision { latency, fault }
    }

    /// How long a new order stays Pending.
    fn accept_delay(&self) -> Duration {
        between(&mut self.rng(), self.delay_min, self.delay_max)
    }
}

/// A response body that fails on its first poll, before any byte is sent.
///
/// hyper (HTTP/1.1) keeps the status line in its write buffer until the body's
/// first frame is ready; when the body fails instead, it gives up the connection
/// and drops the socket with the buffer unsent. The client sees the connection
/// closed (or reset) without any answer, at once. This is how a drop is served
/// through axum, whose handlers never see the socket. Over HTTP/2 the same body
/// resets only the stream, after the headers.
#[derive(Debug)]
struct Severed;

impl hyper::body::Body for Severed {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Poll::Ready(Some(Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "injected drop",
        ))))
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

/// A JSON error answer: `{"error": message}`.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
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

/// Latency, then at most one fault, for every route but `/stats`; a request
/// that meets a fault never reaches its handler, so no state changes.
async fn inject_faults(State(chaos): State<Arc<Chaos>>, request: Request, next: Next) -> Response {
    if request.uri().path() == "/stats" {
        return next.run(request).await;
    }
    let Decision { latency, fault } = chaos.decide();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (method, path) = (request.method(), request.uri().path());
    match fault {
        Fault::Pass => next.run(request).await,
        Fault::Error => {
            tracing::debug!(%method, path, "injected failure");
            error(StatusCode::INTERNAL_SERVER_ERROR, "injected failure")
        }
        Fault::Drop => {
            tracing::debug!(%method, path, "injected drop");
            Response::new(Body::new(Severed))
        }
        Fault::Stall => {
            tracing::debug!(%method, path, delay = ?chaos.stall_delay, "injected stall");
            tokio::time::sleep(chaos.stall_delay).await;
            error(StatusCode::GATEWAY_TIMEOUT, "injected stall")
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::{Running, start_orders};
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
            let (code, body) =
                post(&client, format!("{base}/{route}"), json!({ "orderId": id })).await;
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
            let (code, body) =
                post(&client, format!("{base}/{route}"), json!({ "orderId": id })).await;
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
}
