//! `/metrics` while the run goes (`--metrics-addr`), for Prometheus to scrape.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::recorder::Metrics;

/// The OpenMetrics text content type Prometheus negotiates.
const CONTENT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A running `/metrics` endpoint; dropping the token's owner stops it.
pub struct Endpoint {
    /// The bound address (the real port when 0 was asked for).
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Endpoint {
    /// Binds `addr` and serves `metrics` until [`Endpoint::stop`].
    pub async fn start(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<Endpoint> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let app = Router::new().route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move { ([(CONTENT_TYPE, CONTENT)], metrics.encode()) }
            }),
        );
        let stop = CancellationToken::new();
        let shutdown = stop.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        });
        Ok(Endpoint { addr, stop, task })
    }

    /// Stops serving and waits for the server to finish.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Ok(Err(e)) = self.task.await {
            tracing::warn!(error = %e, "metrics endpoint failed");
        }
    }
}
