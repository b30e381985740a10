//! How the service spells its JSON. Real user services differ from the
//! built-in one in ways a portable script must survive; [`Dialect::Camel`]
//! plays such a service, so scripts can be tried against both: camelCase keys
//! (`accessToken`), integer ids, every success wrapped in `{"data": …}`, and
//! 200 `{"data": null}` where the snake dialect answers 204. It reads camelCase
//! bodies and query keys and integer ids in paths (`/users/12/roles/1`).

use std::fmt;
use std::str::FromStr;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use serde_json::{Map, Value, json};
use tower_layer::Layer;

use super::API_PREFIX;
use super::store::{PERM_PREFIX, ROLE_PREFIX, USER_PREFIX};
use crate::answer::error;

/// Largest body the translation reads (the service's own limit is smaller).
const BODY_LIMIT: usize = 4 << 20;

/// The JSON conventions the service speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dialect {
    /// snake_case keys, string ids (`usr-12`), bare bodies, 204 for no content.
    #[default]
    Snake,
    /// camelCase keys, integer ids, `{"data": …}` envelopes, 200 for no content.
    Camel,
}

impl Dialect {
    /// The names `FromStr` accepts.
    pub const NAMES: &'static [&'static str] = &["snake", "camel"];
}

impl FromStr for Dialect {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "snake" => Ok(Dialect::Snake),
            "camel" => Ok(Dialect::Camel),
            other => Err(format!(
                "unknown dialect `{other}`; expected one of: {}",
                Dialect::NAMES.join(", ")
            )),
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Snake => "snake",
            Dialect::Camel => "camel",
        })
    }
}

/// `router` speaking `dialect`. The translation wraps the whole router, so
/// rewritten paths are routed as the service's own.
pub(super) fn speak(dialect: Dialect, router: Router) -> Router {
    match dialect {
        Dialect::Snake => router,
        Dialect::Camel => Router::new().fallback_service(middleware::from_fn(camel).layer(router)),
    }
}

async fn camel(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with(API_PREFIX) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    parts.uri = inbound_uri(&parts.uri);
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    };
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(value) => Body::from(inbound(value, None).to_string()),
        // Not JSON: the service answers it as it would.
        Err(_) => Body::from(bytes),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    let response = next.run(Request::from_parts(parts, body)).await;
    outbound_response(response).await
}

/// Integer ids in the path get their prefix back; query keys become snake_case.
fn inbound_uri(uri: &Uri) -> Uri {
    let segments: Vec<&str> = uri.path().split('/').collect();
    let mut path = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        let prefix = match i.checked_sub(1).map(|j| segments[j]) {
            Some("users") => USER_PREFIX,
            Some("roles") => ROLE_PREFIX,
            Some("permissions") => PERM_PREFIX,
            _ => "",
        };
        if !prefix.is_empty() && !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit())
        {
            path.push(format!("{prefix}{segment}"));
        } else {
            path.push((*segment).to_owned());
        }
    }
    let mut text = path.join("/");
    if let Some(query) = uri.query() {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) => format!("{}={v}", snake(k)),
                None => snake(pair),
            })
            .collect();
        text.push('?');
        text.push_str(&pairs.join("&"));
    }
    text.parse().unwrap_or_else(|_| uri.clone())
}

/// Maps whose contents are the client's own data: kept as they are.
const FREE_FORM: &[&str] = &["metadata", "preferences"];

/// camelCase keys to snake_case; integer permission ids get their prefix.
fn inbound(value: Value, key: Option<&str>) -> Value {
    match value {
        Value::Object(map) if key.is_some_and(|k| FREE_FORM.contains(&k)) => Value::Object(map),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let k = snake(&k);
                    let v = inbound(v, Some(&k));
                    (k, v)
                })
                .collect(),
        ),
        Value::Array(items) if key == Some("permissions") => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Number(n) => Value::String(format!("{PERM_PREFIX}{n}")),
                    other => other,
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| inbound(v, None)).collect()),
        other => other,
    }
}

/// snake_case keys to camelCase and prefixed ids (under `id`, `…_id` and
/// `permissions`) to integers; the client's own data (`metadata`,
/// `preferences`) and every other string are left as they are.
fn outbound(value: Value, key: Option<&str>) -> Value {
    let holds_ids = key.is_some_and(|k| k == "id" || k.ends_with("_id") || k == "permissions");
    match value {
        Value::Object(map) if key.is_some_and(|k| FREE_FORM.contains(&k)) => Value::Object(map),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = outbound(v, Some(&k));
                    (camel_case(&k), v)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| outbound(v, key)).collect()),
        Value::String(s) if holds_ids => match numeric_id(&s) {
            Some(n) => Value::from(n),
            None => Value::String(s),
        },
        other => other,
    }
}

async fn outbound_response(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, BODY_LIMIT).await else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "response too large");
    };
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => outbound(v, None),
            Err(_) => return Response::from_parts(parts, Body::from(bytes)),
        }
    };
    let value = if parts.status.is_success() {
        if parts.status == StatusCode::NO_CONTENT {
            parts.status = StatusCode::OK;
        }
        json!({ "data": value })
    } else {
        value
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(value.to_string()))
}

/// `usr-12`, `role-3`, `perm-1` as 12, 3, 1.
fn numeric_id(s: &str) -> Option<u64> {
    [USER_PREFIX, ROLE_PREFIX, PERM_PREFIX]
        .iter()
        .find_map(|p| s.strip_prefix(p))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
}

fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_change_case_both_ways() {
        for (snake_key, camel_key) in [
            ("access_token", "accessToken"),
            ("refresh_expires_in", "refreshExpiresIn"),
            ("is_simulation", "isSimulation"),
            ("id", "id"),
        ] {
            assert_eq!(camel_case(snake_key), camel_key);
            assert_eq!(snake(camel_key), snake_key);
        }
    }

    #[test]
    fn ids_become_integers_going_out_and_prefixed_coming_in() {
        let out = outbound(
            json!({"id": "usr-12", "user_id": "usr-3", "permissions": ["perm-1"],
                   "username": "usr-12", "name": "role-", "items": [{"id": "role-2"}],
                   "metadata": {"some_key": "perm-1"}}),
            None,
        );
        assert_eq!(
            out,
            json!({"id": 12, "userId": 3, "permissions": [1], "username": "usr-12", "name": "role-",
                   "items": [{"id": 2}], "metadata": {"some_key": "perm-1"}})
        );
        let kept = inbound(json!({"metadata": {"someKey": 1}}), None);
        assert_eq!(
            kept,
            json!({"metadata": {"someKey": 1}}),
            "the client's own data"
        );
        let back = inbound(json!({"fullName": "A", "permissions": [1, 2]}), None);
        assert_eq!(
            back,
            json!({"full_name": "A", "permissions": ["perm-1", "perm-2"]})
        );
        let uri = inbound_uri(&"/api/v1/users/12/roles/3?perPage=5&page=2".parse().unwrap());
        assert_eq!(uri, "/api/v1/users/usr-12/roles/role-3?per_page=5&page=2");
        let kept = inbound_uri(&"/api/v1/users/username/42".parse().unwrap());
        assert_eq!(kept, "/api/v1/users/username/42");
    }

    #[test]
    fn dialects_parse_by_name_and_refuse_others() {
        assert_eq!("camel".parse::<Dialect>(), Ok(Dialect::Camel));
        let e = "kebab".parse::<Dialect>().unwrap_err();
        assert!(e.contains("snake, camel"), "{e}");
    }
}
