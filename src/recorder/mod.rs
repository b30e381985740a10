//! Records every exchange and state change through one bounded channel into
//! one aggregator task, so workers never share a lock: the aggregator owns the
//! HDR histograms, the per-order ledger and the events.csv writer.

mod events;
mod ledger;
mod metrics;
mod summary;

pub use events::EventsWriter;
pub use summary::{OrderCounts, OrderRef, StepStats, Summary};

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::plan::Plan;
use ledger::Ledger;
use metrics::StepMetrics;

/// How one HTTP attempt ended, as counted in reports and written in events.csv.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Expected status, captures found.
    Ok,
    /// A poll answer that did not meet the condition yet.
    Pending,
    /// A status the step does not expect.
    UnexpectedStatus,
    /// A capture or state field was missing from the response.
    CaptureMissing,
    /// The response was not JSON although the step reads it.
    BadJson,
    /// A script predicate failed.
    ScriptError,
    /// No response in time.
    Timeout,
    /// Connection failed or dropped.
    Connect,
    /// Response body over the size limit.
    BodyTooLarge,
    /// Other transport error.
    HttpError,
}

impl Outcome {
    /// The name used in events.csv and report.json.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Pending => "pending",
            Outcome::UnexpectedStatus => "unexpected_status",
            Outcome::CaptureMissing => "capture_missing",
            Outcome::BadJson => "bad_json",
            Outcome::ScriptError => "script_error",
            Outcome::Timeout => "timeout",
            Outcome::Connect => "connect",
            Outcome::BodyTooLarge => "body_too_large",
            Outcome::HttpError => "http_error",
        }
    }

    /// Whether this counts as an error in step statistics.
    pub fn is_error(self) -> bool {
        !matches!(self, Outcome::Ok | Outcome::Pending)
    }
}

/// One HTTP attempt.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// When the request was sent.
    pub at: SystemTime,
    /// Index of the order in the plan.
    pub order: u32,
    /// Step name.
    pub step: Arc<str>,
    /// Method.
    pub method: Arc<str>,
    /// Rendered path and query.
    pub path: String,
    /// Status, if a response came.
    pub status: Option<u16>,
    /// Time to the full response (or the error).
    pub latency: Duration,
    /// How it ended.
    pub outcome: Outcome,
    /// 1 for the first try, 2 for the first retry, …
    pub attempt: u32,
}

/// How an order's flow ended.
#[derive(Debug, Clone)]
pub enum FlowEnd {
    /// Every step succeeded.
    Completed,
    /// A step failed.
    Failed {
        /// The step.
        step: Arc<str>,
        /// Why.
        reason: String,
    },
    /// Stopped by Ctrl-C before it finished.
    Interrupted,
}

/// What workers report.
#[derive(Debug)]
pub enum Record {
    /// An HTTP attempt.
    Exchange(Exchange),
    /// The order got its id on the target.
    Created {
        /// Order index.
        order: u32,
        /// Its id.
        id: Arc<str>,
    },
    /// The order's state changed.
    State {
        /// Order index.
        order: u32,
        /// The new state.
        state: Arc<str>,
    },
    /// The order's flow ended.
    FlowEnded {
        /// Order index.
        order: u32,
        /// How.
        end: FlowEnd,
    },
    /// Cleanup gave up on the order.
    Stranded {
        /// Order index.
        order: u32,
        /// Why.
        reason: String,
    },
}

/// A cheap, cloneable handle workers record through.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Record>,
}

impl Recorder {
    /// Starts the aggregator; `events` receives one row per exchange.
    pub fn start(plan: Arc<Plan>, events: Option<EventsWriter>) -> (Recorder, JoinHandle<Summary>) {
        let (tx, rx) = mpsc::channel(8192);
        let task = tokio::spawn(aggregate(rx, plan, events));
        (Recorder { tx }, task)
    }

    /// Records one item; waits if the aggregator is behind (backpressure, never loss).
    pub async fn record(&self, record: Record) {
        // The aggregator lives until every handle is dropped, so this cannot fail.
        let _ = self.tx.send(record).await;
    }
}

async fn aggregate(
    mut rx: mpsc::Receiver<Record>,
    plan: Arc<Plan>,
    mut events: Option<EventsWriter>,
) -> Summary {
    let started = Instant::now();
    let started_at = SystemTime::now();
    let mut steps = StepMetrics::default();
    let mut ledger = Ledger::new(plan.orders.len());
    let mut events_error = None;
    while let Some(record) = rx.recv().await {
        match record {
            Record::Exchange(x) => {
                steps.observe(&x);
                if let Some(w) = events.as_mut()
                    && let Err(e) = w.write(&plan, &ledger, &x)
                {
                    events_error = Some(e.to_string());
                    events = None;
                }
            }
            Record::Created { order, id } => ledger.created(order, id),
            Record::State { order, state } => ledger.state(order, &state),
            Record::FlowEnded { order, end } => ledger.flow_ended(order, end),
            Record::Stranded { order, reason } => ledger.stranded(order, reason),
        }
    }
    if let Some(w) = events.as_mut()
        && let Err(e) = w.flush()
    {
        events_error = Some(e.to_string());
    }
    Summary {
        scenario: plan.name.clone(),
        target: String::new(),
        seed: plan.seed,
        speed: plan.speed,
        started_at: humantime::format_rfc3339_millis(started_at).to_string(),
        duration: started.elapsed(),
        orders: ledger.counts(&plan),
        steps: steps.stats(),
        failed: ledger.failed(&plan),
        stranded: ledger.stranded_orders(&plan),
        interrupted: false,
        events_error,
    }
}
