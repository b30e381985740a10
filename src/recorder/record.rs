//! What the executor tells the recorder: one [`Record`] per exchange, state
//! change, wait or flow end, and the small types they carry.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::plan::Plan;

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
    /// A deliberate bad request got the error it was meant to get.
    ExpectedError,
    /// A 401 that made the session get a new token (then the request is sent again).
    Reauth,
    /// A 409 to one of several cleanup alternatives: the order is not in that step's state.
    Refused,
    /// A `.check(…, #{ fail: true })` that did not hold.
    CheckFailed,
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
            Outcome::ExpectedError => "expected_error",
            Outcome::Reauth => "reauth",
            Outcome::Refused => "refused",
            Outcome::CheckFailed => "check_failed",
        }
    }

    /// The outcome named `name` in events.csv.
    pub fn from_name(name: &str) -> Option<Outcome> {
        [
            Outcome::Ok,
            Outcome::Pending,
            Outcome::UnexpectedStatus,
            Outcome::CaptureMissing,
            Outcome::BadJson,
            Outcome::ScriptError,
            Outcome::Timeout,
            Outcome::Connect,
            Outcome::BodyTooLarge,
            Outcome::HttpError,
            Outcome::ExpectedError,
            Outcome::Reauth,
            Outcome::Refused,
            Outcome::CheckFailed,
        ]
        .into_iter()
        .find(|o| o.as_str() == name)
    }

    /// The error class this outcome counts under, or None when it is not an error.
    pub fn error_class(self, status: Option<u16>) -> Option<&'static str> {
        Some(match self {
            Outcome::Ok
            | Outcome::Pending
            | Outcome::ExpectedError
            | Outcome::Reauth
            | Outcome::Refused => {
                return None;
            }
            Outcome::UnexpectedStatus => match status {
                Some(400..=499) => "http_4xx",
                Some(500..=599) => "http_5xx",
                _ => "expectation_failed",
            },
            Outcome::CaptureMissing => "capture_missing",
            Outcome::BadJson => "bad_json",
            Outcome::ScriptError => "script_error",
            Outcome::Timeout => "timeout",
            Outcome::Connect => "connect",
            Outcome::BodyTooLarge => "body_too_large",
            Outcome::HttpError => "http_error",
            Outcome::CheckFailed => "check_failed",
        })
    }
}

/// One HTTP attempt. Its names borrow the plan's while it is counted on the
/// sending thread: cloning a shared `Arc` per request would make every core
/// write the same reference count. Rows sent on are made owned ([`Exchange::into_owned`]).
#[derive(Debug, Clone)]
pub struct Exchange<'a> {
    /// When the request was sent.
    pub at: SystemTime,
    /// Index of the order in the plan.
    pub order: u32,
    /// Step name.
    pub step: Cow<'a, str>,
    /// Method.
    pub method: Cow<'a, str>,
    /// `METHOD /path/{var}`, the request's endpoint.
    pub endpoint: Cow<'a, str>,
    /// Rendered path and query.
    pub path: Cow<'a, str>,
    /// Status, if a response came.
    pub status: Option<u16>,
    /// Time to the full response (or the error).
    pub latency: Duration,
    /// How it ended.
    pub outcome: Outcome,
    /// 1 for the first try, 2 for the first retry, …
    pub attempt: u32,
    /// Whether this was a poll request (counted per order).
    pub poll: bool,
    /// The request-mix category of the journey action that sent it.
    pub category: Option<Cow<'a, str>>,
    /// Its `.check(…)`s that held and that did not.
    pub checks: Checks,
    /// Whether this attempt was the request's last: it succeeded, or it
    /// failed and will not be retried.
    pub last: bool,
}

impl Exchange<'_> {
    /// The same attempt, owning its names.
    pub fn into_owned(self) -> Exchange<'static> {
        let own = |s: Cow<'_, str>| Cow::Owned(s.into_owned());
        Exchange {
            at: self.at,
            order: self.order,
            step: own(self.step),
            method: own(self.method),
            endpoint: own(self.endpoint),
            path: own(self.path),
            status: self.status,
            latency: self.latency,
            outcome: self.outcome,
            attempt: self.attempt,
            poll: self.poll,
            category: self.category.map(own),
            checks: self.checks,
            last: self.last,
        }
    }
}

#[cfg(test)]
impl Exchange<'static> {
    /// A last first attempt of `step` that took `us` µs (for tests).
    pub fn sample(step: &str, us: u64, outcome: Outcome, status: u16) -> Self {
        Exchange {
            at: SystemTime::now(),
            order: 0,
            step: step.to_owned().into(),
            method: "GET".into(),
            endpoint: "GET /".into(),
            path: "/".into(),
            status: Some(status),
            latency: Duration::from_micros(us),
            outcome,
            attempt: 1,
            poll: false,
            category: None,
            checks: Checks::default(),
            last: true,
        }
    }
}

/// Checks that held and that did not.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checks {
    /// Held.
    pub passed: u64,
    /// Did not hold.
    pub failed: u64,
}

impl Checks {
    /// Adds `other`.
    pub fn add(&mut self, other: Checks) {
        self.passed += other.passed;
        self.failed += other.failed;
    }

    /// The share that held, `None` when no check ran.
    pub fn rate(&self) -> Option<f64> {
        let total = self.passed + self.failed;
        (total > 0).then(|| self.passed as f64 / total as f64)
    }
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
    /// An HTTP attempt whose row is wanted (events.csv, notices). Its
    /// figures are counted by [`crate::recorder::Recorder::exchange`], which
    /// sends this; sent any other way it is written, not counted (resume's
    /// prefill of an earlier run's attempts is counted when the recorder starts).
    /// Boxed: every record takes the largest variant's room in the
    /// aggregator's channel, and most records are small.
    Exchange(Box<Exchange<'static>>),
    /// A poll request of the order was sent (its row is not wanted).
    Polled {
        /// Order index.
        order: u32,
    },
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
        /// How long the flow took.
        took: Duration,
    },
    /// Cleanup gave up on the order.
    Stranded {
        /// Order index.
        order: u32,
        /// Why.
        reason: String,
    },
    /// An endpoint's circuit breaker changed state.
    Breaker {
        /// The endpoint (step name).
        endpoint: Arc<str>,
        /// Its new state.
        state: BreakerState,
    },
    /// A batch finished.
    BatchDone {
        /// Batch index.
        batch: u32,
        /// From its first order's start to its last order's flow end.
        took: Duration,
    },
    /// A `group(…)` of steps ended (its steps ran, or one failed).
    Group {
        /// Its name.
        name: Arc<str>,
        /// How long its steps took together.
        took: Duration,
        /// Whether every step succeeded.
        ok: bool,
    },
    /// A custom metric's value.
    Metric {
        /// Counter or trend.
        kind: crate::spec::MetricKind,
        /// Its name.
        name: Arc<str>,
        /// The value.
        value: f64,
    },
    /// The open load model started an iteration, `lag` after its scheduled time.
    Started {
        /// Lateness against the schedule.
        lag: Duration,
    },
    /// The open load model did not start an iteration: `max_in_flight` ran.
    Dropped {
        /// Order index.
        order: u32,
    },
    /// No order's flow runs any more (all ended, were skipped or stopped):
    /// the end of the active period, before cleanups and teardown.
    FlowsDone,
    /// A run-wide stage ended: setup, a phase (its orders' part and its
    /// once-steps) or teardown.
    Stage {
        /// `setup`, `phase NAME`, `teardown`.
        name: String,
        /// How long it took.
        took: Duration,
        /// Why it failed, if it did.
        failed: Option<String>,
    },
}

/// A kind of wait, for timing accuracy (named in reports by [`Wait::describe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// A pause step.
    Pause {
        /// Flow index.
        flow: u16,
        /// Step index.
        step: u16,
    },
    /// The wait between two polls of a poll step.
    PollInterval {
        /// Flow index.
        flow: u16,
        /// Step index.
        step: u16,
    },
    /// The pause between two orders of a batch (`betweenCreates`).
    BetweenOrders,
    /// A cleanup rule's delay after the flow.
    CleanupDelay {
        /// Flow index.
        flow: u16,
    },
    /// A cleanup rule's wait between rounds.
    CleanupInterval {
        /// Flow index.
        flow: u16,
    },
    /// The wait before retrying a failed request.
    RetryBackoff,
    /// A virtual user's think time between actions.
    Think {
        /// Flow index.
        flow: u16,
    },
}

impl Wait {
    /// The name shown in reports, e.g. `pause · activate step 2`.
    pub fn describe(self, plan: &Plan) -> String {
        let flow = |f: u16| {
            plan.flows
                .get(f as usize)
                .map_or_else(|| "run-wide".to_owned(), |f| f.name.to_string())
        };
        match self {
            Wait::Pause {
                flow: f,
                step: u16::MAX,
            } => format!("pause · {} nested (journey, branch or loop)", flow(f)),
            Wait::Pause { flow: f, step } => format!("pause · {} step {}", flow(f), step + 1),
            Wait::PollInterval { flow: f, step } => {
                let steps = plan.flows.get(f as usize).map(|f| &f.steps[..]);
                let name = match steps.and_then(|s| s.get(step as usize)) {
                    Some(crate::plan::Step::Poll(p)) => p.request.name.to_string(),
                    _ => "nested".into(),
                };
                format!("poll interval · {name} ({})", flow(f))
            }
            Wait::Think { flow: f } => format!("think time · {}", flow(f)),
            Wait::BetweenOrders => "between orders in a batch".into(),
            Wait::CleanupDelay { flow: f } => format!("cleanup delay · {}", flow(f)),
            Wait::CleanupInterval { flow: f } => format!("cleanup interval · {}", flow(f)),
            Wait::RetryBackoff => "retry backoff".into(),
        }
    }
}

/// A circuit breaker's state, as recorded and reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// Requests wait.
    Open,
    /// One probe is out.
    HalfOpen,
}

impl BreakerState {
    /// The name in logs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}
