//! Per-step rate limits (requests per second), to protect the target.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio_util::sync::CancellationToken;

/// The limiters of a run: by request slot ([`crate::plan::Request::slot`]),
/// and `*` for all requests together.
pub struct RateLimits {
    by_slot: Vec<Option<DefaultDirectRateLimiter>>,
    all: Option<DefaultDirectRateLimiter>,
}

impl RateLimits {
    /// One limiter per configured rate, for the plan's request `names`
    /// (a rate names one of them, or is `*`: all requests, not a step named so).
    pub fn new(rates: &[(Arc<str>, f64)], names: &[Arc<str>]) -> Self {
        let rate = |name: &str| rates.iter().find(|(n, _)| &**n == name).map(|(_, r)| *r);
        let own = |name: &str| if name == "*" { None } else { rate(name) };
        RateLimits {
            by_slot: names.iter().map(|n| own(n).map(limiter)).collect(),
            all: rate("*").map(limiter),
        }
    }

    /// Waits until the requests at `slot` may send another; false when
    /// `token` is cancelled first. A step no limit applies to does not wait
    /// (nor register with the token: that is every request of most runs).
    pub async fn wait(&self, slot: u32, token: &CancellationToken) -> bool {
        let own = self.by_slot[slot as usize].as_ref();
        if self.all.is_none() && own.is_none() {
            return !token.is_cancelled();
        }
        let both = async {
            if let Some(all) = &self.all {
                all.until_ready().await;
            }
            if let Some(own) = own {
                own.until_ready().await;
            }
        };
        tokio::select! {
            _ = both => true,
            _ = token.cancelled() => false,
        }
    }
}

/// A limiter of `rate` per second. The burst is about 2 ms worth of requests
/// (at least 1): a burst equal to the rate would let a whole second's worth
/// through at once, and a burst of 1 under-delivers at high rates because of
/// the 1 ms timer (DEPS.md, governor).
fn limiter(rate: f64) -> DefaultDirectRateLimiter {
    let period = Duration::from_secs_f64(1.0 / rate).max(Duration::from_nanos(1));
    let burst = NonZeroU32::new(((rate * 0.002).ceil() as u32).max(1)).expect("at least 1");
    let quota = Quota::with_period(period)
        .expect("a positive period")
        .allow_burst(burst);
    RateLimiter::direct(quota)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_limits_all_requests_together_not_a_step_named_star() {
        let names: [Arc<str>; 2] = ["*".into(), "create".into()];
        let limits = RateLimits::new(&[("*".into(), 10.0)], &names);
        assert!(limits.all.is_some());
        assert!(limits.by_slot.iter().all(Option::is_none));
    }

    #[tokio::test]
    async fn a_limit_spaces_requests_out() {
        let limits = RateLimits::new(&[("create".into(), 100.0)], &["create".into()]);
        let token = CancellationToken::new();
        let started = std::time::Instant::now();
        for _ in 0..21 {
            assert!(limits.wait(0, &token).await);
        }
        // 21 requests at 100/s: the first goes at once, the last after ~200 ms.
        assert!(
            started.elapsed() >= Duration::from_millis(180),
            "{:?}",
            started.elapsed()
        );
    }
}
