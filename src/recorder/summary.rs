//! The end-of-run snapshot every report renders.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Everything reports show about a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Base URL requests went to.
    pub target: String,
    /// Seed of the layout.
    pub seed: u64,
    /// Speed factor.
    pub speed: f64,
    /// Start time, RFC 3339.
    pub started_at: String,
    /// Wall-clock duration of the run.
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
    /// Order totals.
    pub orders: OrderCounts,
    /// Per-step request statistics.
    pub steps: Vec<StepStats>,
    /// Orders whose flow failed.
    pub failed: Vec<OrderRef>,
    /// Created orders not in a terminal state at the end.
    pub stranded: Vec<OrderRef>,
    /// Whether the run was stopped by Ctrl-C.
    pub interrupted: bool,
    /// Why events.csv stopped being written, if it did.
    pub events_error: Option<String>,
}

impl Summary {
    /// Exchanges across all steps.
    pub fn requests(&self) -> u64 {
        self.steps.iter().map(|s| s.count).sum()
    }

    /// Errored exchanges across all steps.
    pub fn errors(&self) -> u64 {
        self.steps.iter().map(|s| s.errors).sum()
    }

    /// Whether every order completed and ended terminal.
    pub fn passed(&self) -> bool {
        self.orders.failed == 0
            && self.orders.stranded == 0
            && self.orders.interrupted == 0
            && !self.interrupted
    }
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Order totals.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OrderCounts {
    /// Orders planned.
    pub total: u64,
    /// Orders that got an id on the target.
    pub created: u64,
    /// Orders whose flow failed.
    pub failed: u64,
    /// Orders whose flow was cut short by Ctrl-C.
    pub interrupted: u64,
    /// Created orders not terminal at the end.
    pub stranded: u64,
    /// Orders by their last known state.
    pub by_state: BTreeMap<String, u64>,
    /// Orders that were ever in each state.
    pub reached: BTreeMap<String, u64>,
}

/// Request statistics of one step.
#[derive(Debug, Clone, Serialize)]
pub struct StepStats {
    /// Step name.
    pub name: String,
    /// HTTP attempts (polls and retries included).
    pub count: u64,
    /// Attempts that failed.
    pub errors: u64,
    /// Mean latency.
    pub mean_ms: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Count per HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Count per outcome (ok, pending, timeout, …).
    pub outcomes: BTreeMap<String, u64>,
}

/// One order named in a report, by sequence number, order number and id.
#[derive(Debug, Clone, Serialize)]
pub struct OrderRef {
    /// Sequence number.
    pub n: u32,
    /// Order number (payload label).
    pub order_number: String,
    /// Id on the target.
    pub id: Option<String>,
    /// Order type.
    #[serde(rename = "type")]
    pub order_type: String,
    /// Batch index.
    pub batch: u32,
    /// Last known state.
    pub state: Option<String>,
    /// Failing step, for failed orders.
    pub step: Option<String>,
    /// Why.
    pub reason: String,
}
