//! Fault injection shared by the targets: latency, then at most one of a
//! dropped connection, a stall (504 after a delay) or a 500, decided before
//! a request reaches its handler, so a faulty request never changes state.
//! The orders target draws its own decisions (they share a generator with
//! its acceptance delays) and serves them with [`serve`]; the others use
//! [`Mishaps`] and its middleware [`inject`].

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::Frame;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde_json::json;

/// What happens to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Served normally.
    Pass,
    /// Answered 500 at once.
    Error,
    /// Connection closed without an answer.
    Drop,
    /// Answered 504 only after the stall delay.
    Stall,
}

/// The shares of requests that meet each fault (each 0..1, together at most 1).
#[derive(Clone, Copy, Debug, Default)]
pub struct Rates {
    /// Answered 500.
    pub error: f64,
    /// Dropped without an answer.
    pub drop: f64,
    /// Answered 504 after the stall delay.
    pub stall: f64,
}

/// The faults a target injects, as `runner serve` and the engine set them.
#[derive(Clone, Debug)]
pub struct Faults {
    /// Shortest latency added to a request.
    pub latency_min: Duration,
    /// Longest.
    pub latency_max: Duration,
    /// Share (0..1) answered 500 without doing anything.
    pub error_rate: f64,
    /// Share (0..1) whose connection is closed without an answer.
    pub drop_rate: f64,
    /// Share (0..1) answered 504 only after `stall_delay`.
    pub stall_rate: f64,
    /// How long a stalled request waits.
    pub stall_delay: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_min: Duration::ZERO,
            latency_max: Duration::ZERO,
            error_rate: 0.0,
            drop_rate: 0.0,
            stall_rate: 0.0,
            stall_delay: Duration::from_secs(60),
        }
    }
}

/// `(a, b)` in ascending order.
pub fn ordered(a: Duration, b: Duration) -> (Duration, Duration) {
    if a <= b { (a, b) } else { (b, a) }
}

/// A share clamped into 0.0..=1.0; NaN counts as 0.
pub fn share(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

/// A uniform draw in `min..=max`.
pub fn between(rng: &mut ChaCha8Rng, min: Duration, max: Duration) -> Duration {
    if min == max {
        return min;
    }
    let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(nanos(min)..=nanos(max)))
}

/// Latency range and fault shares, drawn from one seeded generator.
#[derive(Debug)]
pub struct Mishaps {
    latency_min: Duration,
    latency_max: Duration,
    /// Upper bounds of the cumulative shares: drop, then stall, then error.
    drop_below: f64,
    stall_below: f64,
    error_below: f64,
    stall_delay: Duration,
    rng: Mutex<ChaCha8Rng>,
}

impl Mishaps {
    /// Latency between `latency` (either order), faults at `rates`, a stall
    /// lasting `stall_delay`, reproducible from `seed`.
    pub fn new(
        latency: (Duration, Duration),
        rates: Rates,
        stall_delay: Duration,
        seed: u64,
    ) -> Self {
        let (latency_min, latency_max) = ordered(latency.0, latency.1);
        let drop_below = share(rates.drop);
        let stall_below = (drop_below + share(rates.stall)).min(1.0);
        let error_below = (stall_below + share(rates.error)).min(1.0);
        Self {
            latency_min,
            latency_max,
            drop_below,
            stall_below,
            error_below,
            stall_delay,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// The mishaps `faults` describes, reproducible from `seed`.
    pub fn from_faults(faults: &Faults, seed: u64) -> Self {
        let rates = Rates {
            error: faults.error_rate,
            drop: faults.drop_rate,
            stall: faults.stall_rate,
        };
        Self::new(
            (faults.latency_min, faults.latency_max),
            rates,
            faults.stall_delay,
            seed,
        )
    }

    /// Decides one request: how long it waits first, and what then happens.
    pub fn draw(&self) -> (Duration, Fault) {
        if self.error_below == 0.0 && self.latency_max.is_zero() {
            return (Duration::ZERO, Fault::Pass);
        }
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        let latency = between(&mut rng, self.latency_min, self.latency_max);
        let u: f64 = if self.error_below == 0.0 {
            1.0
        } else {
            rng.random()
        };
        let fault = if u < self.drop_below {
            Fault::Drop
        } else if u < self.stall_below {
            Fault::Stall
        } else if u < self.error_below {
            Fault::Error
        } else {
            Fault::Pass
        };
        (latency, fault)
    }

    /// The latency, then the fault drawn for `request`.
    pub async fn apply(&self, request: Request, next: Next) -> Response {
        let (latency, fault) = self.draw();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        serve(fault, self.stall_delay, request, next).await
    }
}

/// Middleware: [`Mishaps::apply`] in front of the routes it is layered on.
pub async fn inject(State(mishaps): State<Arc<Mishaps>>, request: Request, next: Next) -> Response {
    mishaps.apply(request, next).await
}

/// Serves `fault` for `request`: passes it on, or answers without it.
pub async fn serve(fault: Fault, stall_delay: Duration, request: Request, next: Next) -> Response {
    let (method, path) = (request.method(), request.uri().path());
    let answer = |status: StatusCode, message: &str| {
        (status, Json(json!({ "error": message }))).into_response()
    };
    match fault {
        Fault::Pass => next.run(request).await,
        Fault::Error => {
            tracing::debug!(%method, path, "injected failure");
            answer(StatusCode::INTERNAL_SERVER_ERROR, "injected failure")
        }
        Fault::Drop => {
            tracing::debug!(%method, path, "injected drop");
            Response::new(Body::new(Severed))
        }
        Fault::Stall => {
            tracing::debug!(%method, path, delay = ?stall_delay, "injected stall");
            tokio::time::sleep(stall_delay).await;
            answer(StatusCode::GATEWAY_TIMEOUT, "injected stall")
        }
    }
}

/// A response body that fails on its first poll, before any byte is sent.
///
/// hyper (HTTP/1.1) keeps the status line in its write buffer until the body's
/// first frame is ready; when the body fails instead, it gives up the connection
/// and drops the socket with the buffer unsent. The client sees the connection
/// closed (or reset) without any answer, at once. This is how a drop is served
/// through axum, whose handlers never see the socket. Over HTTP/2 the same body
/// resets only the stream, after the headers.
#[derive(Debug)]
struct Severed;

impl hyper::body::Body for Severed {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Poll::Ready(Some(Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "injected drop",
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_reproducible_stay_in_range_and_follow_the_shares() {
        let latency = (Duration::from_millis(2), Duration::from_millis(1));
        let rates = Rates {
            error: 0.3,
            drop: 0.3,
            stall: 0.3,
        };
        let m = || Mishaps::new(latency, rates, Duration::from_secs(1), 9);
        let draws = |m: &Mishaps| (0..200).map(|_| m.draw()).collect::<Vec<_>>();
        let a = draws(&m());
        assert_eq!(a, draws(&m()));
        for fault in [Fault::Pass, Fault::Error, Fault::Drop, Fault::Stall] {
            assert!(a.iter().any(|d| d.1 == fault), "{fault:?} never drawn");
        }
        for (delay, _) in &a {
            assert!((Duration::from_millis(1)..=Duration::from_millis(2)).contains(delay));
        }
        let calm = Mishaps::new(
            (Duration::ZERO, Duration::ZERO),
            Rates::default(),
            Duration::ZERO,
            0,
        );
        assert_eq!(calm.draw(), (Duration::ZERO, Fault::Pass));
        let always = Mishaps::new(
            (Duration::ZERO, Duration::ZERO),
            Rates {
                drop: 1.0,
                ..Rates::default()
            },
            Duration::ZERO,
            0,
        );
        assert_eq!(always.draw().1, Fault::Drop);
    }
}
