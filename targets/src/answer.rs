//! What the targets share at the HTTP edge: `{"error": message}` answers,
//! and counting every request by `METHOD /route` for their `/stats`.

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A JSON error answer: `{"error": message}`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// A target's store that counts requests by route.
pub trait CountsRequests: Clone + Send + Sync + 'static {
    /// Counts one request to `route` (`POST /orders/{id}`, or `… (no route)`).
    fn note_request(&self, route: String);
}

/// Middleware: counts every request, by its matched route, in `store`.
pub async fn count_requests<S: CountsRequests>(
    State(store): State<S>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("(no route)", |p| p.as_str());
    store.note_request(format!("{} {route}", request.method()));
    next.run(request).await
}
