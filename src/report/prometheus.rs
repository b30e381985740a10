//! `/metrics` while the run goes (`--metrics-addr`), for Prometheus to scrape:
//! a small HTTP/1.1 server on hyper (already in the tree through reqwest), so
//! the engine needs no web framework.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::CONTENT_TYPE;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::recorder::Metrics;

/// The OpenMetrics text content type Prometheus negotiates.
const CONTENT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A running `/metrics` endpoint.
pub struct Endpoint {
    /// The bound address (the real port when 0 was asked for).
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Endpoint {
    /// Binds `addr` and serves `metrics` until [`Endpoint::stop`].
    pub async fn start(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<Endpoint> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(accept(listener, metrics, stop.clone()));
        Ok(Endpoint { addr, stop, task })
    }

    /// Stops serving, lets scrapes in progress finish, and waits.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "metrics endpoint failed");
        }
    }
}

async fn accept(listener: TcpListener, metrics: Arc<Metrics>, stop: CancellationToken) {
    let connections = TaskTracker::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::debug!(error = %e, "metrics endpoint: accept failed");
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        let (metrics, stop) = (metrics.clone(), stop.clone());
        connections.spawn(async move {
            let service = service_fn(move |req| answer(req, metrics.clone()));
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            // A scraper's kept-alive connection ends once its scrape in progress has.
            let ended = tokio::select! {
                ended = conn.as_mut() => ended,
                _ = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "metrics endpoint: connection ended");
            }
        });
    }
    connections.close();
    connections.wait().await;
}

async fn answer<B>(
    req: Request<B>,
    metrics: Arc<Metrics>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = if req.uri().path() == "/metrics" {
        Response::builder()
            .header(CONTENT_TYPE, CONTENT)
            .body(Full::new(Bytes::from(metrics.encode())))
    } else {
        Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Full::new(Bytes::from_static(b"not found; try /metrics\n")))
    };
    Ok(response.expect("a response from fixed parts"))
}
