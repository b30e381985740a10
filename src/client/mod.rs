//! The HTTP client, behind a small trait so the executor does not depend on a
//! backend (and tests can script one). The backend ([`Hyper`]) speaks
//! HTTP/1.1 to `http://` targets on connections of its own ([`h1`]) and goes
//! through hyper-util's pooled client for HTTPS and HTTP/2; see
//! docs/dependencies.md for why, and why not reqwest.

mod direct;
mod error;
mod h1;
mod url;

pub use direct::Hyper;
pub use error::ClientError;
pub use url::BaseUrl;

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

/// Which HTTP versions a run speaks (`s.http(#{ version })`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/1.1 to `http://` targets; HTTP/2 or 1.1 to `https://` ones, as
    /// the server chooses by ALPN.
    #[default]
    Auto,
    /// HTTP/1.1 only, even where a TLS server offers HTTP/2.
    Http1,
    /// HTTP/2 only: by ALPN over TLS, and with prior knowledge (h2c) to
    /// `http://` targets.
    Http2,
}

impl HttpVersion {
    /// Every version, in the order the script's spellings are listed.
    pub const ALL: [HttpVersion; 3] = [HttpVersion::Auto, HttpVersion::Http1, HttpVersion::Http2];

    /// The version a script names (`s.http(#{ version })`), if it is one of [`Self::ALL`]'s.
    pub fn parse(name: &str) -> Option<HttpVersion> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }

    /// The script's spelling.
    pub fn name(self) -> &'static str {
        match self {
            HttpVersion::Auto => "auto",
            HttpVersion::Http1 => "1.1",
            HttpVersion::Http2 => "2",
        }
    }
}

/// Largest response body read; bigger bodies fail the request.
pub const MAX_BODY: usize = 16 << 20;

/// A request ready to send: everything rendered. Header names borrow the
/// plan's: cloning a custom one writes a reference count every core shares.
#[derive(Debug, Clone)]
pub struct HttpRequest<'a> {
    /// Method.
    pub method: hyper::Method,
    /// The run's target, which the path follows.
    pub base: &'a BaseUrl,
    /// The rest of the URL without the query (borrowed from the plan when
    /// the step's path has no placeholder).
    pub path: Cow<'a, str>,
    /// Query parameters, encoded by the client; names borrowed from the plan.
    pub query: Vec<(&'a str, Cow<'a, str>)>,
    /// Headers: names checked when the plan was compiled, values rendered
    /// (borrowed from the plan when their template has no placeholder).
    pub headers: Vec<(Cow<'a, hyper::header::HeaderName>, Cow<'a, str>)>,
    /// JSON body, if any.
    pub body: Option<Bytes>,
    /// Whether anything reads the answer's headers: when nothing does, a
    /// client may leave [`HttpResponse::headers`] empty.
    pub headers_read: bool,
}

impl HttpRequest<'_> {
    /// The full URL without the query.
    pub fn url(&self) -> String {
        let base = self.base.as_str();
        let mut url = String::with_capacity(base.len() + self.path.len());
        url.push_str(base);
        url.push_str(&self.path);
        url
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Response headers (moved out of the response, not copied); empty when
    /// the request said none are read.
    pub headers: hyper::HeaderMap,
    /// Body bytes.
    pub body: Bytes,
}

/// The result of one request and how long the target took to give it.
#[derive(Debug)]
pub struct Sent {
    /// The response, or why there is none.
    pub result: Result<HttpResponse, ClientError>,
    /// From the moment the request went out (after waiting for a connection slot)
    /// to the end of the body or the error.
    pub latency: Duration,
}

/// Sends requests; implementations pool connections and enforce the timeout.
pub trait HttpClient: Send + Sync + 'static {
    /// Sends one request (no retries: the executor owns the retry policy).
    /// The request is borrowed: a retry sends the same one again without a copy.
    fn send(&self, request: &HttpRequest<'_>) -> impl Future<Output = Sent> + Send;
}
