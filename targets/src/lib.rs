//! Built-in targets: axum servers that play the systems scenarios talk to, so
//! every shipped scenario runs out of the box (`runner serve orders`, or
//! in-process on 127.0.0.1 for scripts whose target is `builtin:orders`).

pub mod answer;
pub mod mishaps;
pub mod order_api;
pub mod order_processor;
pub mod order_service;
pub mod orders;
pub mod users;

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use mishaps::Faults;
pub use order_api::{OrderApiConfig, OrderApiStore};
pub use order_processor::{OrderProcessorConfig, Pool};
pub use order_service::{OrderServiceConfig, OrderServiceStore};
pub use orders::{OrderBook, OrdersConfig};
pub use users::{Dialect, Registration, UserStore, UsersConfig};

/// Serves `router` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // Connect info gives handlers the client address (per-client rate limits).
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// A built-in target running in the background; stop it (or drop it) to shut it down.
#[derive(Debug)]
pub struct Running {
    /// The address the server is bound to (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// Base URL a client on this machine can reach, like `http://127.0.0.1:PORT`.
    pub url: String,
    stop: CancellationToken,
    task: JoinHandle<io::Result<()>>,
}

impl Running {
    /// Shuts the server down gracefully and waits until it has stopped.
    pub async fn stop(mut self) {
        self.stop.cancel();
        match (&mut self.task).await {
            Ok(Ok(())) => tracing::debug!(addr = %self.addr, "built-in target stopped"),
            Ok(Err(e)) => tracing::warn!(addr = %self.addr, error = %e, "built-in target failed"),
            Err(e) => tracing::warn!(addr = %self.addr, error = %e, "built-in target task died"),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // A forgotten handle must not leave a server listening; `stop` already cancelled.
        self.stop.cancel();
    }
}

/// Binds `addr` (port 0 picks a free port) and starts the orders target in the background.
///
/// Returns the handle and a clone of the server's shared [`OrderBook`], so callers can
/// read the server-side state (stats) directly.
pub async fn start_orders(
    addr: SocketAddr,
    config: OrdersConfig,
) -> io::Result<(Running, OrderBook)> {
    let book = OrderBook::new();
    let router = orders::router(book.clone(), config);
    let running = start(addr, router).await?;
    tracing::info!(url = %running.url, "built-in orders target listening");
    Ok((running, book))
}

/// Binds `addr` (port 0 picks a free port) and starts the user service in the background.
///
/// Returns the handle and a clone of the server's shared [`UserStore`], so callers can
/// read the server-side state (stats) directly.
pub async fn start_users(
    addr: SocketAddr,
    config: UsersConfig,
) -> io::Result<(Running, UserStore)> {
    let store = UserStore::new(&config);
    let router = users::router(store.clone(), config);
    let running = start(addr, router).await?;
    tracing::info!(url = %running.url, "built-in users target listening");
    Ok((running, store))
}

/// Binds `addr` (port 0 picks a free port) and starts the order-api (seed 002)
/// in the background; also returns its shared store, to read its counts.
pub async fn start_order_api(
    addr: SocketAddr,
    config: OrderApiConfig,
) -> io::Result<(Running, OrderApiStore)> {
    let store = OrderApiStore::new();
    let running = start(addr, order_api::router(store.clone(), config)).await?;
    tracing::info!(url = %running.url, "built-in order-api target listening");
    Ok((running, store))
}

/// Binds `addr` (port 0 picks a free port) and starts the order-service (seed
/// 001) in the background; also returns its shared store, to read its counts.
pub async fn start_order_service(
    addr: SocketAddr,
    config: OrderServiceConfig,
) -> io::Result<(Running, OrderServiceStore)> {
    let store = OrderServiceStore::new();
    let running = start(addr, order_service::router(store.clone(), config)).await?;
    tracing::info!(url = %running.url, "built-in order-service target listening");
    Ok((running, store))
}

/// Binds `addr` (port 0 picks a free port) and starts the order-processor
/// (seed 003) with its workers in the background; also returns its pool, to
/// read its counts. The workers stop with the server.
pub async fn start_order_processor(
    addr: SocketAddr,
    config: OrderProcessorConfig,
) -> io::Result<(Running, Pool)> {
    let pool = Pool::new(config.capacity, config.workers);
    let running = start(addr, order_processor::router(pool.clone(), &config)).await?;
    order_processor::spawn_workers(&pool, &config, running.stop.clone());
    tracing::info!(url = %running.url, "built-in order-processor target listening");
    Ok((running, pool))
}

/// Binds `addr` and spawns `router` behind a cancellation token.
async fn start(addr: SocketAddr, router: Router) -> io::Result<Running> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let task = tokio::spawn(serve(listener, router, stop.clone().cancelled_owned()));
    Ok(Running {
        addr,
        url: base_url(addr),
        stop,
        task,
    })
}

/// The URL to reach `addr` from this machine (a wildcard bind is reached via loopback).
fn base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_uses_loopback_for_wildcard_binds() {
        let v4: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let v6: SocketAddr = "[::]:8080".parse().unwrap();
        let lo: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(base_url(v4), "http://127.0.0.1:8080");
        assert_eq!(base_url(v6), "http://[::1]:8080");
        assert_eq!(base_url(lo), "http://127.0.0.1:9");
    }

    #[tokio::test]
    async fn stopped_server_no_longer_accepts_connections() {
        let (running, _book) =
            start_orders("127.0.0.1:0".parse().unwrap(), OrdersConfig::default())
                .await
                .unwrap();
        let addr = running.addr;
        assert_ne!(addr.port(), 0);
        assert_eq!(running.url, format!("http://127.0.0.1:{}", addr.port()));
        tokio::net::TcpStream::connect(addr).await.unwrap();
        running.stop().await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }
}
