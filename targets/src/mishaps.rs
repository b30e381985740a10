//! Injected failures and latency for the targets whose only faults are
//! these two (users, order-api, order-service, order-processor): a seeded
//! draw per request of whether it fails with 500 and how long it waits first.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// Latency range and error share, drawn from one seeded generator.
#[derive(Debug)]
pub struct Mishaps {
    latency_min: Duration,
    latency_max: Duration,
    error_rate: f64,
    rng: Mutex<ChaCha8Rng>,
}

impl Mishaps {
    /// Latency between `latency` (either order), a failed share of
    /// `error_rate` (clamped to 0..1), reproducible from `seed`.
    pub fn new(latency: (Duration, Duration), error_rate: f64, seed: u64) -> Self {
        let (latency_min, latency_max) = if latency.0 <= latency.1 {
            latency
        } else {
            (latency.1, latency.0)
        };
        let error_rate = if error_rate.is_nan() {
            0.0
        } else {
            error_rate.clamp(0.0, 1.0)
        };
        Self {
            latency_min,
            latency_max,
            error_rate,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// Decides one request: whether to fail it, and how long to delay it first.
    pub fn draw(&self) -> (bool, Duration) {
        if self.error_rate == 0.0 && self.latency_max.is_zero() {
            return (false, Duration::ZERO);
        }
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        let fail = self.error_rate > 0.0 && rng.random_bool(self.error_rate);
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let (lo, hi) = (nanos(self.latency_min), nanos(self.latency_max));
        (fail, Duration::from_nanos(rng.random_range(lo..=hi)))
    }

    /// Waits the drawn latency; true when the request is to fail.
    pub async fn strike(&self) -> bool {
        let (fail, delay) = self.draw();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        fail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_reproducible_and_stay_in_range() {
        let latency = (Duration::from_millis(2), Duration::from_millis(1));
        let draws = |m: &Mishaps| (0..40).map(|_| m.draw()).collect::<Vec<_>>();
        let a = draws(&Mishaps::new(latency, 0.5, 9));
        assert_eq!(a, draws(&Mishaps::new(latency, 0.5, 9)));
        assert!(a.iter().any(|d| d.0) && a.iter().any(|d| !d.0));
        for (_, delay) in a {
            assert!((Duration::from_millis(1)..=Duration::from_millis(2)).contains(&delay));
        }
        let calm = Mishaps::new((Duration::ZERO, Duration::ZERO), 0.0, 0);
        assert_eq!(calm.draw(), (false, Duration::ZERO));
    }
}
