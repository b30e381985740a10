//! The script's own figures: `group(…)` durations, `counter(…)` sums and
//! `trend(…)` distributions, by name in first-seen order.

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::histograms;
use super::metrics::{dist, latency_histogram, record_us};
use super::{Dist, GroupStats};

/// Groups' durations and the script's own counters and trends, by name in first-seen order.
#[derive(Default)]
pub(super) struct Custom {
    groups: Vec<(Arc<str>, Histogram<u64>, u64)>,
    counters: Vec<(Arc<str>, f64)>,
    /// Per trend: percentiles from the histogram, the exact sum and largest value.
    trends: Vec<(Arc<str>, Histogram<u64>, f64, f64)>,
}

/// Trend values are kept to three decimals.
pub(super) const TREND_SCALE: f64 = 1000.0;

impl Custom {
    pub(super) fn group(&mut self, name: Arc<str>, took: Duration, ok: bool) {
        let at = match self.groups.iter().position(|(n, ..)| *n == name) {
            Some(at) => at,
            None => {
                self.groups.push((name, latency_histogram(), 0));
                self.groups.len() - 1
            }
        };
        let (_, hist, failed) = &mut self.groups[at];
        record_us(hist, took.as_micros() as u64);
        *failed += u64::from(!ok);
    }

    pub(super) fn metric(&mut self, kind: crate::spec::MetricKind, name: Arc<str>, value: f64) {
        match kind {
            crate::spec::MetricKind::Counter => {
                match self.counters.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, sum)) => *sum += value,
                    None => self.counters.push((name, value)),
                }
            }
            crate::spec::MetricKind::Trend => {
                let at = match self.trends.iter().position(|(n, ..)| *n == name) {
                    Some(at) => at,
                    None => {
                        let mut h = Histogram::new(3).expect("valid HDR precision");
                        h.auto(true);
                        self.trends.push((name, h, 0.0, 0.0));
                        self.trends.len() - 1
                    }
                };
                // Below zero is recorded as zero: the distribution is of amounts.
                let value = value.max(0.0);
                let (_, hist, sum, max) = &mut self.trends[at];
                // Auto-resizing: `record` grows the range (`saturating_record` would clamp).
                let _ = hist.record((value * TREND_SCALE).round() as u64);
                *sum += value;
                *max = max.max(value);
            }
        }
    }

    pub(super) fn groups(&self) -> Vec<GroupStats> {
        self.groups
            .iter()
            .map(|(name, hist, failed)| GroupStats {
                name: name.to_string(),
                failed: *failed,
                duration_ms: dist(hist, 1000.0),
            })
            .collect()
    }

    /// Groups' and trends' histograms, for an exact merge of segments.
    pub(super) fn histograms(&self, into: &mut histograms::Histograms) {
        let named = |list: &mut dyn Iterator<Item = (&Arc<str>, &Histogram<u64>)>| {
            list.map(|(n, h)| (n.to_string(), histograms::Hdr(h.clone())))
                .collect()
        };
        into.groups = named(&mut self.groups.iter().map(|(n, h, _)| (n, h)));
        into.trends = named(&mut self.trends.iter().map(|(n, h, ..)| (n, h)));
    }

    pub(super) fn counters(&self) -> Vec<(String, f64)> {
        self.counters
            .iter()
            .map(|(n, v)| (n.to_string(), *v))
            .collect()
    }

    pub(super) fn trends(&self) -> Vec<(String, Dist)> {
        self.trends
            .iter()
            .map(|(n, h, sum, max)| {
                let mut d = dist(h, TREND_SCALE);
                // Exact where the histogram rounds: the mean, the largest, no percentile above it.
                d.mean = sum / d.count.max(1) as f64;
                d.max = *max;
                for q in [&mut d.p50, &mut d.p90, &mut d.p95, &mut d.p99] {
                    *q = q.min(*max);
                }
                (n.to_string(), d)
            })
            .collect()
    }
}
