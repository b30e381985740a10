//! The end-of-run snapshot every report renders.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Checks;

/// Everything reports show about a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// What the tracked items are called (`orders`, `users`); empty means orders.
    pub noun: String,
    /// Share of the population that may fail with the run still passing (`s.accept_failed`).
    pub accept_failed: f64,
    /// Base URL requests went to.
    pub target: String,
    /// Seed of the layout.
    pub seed: u64,
    /// Speed factor.
    pub speed: f64,
    /// Start time, RFC 3339.
    pub started_at: String,
    /// Wall-clock duration of the run.
    #[serde(serialize_with = "seconds", deserialize_with = "from_seconds")]
    pub duration: Duration,
    /// Order totals.
    pub population: PopulationCounts,
    /// The share of the population this run was (`--segment I/N`), if it was one.
    pub segment: Option<crate::plan::Segment>,
    /// The population's size before a segment took its share.
    pub planned: u64,
    /// What `runner report merge` checks reports of one plan by: scenario,
    /// seed, planned population, speed, flows, target and thresholds.
    pub plan_key: String,
    /// The histograms every distribution above comes from (for exact merges).
    pub histograms: super::histograms::Histograms,
    /// Per-step request statistics over every flow.
    pub steps: Vec<StepStats>,
    /// The same per endpoint (`METHOD /path/{var}`, the step's path as written);
    /// `name` is the endpoint.
    pub endpoints: Vec<StepStats>,
    /// The same per flow: (flow, its steps).
    pub by_flow: Vec<(String, Vec<StepStats>)>,
    /// One entry per second of the run: throughput, latency, orders by state.
    pub timeline: Vec<Second>,
    /// Order lifecycle: transitions, time to each state, polls, batches.
    pub lifecycle: Lifecycle,
    /// The open load model's starts, drops and lateness (`s.arrivals`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrivals: Option<super::ArrivalStats>,
    /// Configured vs observed for every kind of wait.
    pub timing: Vec<IntervalAccuracy>,
    /// Thresholds and whether they held (filled in after the run).
    pub thresholds: Vec<ThresholdOutcome>,
    /// Journey requests by category: observed against configured share.
    pub mix: Vec<MixShare>,
    /// The answers' shares the script aims for (`s.status_mix`): success, 4xx, 5xx.
    pub status_mix: Option<[f64; 3]>,
    /// Every circuit-breaker state change, in order.
    pub breaker: Vec<BreakerChange>,
    /// Orders whose flow failed.
    pub failed: Vec<OrderRef>,
    /// Created orders not in a terminal state at the end.
    pub stranded: Vec<OrderRef>,
    /// Whether the run was stopped by Ctrl-C.
    pub interrupted: bool,
    /// Why events.csv stopped being written, if it did.
    pub events_error: Option<String>,
    /// Run-wide stages (setup, phases, teardown), in the order they ran.
    pub stages: Vec<Stage>,
    /// From the start to the end of the last flow (cleanup waits excluded).
    #[serde(serialize_with = "seconds", deserialize_with = "from_seconds")]
    pub active: Duration,
    /// Attempts sent during the active period.
    pub active_requests: u64,
    /// Members whose flow ended (completed, failed or interrupted).
    pub flows_ended: u64,
    /// Requests that succeeded after at least one retry.
    pub requests_retried: u64,
    /// Requests whose last attempt failed: retries spent, or not retryable.
    pub requests_failed: u64,
    /// Each `group(…)`'s duration and how often one of its steps failed.
    pub groups: Vec<GroupStats>,
    /// The script's counters (`counter(name, value)`): name and sum.
    pub counters: Vec<(String, f64)>,
    /// The script's trends (`trend(name, value)`): name and distribution.
    pub trends: Vec<(String, Dist)>,
}

/// A `group(…)` of steps, timed as one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupStats {
    /// Its name.
    pub name: String,
    /// Runs in which one of its steps failed.
    pub failed: u64,
    /// How long its steps took together, in ms.
    pub duration_ms: Dist,
}

/// A run-wide stage: setup, a phase (its orders' part and once-steps), teardown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stage {
    /// `setup`, `phase NAME`, `teardown`.
    pub name: String,
    /// How long it took.
    pub duration_ms: f64,
    /// Why it failed; a failed stage fails the run.
    pub failed: Option<String>,
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

    /// Whether every order completed and ended terminal and every threshold held.
    pub fn passed(&self) -> bool {
        self.failed_within_accepted()
            && self.population.stranded == 0
            && self.population.interrupted == 0
            && !self.interrupted
            && self.stages.iter().all(|s| s.failed.is_none())
            && self.thresholds.iter().all(|t| t.passed)
    }

    /// Deliberate bad requests that got the error they were meant to get (not errors).
    pub fn expected_errors(&self) -> u64 {
        self.steps
            .iter()
            .filter_map(|s| s.outcomes.get("expected_error"))
            .sum()
    }

    /// Errored exchanges as a share of all exchanges (0 when nothing was sent).
    pub fn error_rate(&self) -> f64 {
        let requests = self.requests();
        if requests == 0 {
            0.0
        } else {
            self.errors() as f64 / requests as f64
        }
    }

    /// Whether the failed orders are no more than the accepted share of the
    /// population (none, unless the script said `s.accept_failed(…)`).
    pub fn failed_within_accepted(&self) -> bool {
        let allowed = (self.accept_failed * self.population.total as f64 + 1e-9).floor() as u64;
        self.population.failed <= allowed
    }

    /// The share of the population that neither failed, was interrupted nor was dropped (1 when empty).
    pub fn success_rate(&self) -> f64 {
        let p = &self.population;
        if p.total == 0 {
            return 1.0;
        }
        1.0 - (p.failed + p.interrupted + p.dropped) as f64 / p.total as f64
    }

    /// Attempts per second over the active period.
    pub fn requests_per_second(&self) -> f64 {
        per_second(self.active_requests, self.active)
    }

    /// Orders (or users) whose flow ran to its end or failed, per second of
    /// the active period (those never started or cut short are not counted).
    pub fn population_per_second(&self) -> f64 {
        let ended = self.flows_ended.saturating_sub(self.population.interrupted);
        per_second(ended, self.active)
    }

    /// Attempts by what came back, against the script's aim where it has one:
    /// success (2xx, 3xx), client errors (4xx), server errors (5xx), no answer.
    pub fn answers(&self) -> Vec<AnswerShare> {
        let mut counts = [0u64; 4];
        for st in &self.steps {
            let mut answered = 0;
            for (status, n) in &st.statuses {
                answered += n;
                match status {
                    400..=499 => counts[1] += n,
                    500..=599 => counts[2] += n,
                    _ => counts[0] += n,
                }
            }
            counts[3] += st.count.saturating_sub(answered);
        }
        let total: u64 = counts.iter().sum();
        let aims = self.status_mix.map(|[a, b, c]| [a, b, c, 0.0]);
        ["success", "client_error", "server_error", "no_answer"]
            .iter()
            .enumerate()
            .map(|(i, class)| AnswerShare {
                class: (*class).to_owned(),
                attempts: counts[i],
                share: if total == 0 {
                    0.0
                } else {
                    counts[i] as f64 / total as f64
                },
                aim: aims.map(|a| a[i]),
            })
            .collect()
    }

    /// Every step's `.check(…)`s together.
    pub fn checks(&self) -> Checks {
        let mut all = Checks::default();
        self.steps.iter().for_each(|st| all.add(st.checks));
        all
    }
}

fn per_second(n: u64, over: Duration) -> f64 {
    let s = over.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn from_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = f64::deserialize(d)?;
    Duration::try_from_secs_f64(s).map_err(serde::de::Error::custom)
}

/// Order totals.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PopulationCounts {
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
    /// Orders the open load model did not start: the in-flight cap was reached.
    pub dropped: u64,
    /// Orders by their last known state.
    pub by_state: BTreeMap<String, u64>,
    /// Orders that were ever in each state.
    pub reached: BTreeMap<String, u64>,
}

/// Request statistics of one step.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Errors by class: timeout, connect, http_4xx, http_5xx, expectation_failed,
    /// capture_missing, bad_json, script_error, body_too_large, http_error.
    pub error_classes: BTreeMap<String, u64>,
    /// Standard deviation of the latency.
    pub stddev_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Its `.check(…)`s that held and that did not.
    pub checks: Checks,
}

/// A circuit breaker's state change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BreakerChange {
    /// The endpoint (step name).
    pub endpoint: String,
    /// `open`, `half_open` or `closed`.
    pub state: String,
    /// Seconds since the start.
    pub at_s: f64,
}

/// One kind of answer: how many attempts got it, against the aim.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnswerShare {
    /// `success` (2xx, 3xx), `client_error` (4xx), `server_error` (5xx) or `no_answer`.
    pub class: String,
    /// Attempts that got it (retries and polls included).
    pub attempts: u64,
    /// Their share of all attempts, 0..1.
    pub share: f64,
    /// The share the script aims for (`s.status_mix`), if it names one.
    pub aim: Option<f64>,
}

/// One request-mix category: how many journey requests it got.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MixShare {
    /// Category, e.g. `user_queries`.
    pub category: String,
    /// Journey requests (first attempts) in this category.
    pub requests: u64,
    /// Observed share of journey requests, 0..1.
    pub share: f64,
    /// Configured share, 0..1 (0 for categories of deliberate errors outside the mix).
    pub configured: f64,
}

/// One second of the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Second {
    /// Seconds since the start (the interval [t, t+1)).
    pub t: u32,
    /// Exchanges that ended in this second.
    pub requests: u64,
    /// Of which errors.
    pub errors: u64,
    /// Median latency of this second's exchanges (0 when none).
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Orders in each state at the end of this second (orders not created yet are absent).
    pub by_state: BTreeMap<String, u64>,
    /// Orders created so far.
    pub created: u64,
}

/// A distribution summarised (milliseconds for durations, plain numbers for counts).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Dist {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// How orders moved through their states.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Lifecycle {
    /// Every observed transition with its count (`from` is "" for an order's first state).
    pub transitions: Vec<Transition>,
    /// Time from an order's create to first reaching each state, in ms.
    pub time_to_state: Vec<(String, Dist)>,
    /// Time from create to a terminal state, in ms (a member's whole life).
    pub lifetime_ms: Dist,
    /// Time each order's flow took, in ms.
    pub flow_duration_ms: Dist,
    /// Poll requests per member (those that polled at all).
    pub polls: Dist,
    /// Time each batch took, in ms.
    pub batch_duration_ms: Dist,
    /// Every batch with its type, size and duration.
    pub batches: Vec<BatchTime>,
}

/// One state transition and how often it happened.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transition {
    /// Previous state ("" for the first state an order is seen in).
    pub from: String,
    /// New state.
    pub to: String,
    /// How many times.
    pub count: u64,
}

/// One batch's timing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchTime {
    /// Batch index.
    pub batch: u32,
    /// The flow its members share.
    pub flow: String,
    /// Members in it.
    pub size: u32,
    /// From its first create to its last order's flow end, in ms.
    pub duration_ms: f64,
}

/// Configured vs observed for one kind of wait (a pause step, the poll
/// interval, betweenCreates, a cleanup delay, …).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntervalAccuracy {
    /// What waited, e.g. `pause (activate step 2)`, `betweenCreates`, `poll interval (poll_accepted)`.
    pub name: String,
    /// Waits measured.
    pub count: u64,
    /// Mean configured duration (jitter and backoff included), in ms.
    pub configured_ms: f64,
    /// Mean observed duration, in ms.
    pub observed_ms: f64,
    /// Mean of observed − configured, in ms (positive: late).
    pub mean_dev_ms: f64,
    /// 99th percentile of |observed − configured|, in ms.
    pub p99_dev_ms: f64,
    /// Mean deviation relative to the configured duration, in %.
    pub mean_dev_pct: f64,
    /// 99th percentile of the relative deviation, in %.
    pub p99_dev_pct: f64,
}

/// A threshold and its verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThresholdOutcome {
    /// The expression as written, e.g. `p95(create) < 500ms`.
    pub expr: String,
    /// Whether it held.
    pub passed: bool,
    /// The measured value in the expression's unit, when there was one.
    pub actual: Option<f64>,
    /// The verdict in words, e.g. `p95(create) = 612.3 ms, limit < 500 ms`.
    pub detail: String,
}

/// One order named in a report, by sequence number, order number and id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderRef {
    /// Sequence number.
    pub n: u32,
    /// Order number (payload label).
    pub label: String,
    /// Id on the target.
    pub id: Option<String>,
    /// Order type.
    pub flow: String,
    /// Batch index.
    pub batch: u32,
    /// Last known state.
    pub state: Option<String>,
    /// Failing step, for failed orders.
    pub step: Option<String>,
    /// Why.
    pub reason: String,
}
