//! Renders a compiled request for one order: path, query, headers (with the
//! session's token and the order's cookies) and body, as the client sends it.

use std::borrow::Cow;

use bytes::Bytes;
use hyper::header::{AUTHORIZATION, COOKIE};
use serde_json::Value;

use super::{Executor, OrderRun};
use crate::client::{HttpClient, HttpRequest, HttpResponse};
use crate::plan::{Body, Lookup, MissingVar, Request, is_secret};

impl<C: HttpClient> Executor<C> {
    /// Renders the request.
    pub(super) fn prepare<'a>(
        &'a self,
        run: &OrderRun,
        r: &'a Request,
        headers_read: bool,
    ) -> Result<Prepared<'a>, MissingVar> {
        let path = r.path.render(&run.vars)?;
        let query = r
            .query
            .iter()
            .map(|(k, t)| Ok((k.as_str(), t.render(&run.vars)?)))
            .collect::<Result<Vec<_>, MissingVar>>()?;
        let mut headers = self
            .plan
            .http
            .headers
            .iter()
            .chain(&r.headers)
            .map(|(k, t)| Ok((Cow::Borrowed(k), t.render(&run.vars)?)))
            .collect::<Result<Vec<_>, MissingVar>>()?;
        // The session's token, unless the step sends its own Authorization.
        if let Some(auth) = &self.plan.auth
            && let Some(Value::String(token)) = run.vars.lookup(&auth.token)
            && !headers.iter().any(|(k, _)| **k == AUTHORIZATION)
        {
            headers.push((Cow::Owned(AUTHORIZATION), format!("Bearer {token}").into()));
        }
        let body = match &r.body {
            Body::None => None,
            Body::Payload => Some(
                match self
                    .plan
                    .arena
                    .payload(&self.plan.orders[run.index as usize])
                {
                    Cow::Borrowed(bytes) => Bytes::copy_from_slice(bytes),
                    Cow::Owned(bytes) => Bytes::from(bytes),
                },
            ),
            Body::Json(t) => {
                let mut bytes = Vec::with_capacity(128);
                t.write(&run.vars, &mut bytes)?;
                Some(Bytes::from(bytes))
            }
        };
        // Only a query makes the path shown in events differ from the one sent.
        let shown = (!query.is_empty()).then(|| {
            let mut shown = path.clone().into_owned();
            for (i, (k, v)) in query.iter().enumerate() {
                shown.push(if i == 0 { '?' } else { '&' });
                shown.push_str(k);
                shown.push('=');
                shown.push_str(if is_secret(k, &self.plan.secrets) {
                    "[redacted]"
                } else {
                    v.as_ref()
                });
            }
            shown
        });
        let mut http = HttpRequest {
            method: r.method.clone(),
            base: &self.base_url,
            path,
            query,
            headers,
            body,
            headers_read,
        };
        // Parsed once: the jar's answer cookies are kept under the same URL.
        let cookie_url = run.jar.as_ref().and_then(|jar| {
            let url = url::Url::parse(&http.url()).ok()?;
            if !http.headers.iter().any(|(k, _)| **k == COOKIE) {
                add_cookies(jar, &url, &mut http.headers);
            }
            Some(url)
        });
        Ok(Prepared {
            http,
            shown,
            cookie_url,
        })
    }
}

/// A rendered request and what else its attempts need.
pub(super) struct Prepared<'a> {
    pub(super) http: HttpRequest<'a>,
    /// The path and query shown in events when it has a query (secrets
    /// redacted); else its path is.
    pub(super) shown: Option<String>,
    /// Its URL for the order's cookie jar (only with a jar).
    pub(super) cookie_url: Option<url::Url>,
}

/// Sends what `jar` holds for `url` in a Cookie header.
fn add_cookies(
    jar: &cookie_store::CookieStore,
    url: &url::Url,
    headers: &mut Vec<(Cow<'_, hyper::header::HeaderName>, Cow<'_, str>)>,
) {
    let pairs: Vec<String> = jar
        .get_request_values(url)
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    if !pairs.is_empty() {
        headers.push((Cow::Owned(COOKIE), pairs.join("; ").into()));
    }
}

/// Stores the cookies a response sets, for the order's later requests.
pub(super) fn keep_cookies(
    jar: &mut cookie_store::CookieStore,
    url: &url::Url,
    resp: &HttpResponse,
) {
    let set = resp
        .headers
        .get_all(hyper::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| cookie_store::RawCookie::parse(v.to_owned()).ok());
    jar.store_response_cookies(set, url);
}
