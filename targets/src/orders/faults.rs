//! Fault injection of the orders target: latency, then at most one of drop,
//! stall or error per request, decided before the request touches any state
//! (drawn here, with the acceptance delays; served by `crate::mishaps`).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::OrdersConfig;
use crate::mishaps::{self, between, ordered, share};

pub(super) use crate::mishaps::Fault;

/// One request's draw: the latency to add, then what happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Decision {
    pub(super) latency: Duration,
    pub(super) fault: Fault,
}

/// Acceptance delays, latency and fault injection, drawn from one seeded generator.
#[derive(Debug)]
pub(super) struct Chaos {
    delay_min: Duration,
    delay_max: Duration,
    latency_min: Duration,
    latency_max: Duration,
    /// Upper bounds of the cumulative shares: drop, then stall, then error.
    drop_below: f64,
    stall_below: f64,
    error_below: f64,
    stall_delay: Duration,
    rng: Mutex<ChaCha8Rng>,
}

impl Chaos {
    pub(super) fn new(config: &OrdersConfig) -> Self {
        let (delay_min, delay_max) = ordered(config.accept_delay_min, config.accept_delay_max);
        let (latency_min, latency_max) = ordered(config.latency_min, config.latency_max);
        let drop_below = share(config.drop_rate);
        let stall_below = (drop_below + share(config.stall_rate)).min(1.0);
        let error_below = (stall_below + share(config.error_rate)).min(1.0);
        Self {
            delay_min,
            delay_max,
            latency_min,
            latency_max,
            drop_below,
            stall_below,
            error_below,
            stall_delay: config.stall_delay,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed)),
        }
    }

    fn rng(&self) -> MutexGuard<'_, ChaCha8Rng> {
        self.rng.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides one request. A target without latency or faults draws nothing, so
    /// its acceptance delays are the same whatever the traffic.
    pub(super) fn decide(&self) -> Decision {
        let latency_fixed = self.latency_min == self.latency_max;
        if latency_fixed && self.error_below == 0.0 {
            return Decision {
                latency: self.latency_min,
                fault: Fault::Pass,
            };
        }
        let mut rng = self.rng();
        let latency = between(&mut rng, self.latency_min, self.latency_max);
        let fault = if self.error_below == 0.0 {
            Fault::Pass
        } else {
            let u: f64 = rng.random(); // 0.0..1.0, so a share of 1.0 always hits
            if u < self.drop_below {
                Fault::Drop
            } else if u < self.stall_below {
                Fault::Stall
            } else if u < self.error_below {
                Fault::Error
            } else {
                Fault::Pass
            }
        };
        Decision { latency, fault }
    }

    /// How long a new order stays Pending.
    pub(super) fn accept_delay(&self) -> Duration {
        between(&mut self.rng(), self.delay_min, self.delay_max)
    }
}

/// Latency, then at most one fault, for every route but `/stats`; a request
/// that meets a fault never reaches its handler, so no state changes.
pub(super) async fn inject_faults(
    State(chaos): State<Arc<Chaos>>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() == "/stats" {
        return next.run(request).await;
    }
    let Decision { latency, fault } = chaos.decide();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    mishaps::serve(fault, chaos.stall_delay, request, next).await
}
