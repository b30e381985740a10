//! The HTTP face of the user service: routes, the bearer-token extractor, request
//! counting, fault injection and rate limiting. Handlers parse, call the store once
//! and render; every rule lives in [`UserStore`].

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::auth::unix_secs;
use super::error::StoreError;
use super::model::{Fields, NewUser, PermissionInput, ProfileInput, RoleInput, User, UserUpdate};
use super::search::page_params;
use super::sessions::TokenGrant;
use super::store::{Principal, UserStore};
use super::{API_PREFIX, Registration, UsersConfig, dialect};
use crate::answer::error;
use crate::mishaps::{self, Fault, Mishaps, Rates};

#[derive(Clone, Debug)]
struct AppState {
    store: UserStore,
    registration: Registration,
    chaos: Arc<Mishaps>,
    limiter: Option<Arc<RateLimiter>>,
}

/// The user API over `store`, behaving as `config` says (rate limit, failures, latency).
///
/// Per-client rate limiting uses the peer address when the router is served with
/// `into_make_service_with_connect_info::<SocketAddr>()`, else `X-Forwarded-For`,
/// else one shared bucket for all token-less callers.
pub fn router(store: UserStore, config: UsersConfig) -> Router {
    let dialect = config.dialect;
    let state = AppState {
        store: store.clone(),
        registration: config.registration,
        chaos: Arc::new(Mishaps::new(
            (config.latency_min, config.latency_max),
            Rates {
                error: config.error_rate,
                ..Rates::default()
            },
            Duration::ZERO,
            config.seed,
        )),
        limiter: (config.rate_limit > 0).then(|| Arc::new(RateLimiter::new(config.rate_limit))),
    };
    let api = Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/refresh", post(refresh))
        .route("/auth/me", post(me))
        .route("/users", get(list_users).post(create_user))
        .route("/users/search", get(search_users))
        .route("/users/email/{email}", get(user_by_email))
        .route("/users/username/{username}", get(user_by_username))
        .route(
            "/users/{userId}",
            get(get_user).put(update_user).delete(delete_user),
        )
        .route("/users/{userId}/activate", put(activate))
        .route("/users/{userId}/deactivate", put(deactivate))
        .route("/users/{userId}/change-password", put(change_password))
        .route("/users/{userId}/reset-password", put(reset_password))
        .route(
            "/users/{userId}/profile",
            get(get_profile)
                .post(create_profile)
                .put(update_profile)
                .delete(delete_profile),
        )
        .route("/users/{userId}/roles", get(user_roles))
        .route(
            "/users/{userId}/roles/{roleId}",
            post(assign_role).delete(revoke_role),
        )
        .route("/roles", get(list_roles).post(create_role))
        .route(
            "/roles/{roleId}",
            get(get_role).put(update_role).delete(delete_role),
        )
        .route(
            "/permissions",
            get(list_permissions).post(create_permission),
        )
        .route(
            "/permissions/{permissionId}",
            get(get_permission)
                .put(update_permission)
                .delete(delete_permission),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
        .method_not_allowed_fallback(method_not_allowed);
    let service = Router::new()
        .nest(API_PREFIX, api)
        .route("/stats", get(stats))
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(middleware::from_fn_with_state(store, count_request));
    dialect::speak(dialect, service)
}

// ---- errors and extractors -------------------------------------------------------

impl IntoResponse for StoreError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match self {
            StoreError::Invalid { message, fields } => {
                (status, Json(json!({ "error": message, "fields": fields }))).into_response()
            }
            StoreError::Unauthorized(message) => (
                status,
                [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
                Json(json!({ "error": message })),
            )
                .into_response(),
            other => error(status, other.to_string()),
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = StoreError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, StoreError> {
        let token = bearer(&parts.headers)
            .ok_or_else(|| StoreError::Unauthorized("missing bearer token".into()))?;
        app.store.authenticate(token)
    }
}

/// Path parameters, with a JSON 400 when they cannot be read.
struct Params<T>(T);

impl<T, S> FromRequestParts<S> for Params<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = StoreError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, StoreError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Params(value)),
            Err(e) => Err(StoreError::BadRequest(e.body_text())),
        }
    }
}

/// Parses a request body that must be a JSON object, or says why not (400).
fn json_object(body: &[u8]) -> Result<Map<String, Value>, StoreError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(StoreError::BadRequest("body must be a JSON object".into())),
        Err(e) => Err(StoreError::BadRequest(format!("malformed JSON body: {e}"))),
    }
}

/// Reads string fields from a JSON object body; a missing field is an empty string.
fn strings<const N: usize>(body: &[u8], keys: [&str; N]) -> Result<[String; N], StoreError> {
    let map = json_object(body)?;
    let mut fields = Fields::new(&map);
    let values = keys.map(|k| fields.string(k).unwrap_or_default());
    fields.finish()?;
    Ok(values)
}

type Answer<T> = Result<T, StoreError>;

fn created<T: serde::Serialize>(value: T) -> Response {
    (StatusCode::CREATED, Json(value)).into_response()
}

fn listing<T: serde::Serialize>(items: Vec<T>) -> Json<Value> {
    let total = items.len();
    Json(json!({ "items": items, "total": total }))
}

// ---- middleware ----------------------------------------------------------------

async fn count_request(State(store): State<UserStore>, request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| format!("{} {}", request.method(), path.as_str()));
    store.note_request(endpoint);
    next.run(request).await
}

/// Fault injection, then the rate limit, in front of every API route.
async fn guard(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let (latency, fault) = app.chaos.draw();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if fault != Fault::Pass {
        return mishaps::serve(fault, Duration::ZERO, request, next).await;
    }
    if let Some(limiter) = &app.limiter
        && !limiter.allow(rate_key(&request), SystemTime::now())
    {
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    next.run(request).await
}

/// Whose budget a request spends: its bearer token's, else its client's.
fn rate_key(request: &Request) -> u64 {
    let mut hasher = DefaultHasher::new();
    if let Some(token) = bearer(request.headers()) {
        ("token", token).hash(&mut hasher);
    } else if let Some(ConnectInfo(addr)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        ("ip", addr.ip()).hash(&mut hasher);
    } else {
        let forwarded = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .unwrap_or("");
        ("ip", forwarded).hash(&mut hasher);
    }
    hasher.finish()
}

/// A fixed one-second window of `limit` requests per key.
#[derive(Debug)]
struct RateLimiter {
    limit: u32,
    windows: Mutex<HashMap<u64, (u64, u32)>>,
}

impl RateLimiter {
    fn new(limit: u32) -> Self {
        Self {
            limit,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Spends one request of `key`'s budget for the second `now` falls in; false when none is left.
    fn allow(&self, key: u64, now: SystemTime) -> bool {
        let second = unix_secs(now);
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() > 10_000 {
            windows.retain(|_, (s, _)| *s == second);
        }
        let (window, count) = windows.entry(key).or_insert((second, 0));
        if *window != second {
            *window = second;
            *count = 0;
        }
        if *count >= self.limit {
            return false;
        }
        *count += 1;
        true
    }
}

// ---- auth ------------------------------------------------------------------------

async fn login(State(app): State<AppState>, body: Bytes) -> Answer<Json<TokenGrant>> {
    let [username, email, password] = strings(&body, ["username", "email", "password"])?;
    let login = if username.is_empty() { email } else { username };
    let grant = app.store.login(&login, &password)?;
    tracing::debug!(user = %grant.user.id, "login");
    Ok(Json(grant))
}

async fn logout(State(app): State<AppState>, who: Principal) -> Answer<StatusCode> {
    app.store.logout(&who)?;
    tracing::debug!(user = %who.user_id, "logout");
    Ok(StatusCode::NO_CONTENT)
}

async fn refresh(State(app): State<AppState>, body: Bytes) -> Answer<Json<TokenGrant>> {
    let [token] = strings(&body, ["refresh_token"])?;
    Ok(Json(app.store.refresh(&token)?))
}

async fn me(State(app): State<AppState>, who: Principal) -> Answer<Json<User>> {
    Ok(Json(app.store.me(&who)?))
}

// ---- users -----------------------------------------------------------------------

/// Query of the listings.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    page: Option<String>,
    per_page: Option<String>,
    q: Option<String>,
}

fn list_query(
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<(ListQuery, usize, usize)> {
    let Query(query) = query.map_err(|e| StoreError::BadRequest(format!("bad query: {e}")))?;
    let (page, per_page) = page_params(query.page.as_deref(), query.per_page.as_deref())?;
    Ok((query, page, per_page))
}

async fn list_users(
    State(app): State<AppState>,
    who: Principal,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<Response> {
    let (_, page, per_page) = list_query(query)?;
    Ok(Json(app.store.list_users(&who, page, per_page)?).into_response())
}

async fn search_users(
    State(app): State<AppState>,
    who: Principal,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Answer<Response> {
    let (query, page, per_page) = list_query(query)?;
    let q = query.q.unwrap_or_default();
    Ok(Json(app.store.search_users(&who, &q, page, per_page)?).into_response())
}

async fn get_user(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
) -> Answer<Json<User>> {
    Ok(Json(app.store.user(&who, &id)?))
}

async fn user_by_email(
    State(app): State<AppState>,
    who: Principal,
    Params(email): Params<String>,
) -> Answer<Json<User>> {
    Ok(Json(app.store.user_by_email(&who, &email)?))
}

async fn user_by_username(
    State(app): State<AppState>,
    who: Principal,
    Params(name): Params<String>,
) -> Answer<Json<User>> {
    Ok(Json(app.store.user_by_username(&who, &name)?))
}

async fn create_user(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer<Response> {
    if app.registration == Registration::Admin {
        let token = bearer(&headers).ok_or_else(|| {
            StoreError::Unauthorized("creating users needs an administrator's token".into())
        })?;
        app.store.ensure_admin(&app.store.authenticate(token)?)?;
    }
    let new = NewUser::from_json(&json_object(&body)?)?;
    let user = app.store.register(new)?;
    tracing::debug!(user = %user.id, "user registered");
    Ok(created(user))
}

async fn update_user(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
    body: Bytes,
) -> Answer<Json<User>> {
    let update = UserUpdate::from_json(&json_object(&body)?)?;
    Ok(Json(app.store.update_user(&who, &id, update)?))
}

async fn delete_user(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
) -> Answer<StatusCode> {
    app.store.delete_user(&who, &id)?;
    tracing::debug!(user = %id, "user deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn activate(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
) -> Answer<Json<User>> {
    Ok(Json(app.store.set_active(&who, &id, true)?))
}

async fn deactivate(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
) -> Answer<Json<User>> {
    Ok(Json(app.store.set_active(&who, &id, false)?))
}

async fn change_password(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
    body: Bytes,
) -> Answer<StatusCode> {
    let [current, new] = strings(&body, ["current_password", "new_password"])?;
    app.store.change_password(&who, &id, &current, &new)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reset_password(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
) -> Answer<Json<Value>> {
    let temporary = app.store.reset_password(&who, &id)?;
    Ok(Json(
        json!({ "user_id": id, "temporary_password": temporary }),
    ))
}

// ---- profiles --------------------------------------------------------------------

async fn create_profile(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
    body: Bytes,
) -> Answer<Response> {
    let input = ProfileInput::from_json(&json_object(&body)?)?;
    Ok(created(app.store.create_profile(&who, &id, input)?))
}

async fn get_profile(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
) -> Answer<Response> {
    Ok(Json(app.store.profile(&who, &id)?).into_response())
}

async fn update_profile(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
    body: Bytes,
) -> Answer<Response> {
    let input = ProfileInput::from_json(&json_object(&body)?)?;
    Ok(Json(app.store.update_profile(&who, &id, input)?).into_response())
}

async fn delete_profile(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
) -> Answer<StatusCode> {
    app.store.delete_profile(&who, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- roles, permissions, assignments ---------------------------------------------

async fn list_roles(State(app): State<AppState>, _who: Principal) -> Json<Value> {
    listing(app.store.roles())
}

async fn create_role(State(app): State<AppState>, who: Principal, body: Bytes) -> Answer<Response> {
    let input = RoleInput::from_json(&json_object(&body)?)?;
    Ok(created(app.store.create_role(&who, input)?))
}

async fn get_role(
    State(app): State<AppState>,
    _who: Principal,
    Params(id): Params<String>,
) -> Answer<Response> {
    Ok(Json(app.store.role(&id)?).into_response())
}

async fn update_role(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
    body: Bytes,
) -> Answer<Response> {
    let input = RoleInput::from_json(&json_object(&body)?)?;
    Ok(Json(app.store.update_role(&who, &id, input)?).into_response())
}

async fn delete_role(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
) -> Answer<StatusCode> {
    app.store.delete_role(&who, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_permissions(State(app): State<AppState>, _who: Principal) -> Json<Value> {
    listing(app.store.permissions())
}

async fn create_permission(
    State(app): State<AppState>,
    who: Principal,
    body: Bytes,
) -> Answer<Response> {
    let input = PermissionInput::from_json(&json_object(&body)?)?;
    Ok(created(app.store.create_permission(&who, input)?))
}

async fn get_permission(
    State(app): State<AppState>,
    _who: Principal,
    Params(id): Params<String>,
) -> Answer<Response> {
    Ok(Json(app.store.permission(&id)?).into_response())
}

async fn update_permission(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
    body: Bytes,
) -> Answer<Response> {
    let input = PermissionInput::from_json(&json_object(&body)?)?;
    Ok(Json(app.store.update_permission(&who, &id, input)?).into_response())
}

async fn delete_permission(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
) -> Answer<StatusCode> {
    app.store.delete_permission(&who, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn user_roles(
    State(app): State<AppState>,
    who: Principal,
    Params(id): Params<String>,
) -> Answer<Json<Value>> {
    Ok(listing(app.store.user_roles(&who, &id)?))
}

async fn assign_role(
    State(app): State<AppState>,
    who: Principal,
    Params((id, role_id)): Params<(String, String)>,
) -> Answer<Response> {
    Ok(created(app.store.assign_role(&who, &id, &role_id)?))
}

async fn revoke_role(
    State(app): State<AppState>,
    who: Principal,
    Params((id, role_id)): Params<(String, String)>,
) -> Answer<StatusCode> {
    app.store.revoke_role(&who, &id, &role_id)?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- outside the API -------------------------------------------------------------

async fn stats(State(app): State<AppState>) -> Json<super::Stats> {
    Json(app.store.stats())
}

async fn no_route(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        format!("no route for {method} {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} not allowed on {}", uri.path()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc.def"),
        );
        assert_eq!(bearer(&headers), Some("abc.def"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  xyz "),
        );
        assert_eq!(bearer(&headers), Some("xyz"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic Zm9v"),
        );
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&headers), None);
    }

    #[test]
    fn the_rate_limiter_allows_the_limit_per_second_and_per_key() {
        let limiter = RateLimiter::new(2);
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(5_100);
        assert!(limiter.allow(1, t) && limiter.allow(1, t));
        assert!(!limiter.allow(1, t + Duration::from_millis(800)));
        assert!(limiter.allow(2, t), "another key has its own budget");
        assert!(
            limiter.allow(1, t + Duration::from_millis(900)),
            "the next second starts afresh"
        );
    }

    #[test]
    fn malformed_bodies_are_a_400_with_a_message() {
        let err = json_object(b"{nope").unwrap_err();
        assert!(matches!(&err, StoreError::BadRequest(m) if m.starts_with("malformed JSON body")));
        assert_eq!(
            json_object(b"[1]").unwrap_err(),
            StoreError::BadRequest("body must be a JSON object".into())
        );
        assert_eq!(strings(b"{}", ["a"]).unwrap(), [String::new()]);
    }
}
