//! A circuit breaker per endpoint (step name): after a run of failures that
//! say the target is unwell (no connection, timeout, 5xx, 429) it opens and
//! requests wait instead of hammering the target; after `open_for` one probe
//! is let through (half-open); its success closes the breaker, its failure
//! opens it again. Waiting rather than failing keeps every order tracked.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::plan::BreakerConfig;
use crate::recorder::BreakerState;

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// One endpoint's breaker.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
    /// False while the breaker is closed with no failure counted: then
    /// admitting a request and noting a success take no lock (most requests).
    unsettled: AtomicBool,
}

/// What `admit` decided.
pub enum Admit<'a> {
    /// Send.
    Go,
    /// Send as the half-open breaker's probe (the breaker just changed state).
    Probe(Probe<'a>),
    /// The token was cancelled while waiting.
    Cancelled,
}

/// The one request a half-open breaker lets through. Its result goes
/// through [`Probe::record`]; a probe dropped without one (its request
/// interrupted before it went out, or its task gone) opens the breaker
/// again at once, so that the next request becomes the probe instead of
/// every request waiting for a result that never comes.
pub struct Probe<'a> {
    breaker: &'a Breaker,
}

impl Probe<'_> {
    /// Notes the probe's result, as [`Breaker::record`].
    pub fn record(self, healthy: bool) -> Option<BreakerState> {
        let breaker = self.breaker;
        // A probe with a result is not a dropped one.
        std::mem::forget(self);
        breaker.record(healthy)
    }
}

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        // Not `expect`: a panic while unwinding would abort the process.
        if let Ok(mut state) = self.breaker.state.lock()
            && matches!(*state, State::HalfOpen)
        {
            *state = State::Open {
                until: Instant::now(),
            };
        }
    }
}

impl Breaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        Breaker {
            config,
            state: Mutex::new(State::Closed { failures: 0 }),
            unsettled: AtomicBool::new(false),
        }
    }

    /// Waits until a request may go: at once when closed; when open, until
    /// `open_for` has passed and this caller is the probe; when half-open,
    /// until the probe's result is known.
    pub async fn admit(&self, token: &CancellationToken) -> Admit<'_> {
        if !self.unsettled.load(Ordering::Acquire) {
            return Admit::Go;
        }
        loop {
            let wait = {
                let mut state = self.state.lock().expect("breaker lock");
                match *state {
                    State::Closed { .. } => return Admit::Go,
                    State::Open { until } if Instant::now() >= until => {
                        *state = State::HalfOpen;
                        return Admit::Probe(Probe { breaker: self });
                    }
                    State::Open { until } => until.saturating_duration_since(Instant::now()),
                    State::HalfOpen => Duration::from_millis(20)
                        .min(self.config.open_for.max(Duration::from_millis(1))),
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = token.cancelled() => return Admit::Cancelled,
            }
        }
    }

    /// Notes a result; returns the new state if it changed.
    pub fn record(&self, healthy: bool) -> Option<BreakerState> {
        if self.config.failures == 0 || (healthy && !self.unsettled.load(Ordering::Acquire)) {
            return None;
        }
        let mut state = self.state.lock().expect("breaker lock");
        let changed = Self::next(&mut state, healthy, &self.config);
        let settled = matches!(*state, State::Closed { failures: 0 });
        self.unsettled.store(!settled, Ordering::Release);
        changed
    }

    /// The state after a result, and the change to report.
    fn next(state: &mut State, healthy: bool, config: &BreakerConfig) -> Option<BreakerState> {
        let open = || State::Open {
            until: Instant::now() + config.open_for,
        };
        match (&mut *state, healthy) {
            (State::Closed { failures }, true) => {
                *failures = 0;
                None
            }
            (State::Closed { failures }, false) => {
                *failures += 1;
                if *failures >= config.failures {
                    *state = open();
                    Some(BreakerState::Open)
                } else {
                    None
                }
            }
            (State::HalfOpen, true) | (State::Open { .. }, true) => {
                *state = State::Closed { failures: 0 };
                Some(BreakerState::Closed)
            }
            (State::HalfOpen, false) => {
                *state = open();
                Some(BreakerState::Open)
            }
            (State::Open { .. }, false) => None,
        }
    }
}

/// The breakers of a run, one per request name of the plan, made up front
/// and found by the request's slot ([`crate::plan::Request::slot`]): no
/// lock, no shared reference count (written per request, either would cost
/// every core), no hash of the name.
#[derive(Debug)]
pub struct Breakers(Vec<Breaker>);

impl Breakers {
    /// A breaker for each of the plan's `names`.
    pub fn new(config: BreakerConfig, names: usize) -> Self {
        Breakers((0..names).map(|_| Breaker::new(config)).collect())
    }

    /// The breaker of the requests at `slot`.
    pub fn get(&self, slot: u32) -> &Breaker {
        &self.0[slot as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerConfig {
            failures: 3,
            open_for: Duration::from_millis(50),
        })
    }

    #[test]
    fn each_name_has_its_own_breaker() {
        let config = BreakerConfig {
            failures: 1,
            open_for: Duration::from_secs(1),
        };
        let breakers = Breakers::new(config, 2);
        assert_eq!(breakers.get(0).record(false), Some(BreakerState::Open));
        assert_eq!(breakers.get(1).record(true), None, "1 is not 0's");
    }

    #[tokio::test(start_paused = true)]
    async fn it_opens_after_a_run_of_failures_and_closes_after_a_good_probe() {
        let b = breaker();
        let token = CancellationToken::new();
        assert_eq!(b.record(false), None);
        assert_eq!(b.record(true), None, "a success resets the run");
        assert_eq!((b.record(false), b.record(false)), (None, None));
        assert_eq!(b.record(false), Some(BreakerState::Open));
        let started = Instant::now();
        let probe = probe(&b, &token).await;
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "waited for open_for"
        );
        assert_eq!(probe.record(true), Some(BreakerState::Closed));
        assert!(matches!(b.admit(&token).await, Admit::Go));
    }

    /// A breaker opened by three failures.
    fn opened() -> Breaker {
        let b = breaker();
        for _ in 0..3 {
            b.record(false);
        }
        b
    }

    /// The probe `b` lets through once it is half-open.
    async fn probe<'a>(b: &'a Breaker, token: &CancellationToken) -> Probe<'a> {
        match b.admit(token).await {
            Admit::Probe(probe) => probe,
            _ => panic!("not the probe"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_opens_it_again_and_waiting_stops_on_cancel() {
        let b = opened();
        let token = CancellationToken::new();
        let probe = probe(&b, &token).await;
        assert_eq!(probe.record(false), Some(BreakerState::Open));
        token.cancel();
        assert!(matches!(b.admit(&token).await, Admit::Cancelled));
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_that_never_went_out_lets_the_next_request_probe() {
        let b = opened();
        let token = CancellationToken::new();
        // Interrupted before its request was sent: no result.
        drop(probe(&b, &token).await);
        let started = Instant::now();
        let next = probe(&b, &token).await;
        assert!(started.elapsed() < Duration::from_millis(1), "no wait");
        assert_eq!(next.record(true), Some(BreakerState::Closed));
    }
}
