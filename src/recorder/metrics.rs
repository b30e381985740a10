//! Latency per step in HDR histograms (µs, 3 significant digits): exact
//! percentiles in constant memory, mergeable across processes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use hdrhistogram::Histogram;

use super::histograms::{ByName, Hdr};
use super::{Checks, Dist, Exchange, StepStats};

/// A histogram of microseconds (3 significant digits) that grows with the
/// largest value recorded: a few-millisecond step needs about 30 KiB, not the
/// 180 KiB a fixed range up to an hour takes, and a run keeps hundreds (per
/// step, per endpoint, per flow).
pub fn latency_histogram() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 2, 3).expect("valid HDR bounds");
    h.auto(true);
    h
}

/// Records `us` microseconds (at least 1) in a [`latency_histogram`], growing
/// its range when needed (`saturating_record` would clamp to the range).
pub fn record_us(h: &mut Histogram<u64>, us: u64) {
    // Fails only when the range cannot grow (out of memory): the value is then left out.
    let _ = h.record(us.max(1));
}

/// A histogram of plain counts or values up to `max`.
pub fn value_histogram(max: u64) -> Histogram<u64> {
    Histogram::new_with_bounds(1, max.max(2), 3).expect("valid HDR bounds")
}

/// Summarises a histogram, dividing every value by `scale` (1000 turns µs into ms).
pub fn dist(h: &Histogram<u64>, scale: f64) -> Dist {
    if h.is_empty() {
        return Dist::default();
    }
    let q = |q: f64| h.value_at_quantile(q) as f64 / scale;
    Dist {
        count: h.len(),
        mean: h.mean() / scale,
        p50: q(0.5),
        p90: q(0.9),
        p95: q(0.95),
        p99: q(0.99),
        max: h.max() as f64 / scale,
    }
}

/// Sets a step's attempt count and latency figures from its histogram (µs).
pub fn latency_stats(stats: &mut StepStats, h: &Histogram<u64>) {
    let d = dist(h, 1000.0);
    stats.count = h.len();
    stats.mean_ms = d.mean;
    stats.stddev_ms = if h.is_empty() {
        0.0
    } else {
        h.stdev() / 1000.0
    };
    stats.p50_ms = d.p50;
    stats.p90_ms = d.p90;
    stats.p95_ms = d.p95;
    stats.p99_ms = d.p99;
    stats.p999_ms = if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(0.999) as f64 / 1000.0
    };
    stats.max_ms = d.max;
}

/// Adds `from` into `into` by key, keeping first-seen order.
pub fn sum_by<T, K: PartialEq>(
    into: &mut Vec<T>,
    from: Vec<T>,
    key: impl Fn(&T) -> K,
    mut add: impl FnMut(&mut T, T),
) {
    for item in from {
        let k = key(&item);
        match into.iter_mut().find(|x| key(x) == k) {
            Some(mine) => add(mine, item),
            None => into.push(item),
        }
    }
}

/// Adds every count of `from` into `into`.
pub fn add_map<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

/// Histograms and counters per key (a step name, an endpoint), in first-seen order.
#[derive(Default)]
pub struct StepMetrics {
    steps: Vec<(Arc<str>, Step)>,
}

struct Step {
    /// When its first exchange was sent: the order keys are listed in.
    first: SystemTime,
    latency: Histogram<u64>,
    errors: u64,
    statuses: BTreeMap<u16, u64>,
    outcomes: BTreeMap<&'static str, u64>,
    classes: BTreeMap<&'static str, u64>,
    checks: Checks,
}

impl StepMetrics {
    /// Counts one exchange under `key`.
    pub fn observe(&mut self, key: &str, x: &Exchange) {
        let i = match self.steps.iter().position(|(n, _)| **n == *key) {
            Some(i) => i,
            None => {
                let step = Step {
                    first: x.at,
                    latency: latency_histogram(),
                    errors: 0,
                    statuses: BTreeMap::new(),
                    outcomes: BTreeMap::new(),
                    classes: BTreeMap::new(),
                    checks: Checks::default(),
                };
                self.steps.push((key.into(), step));
                self.steps.len() - 1
            }
        };
        let s = &mut self.steps[i].1;
        record_us(&mut s.latency, x.latency.as_micros() as u64);
        if let Some(class) = x.outcome.error_class(x.status) {
            s.errors += 1;
            *s.classes.entry(class).or_default() += 1;
        }
        if let Some(code) = x.status {
            *s.statuses.entry(code).or_default() += 1;
        }
        *s.outcomes.entry(x.outcome.as_str()).or_default() += 1;
        s.checks.add(x.checks);
    }

    /// Adds `other`'s counts, keeping the keys in first-seen order.
    pub fn absorb(&mut self, other: StepMetrics) {
        sum_by(
            &mut self.steps,
            other.steps,
            |(k, _)| k.clone(),
            |(_, mine), (_, theirs)| {
                mine.first = mine.first.min(theirs.first);
                // Both grow their range as needed, so adding cannot fail for want of range.
                let _ = mine.latency.add(&theirs.latency);
                mine.errors += theirs.errors;
                add_map(&mut mine.statuses, &theirs.statuses);
                add_map(&mut mine.outcomes, &theirs.outcomes);
                add_map(&mut mine.classes, &theirs.classes);
                mine.checks.add(theirs.checks);
            },
        );
        self.steps.sort_by_key(|(_, s)| s.first);
    }

    /// Each key's latency histogram.
    pub fn histograms(&self) -> ByName {
        self.steps
            .iter()
            .map(|(name, s)| (name.to_string(), Hdr(s.latency.clone())))
            .collect()
    }

    /// Statistics per step.
    pub fn stats(&self) -> Vec<StepStats> {
        self.steps
            .iter()
            .map(|(name, s)| {
                let mut stats = StepStats {
                    name: name.to_string(),
                    count: 0,
                    errors: s.errors,
                    mean_ms: 0.0,
                    stddev_ms: 0.0,
                    p50_ms: 0.0,
                    p90_ms: 0.0,
                    p95_ms: 0.0,
                    p99_ms: 0.0,
                    p999_ms: 0.0,
                    max_ms: 0.0,
                    statuses: s.statuses.clone(),
                    outcomes: s
                        .outcomes
                        .iter()
                        .map(|(k, v)| (k.to_string(), *v))
                        .collect(),
                    error_classes: s.classes.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                    checks: s.checks,
                };
                latency_stats(&mut stats, &s.latency);
                stats
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::Outcome;
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};

    fn exchange(step: &str, us: u64, outcome: Outcome, status: u16) -> Exchange<'static> {
        Exchange::sample(step, us, outcome, status)
    }

    /// The value at quantile q of a sorted sample, as HDR defines it (the
    /// smallest value with at least q of the samples at or below it).
    fn brute(sorted: &[u64], q: f64) -> u64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    #[test]
    fn percentiles_match_a_brute_force_sort_within_hdr_precision() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for round in 0..5 {
            let mut m = StepMetrics::default();
            let mut sample: Vec<u64> = (0..20_000)
                .map(|_| {
                    // A long-tailed mix: mostly 0.2–5 ms, some up to 2 s.
                    if rng.random_bool(0.95) {
                        rng.random_range(200..5_000)
                    } else {
                        rng.random_range(5_000..2_000_000)
                    }
                })
                .collect();
            for us in &sample {
                m.observe("s", &exchange("s", *us, Outcome::Ok, 200));
            }
            sample.sort_unstable();
            let s = &m.stats()[0];
            for (q, got) in [
                (0.5, s.p50_ms),
                (0.9, s.p90_ms),
                (0.95, s.p95_ms),
                (0.99, s.p99_ms),
                (0.999, s.p999_ms),
            ] {
                let want = brute(&sample, q) as f64 / 1000.0;
                // 3 significant digits: within 0.1% (plus one bucket).
                assert!(
                    (got - want).abs() <= want * 0.001 + 0.001,
                    "round {round} q{q}: hdr {got} vs sort {want}"
                );
            }
            let max = *sample.last().unwrap() as f64 / 1000.0;
            assert!((s.max_ms - max).abs() <= max * 0.001);
            let mean = sample.iter().sum::<u64>() as f64 / sample.len() as f64 / 1000.0;
            assert!(
                (s.mean_ms - mean).abs() <= mean * 0.001,
                "{} vs {mean}",
                s.mean_ms
            );
        }
    }

    #[test]
    fn merged_histograms_give_the_same_percentiles_as_one() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let values: Vec<u64> = (0..10_000)
            .map(|_| rng.random_range(1..1_000_000))
            .collect();
        let mut whole = latency_histogram();
        let mut parts = [
            latency_histogram(),
            latency_histogram(),
            latency_histogram(),
        ];
        for (i, v) in values.iter().enumerate() {
            whole.record(*v).unwrap();
            parts[i % 3].record(*v).unwrap();
        }
        let mut merged = latency_histogram();
        for p in &parts {
            merged.add(p).unwrap();
        }
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(merged.value_at_quantile(q), whole.value_at_quantile(q));
        }
        assert_eq!(merged.len(), whole.len());
    }

    #[test]
    fn absorbed_metrics_equal_one_set_that_saw_everything() {
        let (mut whole, mut a, mut b) = (
            StepMetrics::default(),
            StepMetrics::default(),
            StepMetrics::default(),
        );
        for (i, (step, outcome, status)) in [
            ("x", Outcome::Ok, 200),
            ("y", Outcome::UnexpectedStatus, 503),
            ("x", Outcome::Timeout, 0),
            ("z", Outcome::Ok, 201),
            ("y", Outcome::Ok, 200),
        ]
        .into_iter()
        .enumerate()
        {
            let x = Exchange {
                at: std::time::UNIX_EPOCH + std::time::Duration::from_millis(i as u64),
                ..exchange(step, 100 * (i as u64 + 1), outcome, status)
            };
            whole.observe(step, &x);
            let part = if i % 2 == 0 { &mut a } else { &mut b };
            part.observe(step, &x);
        }
        // b (y, z) takes in a (x, y): x was seen first, though b lists it last.
        b.absorb(a);
        let (got, want) = (b.stats(), whole.stats());
        let names: Vec<_> = got.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["x", "y", "z"], "in first-seen order");
        for w in &want {
            let g = got.iter().find(|g| g.name == w.name).unwrap();
            assert_eq!(
                (
                    g.count,
                    g.errors,
                    &g.statuses,
                    &g.outcomes,
                    &g.error_classes
                ),
                (
                    w.count,
                    w.errors,
                    &w.statuses,
                    &w.outcomes,
                    &w.error_classes
                ),
                "{}",
                w.name
            );
            assert_eq!(g.max_ms, w.max_ms);
        }
    }

    #[test]
    fn errors_are_counted_by_class() {
        let mut m = StepMetrics::default();
        m.observe("s", &exchange("s", 10, Outcome::Ok, 200));
        m.observe("s", &exchange("s", 10, Outcome::UnexpectedStatus, 503));
        m.observe("s", &exchange("s", 10, Outcome::UnexpectedStatus, 409));
        m.observe("s", &exchange("s", 10, Outcome::UnexpectedStatus, 200));
        m.observe("s", &exchange("s", 10, Outcome::Timeout, 0));
        m.observe("s", &exchange("s", 10, Outcome::Pending, 200));
        let s = &m.stats()[0];
        assert_eq!(s.errors, 4);
        let classes: Vec<_> = s
            .error_classes
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            classes,
            [
                ("expectation_failed", 1),
                ("http_4xx", 1),
                ("http_5xx", 1),
                ("timeout", 1)
            ]
        );
    }
}
