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

use super::error::chain;
use super::h1::{Connections, Lease, Outgoing};
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

    /// Times `exchange` against the run's timeout.
    async fn timed(
        &self,
        exchange: impl Future<Output = Result<HttpResponse, ClientError>>,
    ) -> Sent {
        let started = Instant::now();
        let result = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout),
        };
        Sent {
            result,
            latency: started.elapsed(),
        }
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
        let uri = uri(&request.url, &request.query)?;
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
    async fn send(&self, request: &HttpRequest<'_>) -> Sent {
        // Waiting for a connection or a free slot is the runner's own
        // queueing, not the target's latency.
        if let (Some(plain), Some(rest)) = (&self.plain, request.url.strip_prefix("http://")) {
            let (origin, path) = split_origin(rest);
            let leased = match origin_form(&request.url, path, &request.query) {
                Ok(target) => plain.lease(origin).await.map(|lease| (lease, target)),
                Err(e) => Err(e),
            };
            return match leased {
                Ok((lease, target)) => {
                    self.timed(Self::send_plain(lease, request, origin, &target))
                        .await
                }
                Err(e) => Sent {
                    result: Err(e),
                    latency: Duration::ZERO,
                },
            };
        }
        let _permit = self.in_flight.acquire().await;
        self.timed(self.pooled(request)).await
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

/// `url` with `query` form-encoded onto it, as a URI. A path with characters
/// a URI may not hold (a space) is percent-encoded first, as browsers do.
fn uri(url: &str, query: &[(String, String)]) -> Result<Uri, ClientError> {
    Uri::try_from(with_query(url, query)).or_else(|_| {
        let encoded = url::Url::parse(url).map_err(|_| invalid_url())?;
        Uri::try_from(with_query(encoded.as_str(), query)).map_err(|_| invalid_url())
    })
}

fn invalid_url() -> ClientError {
    ClientError::Other("invalid URL (check the target and the step's path)".into())
}

/// An `http://` URL without its scheme, split into the origin to connect
/// to (`host:port`; `user:pass@` is neither part of the address nor of the
/// Host header) and the rest.
fn split_origin(rest: &str) -> (&str, &str) {
    let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let origin = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    (origin, path)
}

/// `path` (of `url`, `/` when empty) and `query` as the origin-form target
/// of a request line. A path with characters a URL may not hold as they are
/// (a space, a quote, non-ASCII) is percent-encoded first, as browsers do,
/// and a `#fragment` is not sent.
fn origin_form(url: &str, path: &str, query: &[(String, String)]) -> Result<String, ClientError> {
    let mut target = with_query(path, query);
    if !target.starts_with('/') {
        // Empty, or `?x=1` straight after the host.
        target.insert(0, '/');
    }
    let sent_as_is = |b: u8| b.is_ascii_graphic() && !b"\"#<>`{}".contains(&b);
    if target.bytes().all(sent_as_is) {
        return Ok(target);
    }
    let encoded = url::Url::parse(&with_query(url, query)).map_err(|_| invalid_url())?;
    Ok(encoded[url::Position::BeforePath..url::Position::AfterQuery].to_string())
}

/// `url` and `query`, form-encoded, in one string (it becomes the URI's buffer).
fn with_query(url: &str, query: &[(String, String)]) -> String {
    let mut full = String::with_capacity(url.len() + 64);
    full.push_str(url);
    if query.is_empty() {
        return full;
    }
    full.push(if url.contains('?') { '&' } else { '?' });
    let mut form = form_urlencoded::Serializer::for_suffix(full, url.len() + 1);
    for (k, v) in query {
        form.append_pair(k, v);
    }
    form.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_form_encoded_onto_the_url() {
        let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let u = uri(
            "http://127.0.0.1:8080/a/b",
            &q(&[("q", "sim user"), ("page", "1")]),
        )
        .unwrap();
        assert_eq!(u.to_string(), "http://127.0.0.1:8080/a/b?q=sim+user&page=1");
        let u = uri("http://127.0.0.1:8080/a?x=1", &q(&[("y", "é&")])).unwrap();
        assert_eq!(u.to_string(), "http://127.0.0.1:8080/a?x=1&y=%C3%A9%26");
        let u = uri("http://127.0.0.1:8080/a b", &[]).unwrap();
        assert_eq!(u.to_string(), "http://127.0.0.1:8080/a%20b");
        assert!(uri("not a url", &[]).is_err());
    }

    #[test]
    fn an_http_url_splits_into_its_origin_and_an_origin_form_path() {
        for (rest, origin, path) in [
            ("127.0.0.1:8080/a/b?x=1", "127.0.0.1:8080", "/a/b?x=1"),
            ("user:p%40ss@127.0.0.1:8080/a", "127.0.0.1:8080", "/a"),
            ("[::1]:9000?x=1", "[::1]:9000", "?x=1"),
            ("127.0.0.1", "127.0.0.1", ""),
        ] {
            assert_eq!(split_origin(rest), (origin, path), "{rest}");
        }
        let form = |path: &str| origin_form(&format!("http://h{path}"), path, &[]).unwrap();
        assert_eq!(form(""), "/");
        assert_eq!(form("?x=1"), "/?x=1");
        assert_eq!(form("/a b"), "/a%20b");
        assert_eq!(form("/a\"b#top"), "/a%22b");
        assert_eq!(form("/é?q=1#x"), "/%C3%A9?q=1");
    }
}
