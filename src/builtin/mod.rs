//! The built-in targets as the engine sees them (`builtin:KIND`): something
//! that starts a server of a kind on an address and stops it again. The
//! servers live in the `runner-targets` crate, reached only through
//! [`Bundled`] (the `targets` feature), so the engine needs no web framework.

#[cfg(feature = "targets")]
mod bundled;
pub mod options;

#[cfg(feature = "targets")]
pub use bundled::Bundled;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

/// The kinds of built-in target, as `builtin:KIND` names them.
pub const KINDS: &[&str] = &[
    "orders",
    "users",
    "order-api",
    "order-service",
    "order-processor",
];

/// A boxed, sendable future (what the trait methods return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The built-in target a run asks for.
#[derive(Debug, Clone)]
pub struct Wanted {
    /// `orders`, `users`, …
    pub kind: String,
    /// Where to listen (port 0 picks a free port).
    pub addr: SocketAddr,
    /// The run's `--speed`: the target's own delays are divided by it.
    pub speed: f64,
    /// The run's seed, for the target's random draws.
    pub seed: u64,
    /// Its `builtin:KIND?KEY=VALUE` options, checked by [`options::parse`].
    pub options: options::Options,
}

/// Starts built-in targets.
pub trait Builtins: Send + Sync {
    /// Starts the target `wanted` names, in the background.
    fn start(&self, wanted: Wanted) -> BoxFuture<'static, io::Result<Box<dyn Served>>>;
}

/// A built-in target running in the background.
pub trait Served: Send {
    /// Its base URL, like `http://127.0.0.1:PORT`.
    fn url(&self) -> &str;
    /// Shuts it down gracefully and waits until it has stopped.
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()>;
}
