//! Latency per step in HDR histograms (µs, 3 significant digits): exact
//! percentiles in constant memory, mergeable across processes.

use std::collections::BTreeMap;
use std::sync::Arc;

use hdrhistogram::Histogram;

use super::{Exchange, StepStats};

/// Per-step histograms and counters, in first-seen order.
#[derive(Default)]
pub struct StepMetrics {
    steps: Vec<(Arc<str>, Step)>,
}

struct Step {
    latency: Histogram<u64>,
    errors: u64,
    statuses: BTreeMap<u16, u64>,
    outcomes: BTreeMap<&'static str, u64>,
}

impl StepMetrics {
    /// Counts one exchange.
    pub fn observe(&mut self, x: &Exchange) {
        let i = match self.steps.iter().position(|(n, _)| *n == x.step) {
            Some(i) => i,
            None => {
                let latency =
                    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid HDR bounds");
                self.steps.push((
                    x.step.clone(),
                    Step {
                        latency,
                        errors: 0,
                        statuses: BTreeMap::new(),
                        outcomes: BTreeMap::new(),
                    },
                ));
                self.steps.len() - 1
            }
        };
        let s = &mut self.steps[i].1;
        s.latency
            .saturating_record((x.latency.as_micros() as u64).max(1));
        if x.outcome.is_error() {
            s.errors += 1;
        }
        if let Some(code) = x.status {
            *s.statuses.entry(code).or_default() += 1;
        }
        *s.outcomes.entry(x.outcome.as_str()).or_default() += 1;
    }

    /// Statistics per step.
    pub fn stats(&self) -> Vec<StepStats> {
        let ms = |us: u64| us as f64 / 1000.0;
        self.steps
            .iter()
            .map(|(name, s)| StepStats {
                name: name.to_string(),
                count: s.latency.len(),
                errors: s.errors,
                mean_ms: s.latency.mean() / 1000.0,
                p50_ms: ms(s.latency.value_at_quantile(0.50)),
                p95_ms: ms(s.latency.value_at_quantile(0.95)),
                p99_ms: ms(s.latency.value_at_quantile(0.99)),
                max_ms: ms(s.latency.max()),
                statuses: s.statuses.clone(),
                outcomes: s
                    .outcomes
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::Outcome;
    use std::time::{Duration, SystemTime};

    fn exchange(step: &str, ms: u64, outcome: Outcome) -> Exchange {
        Exchange {
            at: SystemTime::now(),
            order: 0,
            step: step.into(),
            method: "GET".into(),
            path: "/".into(),
            status: Some(200),
            latency: Duration::from_millis(ms),
            outcome,
            attempt: 1,
        }
    }

    #[test]
    fn percentiles_match_a_sorted_sample_within_hdr_precision() {
        let mut m = StepMetrics::default();
        for ms in 1..=1000 {
            m.observe(&exchange("create", ms, Outcome::Ok));
        }
        m.observe(&exchange("create", 5, Outcome::Timeout));
        let s = &m.stats()[0];
        assert_eq!(s.count, 1001);
        assert_eq!(s.errors, 1);
        assert!((s.p50_ms - 500.0).abs() <= 1.0, "{}", s.p50_ms);
        assert!((s.p99_ms - 990.0).abs() <= 1.0, "{}", s.p99_ms);
        assert!((s.max_ms - 1000.0).abs() <= 1.0, "{}", s.max_ms);
        assert_eq!(s.outcomes["timeout"], 1);
    }
}
