//! Timing accuracy: for every kind of wait, how far the observed wait was
//! from the configured one, so a run shows it respected its parameters.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::metrics::{latency_histogram, record_us, sum_by, value_histogram};
use super::{IntervalAccuracy, Wait};

/// Deviations per kind of wait, in first-seen order.
#[derive(Default)]
pub struct Waits {
    waits: Vec<(Wait, Deviation)>,
}

struct Deviation {
    /// When the first of its kind was noted: the order kinds are listed in.
    first: Instant,
    count: u64,
    configured_us: f64,
    observed_us: f64,
    dev_us: f64,
    dev_pct: f64,
    abs_dev_us: Histogram<u64>,
    /// |deviation| relative to the configured wait, in hundredths of a percent.
    abs_dev_bp: Histogram<u64>,
}

impl Waits {
    /// Notes one wait.
    pub fn observe(&mut self, kind: Wait, configured: Duration, observed: Duration) {
        let i = match self.waits.iter().position(|(k, _)| *k == kind) {
            Some(i) => i,
            None => {
                let wait = Deviation {
                    first: Instant::now(),
                    count: 0,
                    configured_us: 0.0,
                    observed_us: 0.0,
                    dev_us: 0.0,
                    dev_pct: 0.0,
                    abs_dev_us: latency_histogram(),
                    abs_dev_bp: value_histogram(100_000_000),
                };
                self.waits.push((kind, wait));
                self.waits.len() - 1
            }
        };
        let w = &mut self.waits[i].1;
        let configured = configured.as_secs_f64() * 1e6;
        let observed = observed.as_secs_f64() * 1e6;
        let dev = observed - configured;
        w.count += 1;
        w.configured_us += configured;
        w.observed_us += observed;
        w.dev_us += dev;
        record_us(&mut w.abs_dev_us, dev.abs() as u64);
        if configured > 0.0 {
            w.dev_pct += dev / configured * 100.0;
            w.abs_dev_bp
                .saturating_record(((dev.abs() / configured) * 10_000.0).max(1.0) as u64);
        }
    }

    /// Adds `other`'s waits, keeping the kinds in first-seen order.
    pub fn absorb(&mut self, other: Waits) {
        sum_by(
            &mut self.waits,
            other.waits,
            |(k, _)| *k,
            |(_, mine), (_, theirs)| {
                mine.first = mine.first.min(theirs.first);
                mine.count += theirs.count;
                mine.configured_us += theirs.configured_us;
                mine.observed_us += theirs.observed_us;
                mine.dev_us += theirs.dev_us;
                mine.dev_pct += theirs.dev_pct;
                // Both grow or saturate the same way: adding cannot fail for want of range.
                let _ = mine.abs_dev_us.add(&theirs.abs_dev_us);
                let _ = mine.abs_dev_bp.add(&theirs.abs_dev_bp);
            },
        );
        self.waits.sort_by_key(|(_, w)| w.first);
    }

    /// Accuracy per kind of wait, each named by `name`.
    pub fn stats(&self, name: impl Fn(Wait) -> String) -> Vec<IntervalAccuracy> {
        self.waits
            .iter()
            .map(|(kind, w)| {
                let n = w.count.max(1) as f64;
                IntervalAccuracy {
                    name: name(*kind),
                    count: w.count,
                    configured_ms: w.configured_us / n / 1000.0,
                    observed_ms: w.observed_us / n / 1000.0,
                    mean_dev_ms: w.dev_us / n / 1000.0,
                    p99_dev_ms: w.abs_dev_us.value_at_quantile(0.99) as f64 / 1000.0,
                    mean_dev_pct: w.dev_pct / n,
                    p99_dev_pct: w.abs_dev_bp.value_at_quantile(0.99) as f64 / 100.0,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deviation_is_reported_in_ms_and_percent() {
        let mut w = Waits::default();
        for late_ms in [10, 20, 30] {
            let d = Duration::from_millis(1000 + late_ms);
            w.observe(Wait::RetryBackoff, Duration::from_secs(1), d);
        }
        let s = &w.stats(|_| "retry".into())[0];
        assert_eq!(s.count, 3);
        assert!((s.configured_ms - 1000.0).abs() < 1e-9);
        assert!((s.mean_dev_ms - 20.0).abs() < 0.01, "{}", s.mean_dev_ms);
        assert!((s.mean_dev_pct - 2.0).abs() < 0.01, "{}", s.mean_dev_pct);
        assert!((s.p99_dev_ms - 30.0).abs() < 0.1, "{}", s.p99_dev_ms);
        assert!((s.p99_dev_pct - 3.0).abs() < 0.01, "{}", s.p99_dev_pct);
    }

    #[test]
    fn absorbed_waits_equal_one_set_that_saw_them_all() {
        let (mut whole, mut a, mut b) = (Waits::default(), Waits::default(), Waits::default());
        let pause = Wait::Pause { flow: 0, step: 1 };
        for (i, late_ms) in [1u64, 5, 2, 40, 3, 7].into_iter().enumerate() {
            let (kind, d) = if i == 3 {
                (Wait::RetryBackoff, Duration::from_millis(100))
            } else {
                (pause, Duration::from_secs(1))
            };
            let observed = d + Duration::from_millis(late_ms);
            whole.observe(kind, d, observed);
            let part = if i % 2 == 0 { &mut a } else { &mut b };
            part.observe(kind, d, observed);
        }
        a.absorb(b);
        let name = |k: Wait| format!("{k:?}");
        let (got, want) = (a.stats(name), whole.stats(name));
        assert_eq!(got.len(), 2);
        for (g, w) in got.iter().zip(&want) {
            assert_eq!((&g.name, g.count), (&w.name, w.count));
            assert!((g.mean_dev_ms - w.mean_dev_ms).abs() < 1e-9);
            assert!((g.mean_dev_pct - w.mean_dev_pct).abs() < 1e-9);
            assert_eq!(g.p99_dev_ms, w.p99_dev_ms);
            assert_eq!(g.p99_dev_pct, w.p99_dev_pct);
        }
    }
}
