//! The open load model's figures: iterations started, iterations dropped at
//! the in-flight cap, and how late each start was against its schedule.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::metrics::{dist, latency_histogram, record_us};
use super::summary::Dist;
use crate::plan::Plan;

/// What the arrivals did, in report.json `arrivals`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ArrivalStats {
    /// Iterations the stages start, at most the population.
    pub scheduled: u64,
    /// Iterations started.
    pub started: u64,
    /// Arrivals that found `max_in_flight` iterations running and were not started.
    pub dropped: u64,
    /// Scheduled iterations neither started nor dropped: the run ended first
    /// (`--duration`, Ctrl-C).
    pub not_started: u64,
    /// The in-flight cap.
    pub max_in_flight: u64,
    /// How long after its scheduled time each iteration started, in ms. Flow
    /// durations count from the scheduled time, so this lateness is in them too.
    pub start_lag_ms: Dist,
}

/// Counts kept while the run goes.
#[derive(Default)]
pub(super) struct Arrivals {
    started: u64,
    dropped: u64,
    lag: Option<Histogram<u64>>,
}

impl Arrivals {
    pub(super) fn started(&mut self, lag: Duration) {
        self.started += 1;
        record_us(
            self.lag.get_or_insert_with(latency_histogram),
            lag.as_micros() as u64,
        );
    }

    pub(super) fn dropped(&mut self) {
        self.dropped += 1;
    }

    pub(super) fn dropped_count(&self) -> u64 {
        self.dropped
    }

    /// The start lag's histogram, for an exact merge of segments.
    pub(super) fn histogram(&self) -> Option<super::histograms::Hdr> {
        self.lag.clone().map(super::histograms::Hdr)
    }

    /// The figures, when the plan runs the open model.
    pub(super) fn stats(&self, plan: &Plan) -> Option<ArrivalStats> {
        let a = plan.arrivals.as_ref()?;
        let scheduled = a.count().min(plan.orders.len() as u64);
        Some(ArrivalStats {
            scheduled,
            started: self.started,
            dropped: self.dropped,
            not_started: scheduled.saturating_sub(self.started + self.dropped),
            max_in_flight: a.max_in_flight as u64,
            start_lag_ms: self
                .lag
                .as_ref()
                .map_or_else(Dist::default, |h| dist(h, 1000.0)),
        })
    }
}
