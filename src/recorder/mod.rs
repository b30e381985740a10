//! Records every exchange, wait and state change. Exchanges and waits are
//! counted on the thread that made them, in its own tally (`tally.rs`: HDR
//! histograms, error and retry counts, lateness), and merged on the
//! one-second tick, so recording scales with the cores. What must be seen
//! in order (state changes, flow ends, polls per order, events.csv rows,
//! notices) goes through one bounded channel into one aggregator task,
//! which owns the per-order ledger and the events.csv writer.

mod arrivals;
mod custom;
pub mod events;
pub mod histograms;
pub mod journal;
mod ledger;
pub mod merge;
mod metrics;
pub mod notice;
mod prometheus;
mod recent;
mod record;
mod summary;
mod tally;
mod timing;
pub mod verdict;

pub use arrivals::ArrivalStats;
pub use events::EventsWriter;
pub use metrics::{dist, latency_histogram, record_us};
pub use prometheus::Metrics;
pub use record::{BreakerState, Checks, Exchange, FlowEnd, Outcome, Record, Wait};
pub use summary::{
    AnswerShare, BatchTime, BreakerChange, Dist, GroupStats, IntervalAccuracy, Lifecycle, MixShare,
    OrderRef, PopulationCounts, Second, Stage, StepStats, Summary, ThresholdOutcome, Transition,
};

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::plan::Plan;
use custom::{Custom, TREND_SCALE};
use ledger::Ledger;
pub use recent::{Activity, RECENT};
use tally::{Tallies, Tally};

/// Figures published once a second while the run goes, for progress displays.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// Time since the start.
    pub elapsed: Duration,
    /// Orders planned.
    pub orders: u64,
    /// Orders created so far.
    pub created: u64,
    /// Orders in a terminal state.
    pub terminal: u64,
    /// Orders whose flow has ended.
    pub flows_done: u64,
    /// Orders whose flow failed.
    pub failed: u64,
    /// Requests so far.
    pub requests: u64,
    /// Failed requests so far.
    pub errors: u64,
    /// Requests in the last second.
    pub rate: f64,
    /// 95th percentile latency over the run so far, in ms.
    pub p95_ms: f64,
    /// Largest latency so far, in ms.
    pub max_ms: f64,
    /// Mean latency so far, in ms.
    pub mean_ms: f64,
    /// The last few requests, oldest first.
    pub recent: Vec<Activity>,
}

/// A cheap, cloneable handle workers record through.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Record>,
    shared: Arc<Shared>,
}

/// What every handle of one run shares.
struct Shared {
    plan: Arc<Plan>,
    metrics: Arc<Metrics>,
    tallies: Arc<Tallies>,
    /// Whether the aggregator wants each exchange too (events.csv, notices).
    rows: bool,
}

/// A started recorder: the handle, the summary to await, the live figures.
pub struct Started {
    /// Record through this (clone it per worker).
    pub recorder: Recorder,
    /// Resolves to the summary once every handle is dropped.
    pub summary: JoinHandle<Summary>,
    /// Updated once a second.
    pub live: watch::Receiver<Live>,
}

impl Recorder {
    /// Starts the aggregator; `events` receives one row per exchange.
    pub fn start(
        plan: Arc<Plan>,
        events: Option<EventsWriter>,
        metrics: Arc<Metrics>,
        prefill: Vec<Record>,
        notices: Option<notice::Notices>,
    ) -> Started {
        let (tx, rx) = mpsc::channel(8192);
        let (live_tx, live) = watch::channel(Live {
            orders: plan.orders.len() as u64,
            ..Live::default()
        });
        let plan_flows = plan.flows.len();
        let tallies = Arc::new(Tallies::new(plan_flows));
        let shared = Arc::new(Shared {
            plan: plan.clone(),
            metrics: metrics.clone(),
            tallies: tallies.clone(),
            rows: events.is_some() || notices.is_some(),
        });
        let mut aggregator = Aggregator::new(plan, events, metrics, live_tx, tallies);
        // What an earlier, killed run recorded (resume): counted, not written again.
        let mut earlier = Tally::new(plan_flows);
        for record in prefill {
            match record {
                Record::Exchange(x) => {
                    earlier.observe(&x, flow_of(&aggregator.plan, x.order));
                    if x.poll {
                        aggregator.ledger.polled(x.order);
                    }
                }
                other => aggregator.absorb(other),
            }
        }
        aggregator.take_in(earlier);
        aggregator.outbox = notices.map(notice::Outbox::new);
        let summary = tokio::spawn(aggregator.run(rx));
        Started {
            recorder: Recorder { tx, shared },
            summary,
            live,
        }
    }

    /// Records one item; waits if the aggregator is behind (backpressure, never loss).
    pub async fn record(&self, record: Record) {
        // The aggregator lives until every handle is dropped, so this cannot
        // fail. Waiting for room is rare: its future, the size of a few
        // records, is boxed rather than carried in every caller's.
        if let Err(TrySendError::Full(record)) = self.tx.try_send(record) {
            let _ = Box::pin(self.tx.send(record)).await;
        }
    }

    /// Counts one HTTP attempt on this thread, and gives back what of it the
    /// aggregator must still be handed ([`Self::record`]): the row, when it
    /// writes rows, or the poll, when it counts polls per order. Not `async`:
    /// its future would hold the exchange, and it is called per request.
    #[must_use]
    pub fn exchange(&self, x: Exchange<'_>) -> Option<Record> {
        let shared = &*self.shared;
        let flow = flow_of(&shared.plan, x.order);
        shared.metrics.observe(&x);
        shared.tallies.with(|t| {
            t.observe(&x, flow);
            if !shared.rows && t.recent.wants(x.at) {
                t.recent.push(x.clone().into_owned());
            }
        });
        if shared.rows {
            Some(Record::Exchange(Box::new(x.into_owned())))
        } else {
            x.poll.then_some(Record::Polled { order: x.order })
        }
    }

    /// Records a wait that ran its course: configured against observed.
    pub fn waited(&self, kind: Wait, configured: Duration, observed: Duration) {
        self.shared
            .tallies
            .with(|t| t.waits.observe(kind, configured, observed));
    }

    /// The live metrics (for the in-flight gauge).
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }
}

/// The single task that owns every statistic.
struct Aggregator {
    plan: Arc<Plan>,
    started: Instant,
    started_at: SystemTime,
    /// Every thread's exchange counts, merged on the tick.
    totals: Tally,
    /// This second's latencies (µs) and failed attempts, for the timeline.
    second: Histogram<u64>,
    second_errors: u64,
    tallies: Arc<Tallies>,
    ledger: Ledger,
    batches: Vec<BatchTime>,
    arrivals: arrivals::Arrivals,
    stages: Vec<Stage>,
    batch_hist: Histogram<u64>,
    timeline: Vec<Second>,
    flows_done: u64,
    failed: u64,
    /// When the last flow ended (the active period's end), from the start,
    /// and the attempts sent until then.
    active: Option<(Duration, u64)>,
    custom: Custom,
    breaker: Vec<BreakerChange>,
    events: Option<EventsWriter>,
    events_error: Option<String>,
    metrics: Arc<Metrics>,
    live: watch::Sender<Live>,
    /// Notices for a webhook or OTLP listener, when there is one.
    outbox: Option<notice::Outbox>,
}

impl Aggregator {
    fn new(
        plan: Arc<Plan>,
        events: Option<EventsWriter>,
        metrics: Arc<Metrics>,
        live: watch::Sender<Live>,
        tallies: Arc<Tallies>,
    ) -> Self {
        Aggregator {
            totals: Tally::new(plan.flows.len()),
            second: latency_histogram(),
            second_errors: 0,
            tallies,
            ledger: Ledger::new(&plan),
            plan,
            started: Instant::now(),
            started_at: SystemTime::now(),
            batches: Vec::new(),
            arrivals: arrivals::Arrivals::default(),
            stages: Vec::new(),
            batch_hist: latency_histogram(),
            timeline: Vec::new(),
            flows_done: 0,
            failed: 0,
            active: None,
            custom: Custom::default(),
            breaker: Vec::new(),
            events,
            events_error: None,
            metrics,
            live,
            outbox: None,
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Record>) -> Summary {
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(1),
            Duration::from_secs(1),
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Records are taken a batch at a time: one wake-up absorbs all that came.
        let mut batch = Vec::with_capacity(256);
        loop {
            tokio::select! {
                n = rx.recv_many(&mut batch, 256) => {
                    if n == 0 {
                        break;
                    }
                    for r in batch.drain(..) {
                        self.absorb(r);
                    }
                }
                _ = tick.tick() => self.close_second(),
            }
        }
        self.close_second();
        self.finish()
    }

    fn now_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    /// Takes in a thread's tally: its counts, and its latencies as this second's.
    fn take_in(&mut self, tally: Tally) {
        // Both grow their range as needed, so adding cannot fail for want of range.
        let _ = self.second.add(&tally.overall);
        self.second_errors += tally.errors;
        self.totals.absorb(tally);
    }

    /// Takes in every thread's tally.
    fn gather(&mut self) {
        let tallies = self.tallies.clone();
        tallies.drain(|tally| self.take_in(tally));
    }

    /// Ends the active period (once): its length, and the attempts sent in it.
    fn end_active(&mut self) {
        if self.active.is_none() {
            self.gather();
            self.active = Some((self.started.elapsed(), self.totals.overall.len()));
        }
    }

    fn absorb(&mut self, record: Record) {
        match record {
            // Counted in a tally already: here for its row and the recent lines.
            Record::Exchange(x) => {
                if x.poll {
                    self.ledger.polled(x.order);
                }
                if let Some(outbox) = self.outbox.as_mut() {
                    outbox.exchange(&x);
                }
                if let Some(w) = self.events.as_mut()
                    && let Err(e) = w.write(&self.plan, &self.ledger, &x)
                {
                    self.events_error = Some(e.to_string());
                    self.events = None;
                }
                self.totals.recent.push(*x);
            }
            Record::Polled { order } => self.ledger.polled(order),
            Record::Created { order, id } => {
                let now = self.now_us();
                self.ledger.created(order, id, now);
            }
            Record::State { order, state } => {
                let now = self.now_us();
                let o = &self.plan.orders[order as usize];
                let flow = &self.plan.flows[o.flow as usize].name;
                let Some(change) = self.ledger.state(order, &state, now) else {
                    return;
                };
                tracing::debug!(
                    id = change.id.unwrap_or(""),
                    label = self.plan.arena.label(o),
                    flow = &**flow,
                    batch = o.batch,
                    from = change.from.unwrap_or(""),
                    to = &*state,
                    "state changed"
                );
                let from = change.from.map(str::to_owned);
                // Keep the orders-by-state gauge exact between scrapes.
                for s in from.as_deref().into_iter().chain([&*state]) {
                    self.metrics.set_orders(s, self.ledger.in_state(s));
                }
            }
            Record::FlowEnded { order, end, took } => {
                self.flows_done += 1;
                // The active period ends with the last flow: cleanup waits are not throughput.
                if self.flows_done >= self.plan.orders.len() as u64 {
                    self.end_active();
                }
                if let FlowEnd::Failed { step, reason } = &end {
                    self.failed += 1;
                    let o = &self.plan.orders[order as usize];
                    tracing::warn!(
                        id = self.ledger.id(order).unwrap_or(""),
                        label = self.plan.arena.label(o),
                        step = &**step,
                        reason = reason.as_str(),
                        "order failed"
                    );
                }
                if let (Some(outbox), Some(o)) =
                    (self.outbox.as_mut(), self.plan.orders.get(order as usize))
                {
                    let flow = &self.plan.flows[o.flow as usize].name;
                    outbox.flow_ended(order, flow, self.plan.arena.label(o), &end, took);
                }
                self.ledger.flow_ended(order, end, took);
            }
            Record::Stranded { order, reason } => {
                tracing::warn!(
                    id = self.ledger.id(order).unwrap_or(""),
                    reason = reason.as_str(),
                    "order stranded"
                );
                self.ledger.stranded(order, reason);
            }
            Record::Breaker { endpoint, state } => {
                if let Some(outbox) = self.outbox.as_mut() {
                    outbox.breaker(&endpoint, state);
                }
                let at_s = self.started.elapsed().as_secs_f64();
                match state {
                    BreakerState::Open => {
                        tracing::warn!(endpoint = &*endpoint, "circuit breaker opened")
                    }
                    other => tracing::info!(
                        endpoint = &*endpoint,
                        state = other.as_str(),
                        "circuit breaker changed"
                    ),
                }
                self.breaker.push(BreakerChange {
                    endpoint: endpoint.to_string(),
                    state: state.as_str().into(),
                    at_s,
                });
            }
            Record::FlowsDone => self.end_active(),
            Record::Started { lag } => self.arrivals.started(lag),
            Record::Dropped { order } => {
                tracing::debug!(order, "arrival dropped: max_in_flight iterations running");
                self.arrivals.dropped();
            }
            Record::Group { name, took, ok } => self.custom.group(name, took, ok),
            Record::Metric { kind, name, value } => self.custom.metric(kind, name, value),
            Record::Stage { name, took, failed } => {
                match &failed {
                    Some(reason) => tracing::error!(
                        stage = name.as_str(),
                        reason = reason.as_str(),
                        "run-wide stage failed"
                    ),
                    None => tracing::info!(stage = name.as_str(), ?took, "run-wide stage done"),
                }
                self.stages.push(Stage {
                    name,
                    duration_ms: took.as_secs_f64() * 1000.0,
                    failed,
                });
            }
            Record::BatchDone { batch, took } => {
                let b = &self.plan.batches[batch as usize];
                record_us(&mut self.batch_hist, took.as_micros() as u64);
                self.metrics.batch_done(took.as_secs_f64());
                self.batches.push(BatchTime {
                    batch,
                    flow: self.plan.flows[b.flow as usize].name.to_string(),
                    size: b.orders.len() as u32,
                    duration_ms: took.as_secs_f64() * 1000.0,
                });
            }
        }
    }

    /// Closes the current one-second window: timeline entry, live figures,
    /// gauges, and the second's events.csv rows to the file.
    fn close_second(&mut self) {
        self.gather();
        if let Some(w) = self.events.as_mut()
            && let Err(e) = w.flush()
        {
            self.events_error = Some(e.to_string());
            self.events = None;
        }
        let ms = |h: &Histogram<u64>, q: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(q) as f64 / 1000.0
            }
        };
        let by_state = self.ledger.state_counts();
        for (state, n) in &by_state {
            self.metrics.set_orders(state, *n);
        }
        let second = &self.second;
        self.timeline.push(Second {
            t: self.timeline.len() as u32,
            requests: second.len(),
            errors: self.second_errors,
            p50_ms: ms(second, 0.5),
            p95_ms: ms(second, 0.95),
            p99_ms: ms(second, 0.99),
            max_ms: ms(second, 1.0),
            by_state,
            created: self.ledger.created_count(),
        });
        let rate = second.len() as f64;
        self.second.reset();
        self.second_errors = 0;
        let t = &self.totals;
        let live = Live {
            elapsed: self.started.elapsed(),
            orders: self.plan.orders.len() as u64,
            created: self.ledger.created_count(),
            terminal: self.ledger.terminal_count(),
            flows_done: self.flows_done,
            failed: self.failed,
            requests: t.overall.len(),
            errors: t.errors,
            rate,
            p95_ms: ms(&t.overall, 0.95),
            max_ms: ms(&t.overall, 1.0),
            mean_ms: if t.overall.is_empty() {
                0.0
            } else {
                t.overall.mean() / 1000.0
            },
            recent: t.recent.activities(&self.plan),
        };
        self.live.send_replace(live);
        self.send_telemetry(false);
    }

    /// Hands the second's spans, and now and then the figures, to the listener.
    fn send_telemetry(&mut self, last: bool) {
        let Some(outbox) = self.outbox.as_mut() else {
            return;
        };
        let (steps, started_at) = (&self.totals.steps, self.started_at);
        let flows = (self.flows_done, self.failed);
        outbox.tick(last, || notice::Figures {
            at: SystemTime::now(),
            since: started_at,
            steps: steps
                .stats()
                .into_iter()
                .map(|s| notice::StepFigures {
                    name: s.name,
                    attempts: s.count,
                    errors: s.errors,
                    p50_ms: s.p50_ms,
                    p95_ms: s.p95_ms,
                    p99_ms: s.p99_ms,
                })
                .collect(),
            flows,
        });
    }

    fn finish(mut self) -> Summary {
        self.gather();
        self.send_telemetry(true);
        if let Some(w) = self.events.as_mut()
            && let Err(e) = w.flush()
        {
            self.events_error = Some(e.to_string());
        }
        let plan = &self.plan;
        let t = &self.totals;
        let (active, active_requests) = self
            .active
            .unwrap_or_else(|| (self.started.elapsed(), t.overall.len()));
        let mut histograms = histograms::Histograms {
            steps: t.steps.histograms(),
            endpoints: t.endpoints.histograms(),
            by_flow: plan
                .flows
                .iter()
                .zip(&t.by_flow)
                .map(|(f, m)| (f.name.to_string(), m.histograms()))
                .filter(|(_, h)| !h.is_empty())
                .collect(),
            batch_duration: Some(histograms::Hdr(self.batch_hist.clone())),
            start_lag: self.arrivals.histogram(),
            ..Default::default()
        };
        self.ledger.histograms(&mut histograms);
        self.custom.histograms(&mut histograms);
        let mut lifecycle = self.ledger.lifecycle();
        self.batches.sort_by_key(|b| b.batch);
        lifecycle.batch_duration_ms = dist(&self.batch_hist, 1000.0);
        lifecycle.batches = self.batches;
        Summary {
            scenario: plan.name.clone(),
            noun: plan.noun.clone(),
            accept_failed: plan.accept_failed,
            status_mix: plan.status_mix,
            target: String::new(),
            seed: plan.seed,
            speed: plan.speed,
            started_at: humantime::format_rfc3339_millis(self.started_at).to_string(),
            duration: self.started.elapsed(),
            population: PopulationCounts {
                dropped: self.arrivals.dropped_count(),
                ..self.ledger.counts()
            },
            arrivals: self.arrivals.stats(plan),
            segment: plan.segment,
            planned: u64::from(plan.planned),
            plan_key: plan.key(),
            histograms,
            steps: t.steps.stats(),
            endpoints: t.endpoints.stats(),
            by_flow: plan
                .flows
                .iter()
                .zip(&t.by_flow)
                .map(|(f, m)| (f.name.to_string(), m.stats()))
                .filter(|(_, s)| !s.is_empty())
                .collect(),
            timeline: self.timeline,
            lifecycle,
            timing: t.waits.stats(|kind| kind.describe(plan)),
            thresholds: Vec::new(),
            mix: mix_shares(plan, &t.mix),
            breaker: self.breaker,
            failed: self.ledger.failed(plan),
            stranded: self.ledger.stranded_orders(plan),
            interrupted: false,
            events_error: self.events_error,
            stages: self.stages,
            active,
            active_requests,
            flows_ended: self.flows_done,
            requests_retried: t.requests_retried,
            requests_failed: t.requests_failed,
            groups: self.custom.groups(),
            counters: self.custom.counters(),
            trends: self.custom.trends(),
        }
    }
}

/// The flow of the plan's order `order` (None: a run-wide stage's request).
fn flow_of(plan: &Plan, order: u32) -> Option<usize> {
    plan.orders.get(order as usize).map(|o| o.flow as usize)
}

/// Observed journey requests per category beside the configured shares of
/// the plan's first journey.
fn mix_shares(plan: &Plan, observed: &[(Arc<str>, u64)]) -> Vec<MixShare> {
    let configured: Vec<(Arc<str>, f64)> = plan
        .flows
        .iter()
        .flat_map(|f| &f.steps)
        .find_map(|s| match s {
            crate::plan::Step::Journey(c) => Some(
                c.mix
                    .iter()
                    .map(|(cat, share, _)| (cat.clone(), *share))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default();
    let total: u64 = observed.iter().map(|(_, n)| n).sum();
    let mut categories: Vec<Arc<str>> = configured.iter().map(|(c, _)| c.clone()).collect();
    for (c, _) in observed {
        if !categories.contains(c) {
            categories.push(c.clone());
        }
    }
    categories
        .into_iter()
        .map(|c| {
            let requests = observed
                .iter()
                .find(|(o, _)| *o == c)
                .map_or(0, |(_, n)| *n);
            MixShare {
                category: c.to_string(),
                requests,
                share: if total == 0 {
                    0.0
                } else {
                    requests as f64 / total as f64
                },
                configured: configured
                    .iter()
                    .find(|(o, _)| *o == c)
                    .map_or(0.0, |(_, s)| *s),
            }
        })
        .collect()
}
