//! The HTTP client, behind a small trait so another backend (raw hyper) can
//! be added without touching the executor. The only module that imports reqwest.

mod error;

pub use error::ClientError;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Semaphore;

/// Largest response body read; bigger bodies fail the request.
pub const MAX_BODY: usize = 16 << 20;

/// A request ready to send: everything rendered.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// Upper-case method.
    pub method: Arc<str>,
    /// Full URL without the query.
    pub url: String,
    /// Query parameters, encoded by the client.
    pub query: Vec<(String, String)>,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// JSON body, if any.
    pub body: Option<Bytes>,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Response headers (moved out of the response, not copied).
    pub headers: reqwest::header::HeaderMap,
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
    fn send(&self, request: HttpRequest) -> impl Future<Output = Sent> + Send;
}

/// The reqwest backend: one pooled client per target, a cap on requests in flight.
pub struct Reqwest {
    client: reqwest::Client,
    in_flight: Semaphore,
}

impl Reqwest {
    /// Builds the client with the run's timeout and connection cap.
    pub fn new(timeout: Duration, max_connections: usize) -> Result<Self, ClientError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(max_connections)
            .no_proxy()
            .user_agent(concat!("runner/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Other(e.to_string()))?;
        Ok(Reqwest {
            client,
            in_flight: Semaphore::new(max_connections),
        })
    }
}

impl HttpClient for Reqwest {
    async fn send(&self, request: HttpRequest) -> Sent {
        // Waiting for a free slot is the runner's own queueing, not the target's latency.
        let _permit = self.in_flight.acquire().await;
        let started = Instant::now();
        let result = self.exchange(request).await;
        Sent {
            result,
            latency: started.elapsed(),
        }
    }
}

impl Reqwest {
    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, ClientError> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| ClientError::Other(format!("invalid method {}", request.method)))?;
        let mut builder = self.client.request(method, &request.url);
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        for (k, v) in &request.headers {
            builder = builder.header(k, v);
        }
        if let Some(body) = request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let mut response = builder.send().await.map_err(ClientError::from_reqwest)?;
        let status = response.status().as_u16();
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(ClientError::from_reqwest)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(ClientError::BodyTooLarge { limit: MAX_BODY });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body: body.into(),
        })
    }
}
