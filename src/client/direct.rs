//! The hyper backend: requests go straight to hyper-util's pooled client,
//! without reqwest's per-request URL parse (with IDNA), client and connector
//! clones and builder. HTTP/1.1 and HTTP/2 (by ALPN over TLS), HTTPS with
//! rustls, the system's roots and any the run adds (`s.http(#{ ca_file })`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper::{Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio::sync::Semaphore;
use tokio::time::error::Elapsed;
use tokio::time::timeout;

use super::error::chain;
use super::h1::{Connections, Lease, Outgoing};
use super::url::{origin_form, uri};
use super::{ClientError, HttpClient, HttpRequest, HttpResponse, HttpVersion, MAX_BODY, Sent};

const AGENT: &str = concat!("runner/", env!("CARGO_PKG_VERSION"));

/// hyper-util's pooled client, with the run's timeout and a cap on requests in flight.
pub struct Hyper {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// `http://` targets over HTTP/1.1, on connections kept here, which
    /// also cap their requests in flight; `None` when the run speaks HTTP/2
    /// only, to them too (h2c, through `client`).
    plain: Option<Connections>,
    timeout: Duration,
    /// The cap on requests in flight through `client`.
    in_flight: Semaphore,
}

impl Hyper {
    /// Builds the client with the run's timeout, connection cap and HTTP
    /// versions, trusting the certificates in `ca_file` (PEM) and, with
    /// `system_roots`, the system's (a run that speaks only plain `http://`
    /// need not read them).
    pub fn new(
        timeout: Duration,
        max_connections: usize,
        ca_file: Option<&Path>,
        system_roots: bool,
        version: HttpVersion,
    ) -> Result<Self, ClientError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout.min(Duration::from_secs(10))));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls(ca_file, system_roots)?)
            .https_or_http();
        // The ALPN offer: what the server may choose from.
        let https = match version {
            HttpVersion::Auto => https.enable_http1().enable_http2().wrap_connector(http),
            HttpVersion::Http1 => https.enable_http1().wrap_connector(http),
            HttpVersion::Http2 => https.enable_http2().wrap_connector(http),
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(max_connections)
            .http2_only(version == HttpVersion::Http2)
            .build(https);
        Ok(Hyper {
            client,
            plain: (version != HttpVersion::Http2).then(|| Connections::new(max_connections)),
            timeout,
            in_flight: Semaphore::new(max_connections),
        })
    }

    /// Sends `request` to `origin` (as `target`) over HTTP/1.1 on a leased connection.
    async fn send_plain(
        lease: Lease<'_>,
        request: &HttpRequest<'_>,
        origin: &str,
        target: &str,
    ) -> Result<HttpResponse, ClientError> {
        let outgoing = Outgoing {
            method: &request.method,
            target,
            host: origin,
            agent: AGENT,
            headers: &request.headers,
            body: request.body.as_deref(),
            headers_read: request.headers_read,
        };
        lease.send(&outgoing).await
    }

    /// Sends `request` through hyper-util's client.
    async fn pooled(&self, request: &HttpRequest<'_>) -> Result<HttpResponse, ClientError> {
        let uri = uri(request)?;
        let response = self
            .client
            .request(build(request, uri)?)
            .await
            .map_err(|e| {
                if e.is_connect() {
                    ClientError::Connect(chain(&e))
                } else {
                    ClientError::Connect(format!("the connection failed: {}", chain(&e)))
                }
            })?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    ClientError::BodyTooLarge { limit: MAX_BODY }
                } else {
                    ClientError::Connect(format!("reading the body: {e}"))
                }
            })?
            .to_bytes();
        Ok(HttpResponse {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }
}

impl HttpClient for Hyper {
    // Each exchange is awaited right where its `Timeout` is made: a helper
    // taking the exchange would hold it twice in this future, which every
    // request copies into its caller's.
    async fn send(&self, request: &HttpRequest<'_>) -> Sent {
        // Waiting for a connection or a free slot is the runner's own
        // queueing, not the target's latency.
        if let (Some(plain), Some((origin, base_path))) = (&self.plain, request.base.plain()) {
            // Neither is the target's doing: no latency.
            let unsent = |e| Sent {
                result: Err(e),
                latency: Duration::ZERO,
            };
            let target = match origin_form(request, base_path) {
                Ok(target) => target,
                Err(e) => return unsent(e),
            };
            let lease = match plain.lease(origin).await {
                Ok(lease) => lease,
                Err(e) => return unsent(e),
            };
            let started = Instant::now();
            let exchange = Self::send_plain(lease, request, origin, &target);
            let result = timeout(self.timeout, exchange).await;
            return timed(started, result);
        }
        let _permit = self.in_flight.acquire().await;
        let started = Instant::now();
        let result = timeout(self.timeout, self.pooled(request)).await;
        timed(started, result)
    }
}

/// What a request sent at `started` came to, a timeout as an error.
fn timed(started: Instant, result: Result<Result<HttpResponse, ClientError>, Elapsed>) -> Sent {
    Sent {
        result: result.unwrap_or(Err(ClientError::Timeout)),
        latency: started.elapsed(),
    }
}

/// The hyper request for `request` at `uri` (absolute: hyper-util sets the Host header from it).
fn build(request: &HttpRequest<'_>, uri: Uri) -> Result<Request<Full<Bytes>>, ClientError> {
    let mut builder = Request::builder().method(request.method.clone()).uri(uri);
    let headers = builder.headers_mut().expect("a fresh builder has no error");
    for (k, v) in &request.headers {
        let value = HeaderValue::from_str(v)
            .map_err(|_| ClientError::Other(format!("invalid value of header {k}")))?;
        headers.append(&**k, value);
    }
    // Defaults only where the script set none.
    headers
        .entry(USER_AGENT)
        .or_insert(HeaderValue::from_static(AGENT));
    let body = match request.body.clone() {
        Some(body) => {
            headers
                .entry(CONTENT_TYPE)
                .or_insert(HeaderValue::from_static("application/json"));
            body
        }
        None => Bytes::new(),
    };
    builder
        .body(Full::new(body))
        .map_err(|e| ClientError::Other(e.to_string()))
}

/// TLS with the roots of `ca_file`, and the system's with `system_roots`.
fn tls(ca_file: Option<&Path>, system_roots: bool) -> Result<rustls::ClientConfig, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    if system_roots {
        // Unreadable system certificates are skipped: the run may not need them.
        let (_, _) =
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    }
    if let Some(path) = ca_file {
        let bad = |e: &dyn std::fmt::Display| {
            ClientError::Other(format!("http.ca_file {}: {e}", path.display()))
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(&e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(&e))?;
        if certs.is_empty() {
            return Err(bad(&"no PEM certificate in it"));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| bad(&e))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Other(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
