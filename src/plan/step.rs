//! The compiled steps a flow runs: requests, pauses, polls and journeys of
//! weighted actions, as the executor sees them.

use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use hyper::header::HeaderName;

use super::template::{JsonPath, JsonTemplate, Template};
use crate::spec::{Cmp, MetricKind, ScriptFn};

/// A compiled request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Step name in reports.
    pub name: Arc<str>,
    /// Its name's place in [`super::Plan::request_names`]: where the run
    /// keeps the name's breaker and rate limit.
    pub slot: u32,
    /// HTTP method, checked when the plan is compiled.
    pub method: Method,
    /// `METHOD /path/{var}` as written: what the endpoint table groups by.
    pub endpoint: Arc<str>,
    /// Path template.
    pub path: Template,
    /// Query parameters.
    pub query: Vec<(String, Template)>,
    /// Headers, their names checked when the plan is compiled.
    pub headers: Vec<(HeaderName, Template)>,
    /// Body.
    pub body: Body,
    /// Accepted statuses; empty means any 2xx.
    pub expect: Vec<u16>,
    /// Captures: variable ← where in the response.
    pub captures: Vec<(Arc<str>, Source)>,
    /// State the order is in after this step succeeds.
    pub marks: Option<Arc<str>>,
    /// Response field holding the order's state.
    pub state_from: Option<JsonPath>,
    /// A deliberate bad request: its expected status counts as an expected error.
    pub deliberate: bool,
    /// Conditions on the response (`.check(…)`), counted per step.
    pub checks: Vec<Check>,
    /// What of a JSON answer the captures and the state field read: the rest
    /// is not built (see [`super::Needs`]).
    pub json_needs: super::sparse::Needs,
}

/// One `.check(…)` of a request.
#[derive(Debug, Clone)]
pub struct Check {
    /// The condition, on this response and the variables.
    pub cond: Condition,
    /// Whether the step fails when it does not hold.
    pub fail: bool,
    /// As shown in messages.
    pub text: String,
}

impl Request {
    /// Every variable its path, query, headers and body use.
    pub fn vars(&self) -> impl Iterator<Item = &Arc<str>> {
        let body = match &self.body {
            Body::Json(t) => t.vars(),
            Body::None | Body::Payload => Vec::new(),
        };
        self.path
            .vars()
            .chain(self.query.iter().flat_map(|(_, t)| t.vars()))
            .chain(self.headers.iter().flat_map(|(_, t)| t.vars()))
            .chain(body)
    }

    /// Whether `status` is what this request expects.
    pub fn accepts(&self, status: u16) -> bool {
        if self.expect.is_empty() {
            (200..300).contains(&status)
        } else {
            self.expect.contains(&status)
        }
    }
}

/// Where a compiled capture reads its value.
#[derive(Debug, Clone)]
pub enum Source {
    /// A JSON path into the body.
    Json(JsonPath),
    /// A response header.
    Header(hyper::header::HeaderName),
    /// The status code.
    Status,
}

impl Source {
    /// As written in the script, for messages and `runner check`.
    pub fn describe(&self) -> String {
        match self {
            Source::Json(path) => path.as_str().to_owned(),
            Source::Header(name) => format!("header {name}"),
            Source::Status => "status".to_owned(),
        }
    }
}

/// A compiled body.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body.
    None,
    /// The order's payload bytes.
    Payload,
    /// A JSON template.
    Json(JsonTemplate),
}

/// A compiled poll.
#[derive(Debug, Clone)]
pub struct Poll {
    /// The request repeated.
    pub request: Request,
    /// The stop condition.
    pub until: Until,
    /// First wait (scaled).
    pub every: Duration,
    /// Growth factor of the wait.
    pub backoff: f64,
    /// Longest wait (scaled).
    pub max_every: Duration,
    /// Overall limit (not scaled).
    pub timeout: Duration,
}

impl Poll {
    /// The wait before poll attempt `attempt` (0-based): every × backoff^attempt, capped.
    pub fn wait(&self, attempt: u32) -> Duration {
        let factor = self.backoff.powi(attempt.min(64) as i32);
        self.every
            .mul_f64(factor)
            .min(self.max_every.max(self.every))
    }
}

/// A compiled poll condition.
#[derive(Debug, Clone)]
pub enum Until {
    /// A field equals one of the values (native, ~10 ns); values may hold
    /// `{name}` placeholders, filled in per order.
    Field {
        /// Where to look.
        path: JsonPath,
        /// What to accept.
        one_of: Vec<JsonTemplate>,
    },
    /// A script predicate: `|response|`, or `|response, vars|` (`with_vars`).
    Script {
        /// The closure.
        f: ScriptFn,
        /// Whether it takes the order's variables too.
        with_vars: bool,
    },
}

/// A compiled step.
#[derive(Debug, Clone)]
pub enum Step {
    /// Send a request.
    Request(Request),
    /// Wait (scaled), with ± jitter share.
    Pause {
        /// How long.
        duration: Duration,
        /// Jitter share.
        jitter: f64,
    },
    /// Poll until a condition holds.
    Poll(Poll),
    /// A journey of weighted actions.
    Journey(Journey),
    /// A branch, a loop or a computed variable.
    Control(Control),
    /// A barrier: the index of the run's phase (see [`super::Phase`]).
    Phase(u16),
}

/// A compiled `set`, `when`, `repeat` or `for_each` (see [`crate::spec::Control`]).
#[derive(Debug, Clone)]
pub enum Control {
    /// A variable computed by a closure.
    Set {
        /// The variable.
        var: Arc<str>,
        /// `|ctx| value`.
        f: ScriptFn,
    },
    /// One list of steps or the other.
    When {
        /// The condition.
        cond: Condition,
        /// Run when it holds.
        then: Vec<Step>,
        /// Run when it does not.
        otherwise: Vec<Step>,
    },
    /// The steps again and again.
    Repeat {
        /// When to stop.
        until: Loop,
        /// Most rounds.
        max: u32,
        /// Longest time for all rounds.
        timeout: Option<Duration>,
        /// One round.
        steps: Vec<Step>,
    },
    /// The steps once per element of an array variable.
    ForEach {
        /// The array's variable.
        list: Arc<str>,
        /// Each element's variable.
        item: Arc<str>,
        /// The steps.
        steps: Vec<Step>,
    },
    /// Steps whose failure is counted but does not end the flow.
    Attempt {
        /// The steps.
        steps: Vec<Step>,
    },
    /// Steps timed together.
    Group {
        /// Its name.
        name: Arc<str>,
        /// The steps.
        steps: Vec<Step>,
    },
    /// A custom metric's value, recorded.
    Metric {
        /// Counter or trend.
        kind: MetricKind,
        /// Its name.
        name: Arc<str>,
        /// Where the value comes from.
        value: MetricSource,
    },
}

/// A compiled custom metric value.
#[derive(Debug, Clone)]
pub enum MetricSource {
    /// A fixed number.
    Number(f64),
    /// A template read as a number per order.
    Template(Template),
    /// `|ctx| number`.
    Script(ScriptFn),
}

impl Control {
    /// The name shown in reports.
    pub fn name(&self) -> &'static str {
        match self {
            Control::Set { .. } => "set",
            Control::When { .. } => "when",
            Control::Repeat { .. } => "repeat",
            Control::ForEach { .. } => "for_each",
            Control::Group { .. } => "group",
            Control::Attempt { .. } => "attempt",
            Control::Metric {
                kind: MetricKind::Counter,
                ..
            } => "counter",
            Control::Metric {
                kind: MetricKind::Trend,
                ..
            } => "trend",
        }
    }

    /// The step lists it may run.
    pub fn bodies(&self) -> Vec<&[Step]> {
        match self {
            Control::Set { .. } | Control::Metric { .. } => Vec::new(),
            Control::When {
                then, otherwise, ..
            } => vec![then, otherwise],
            Control::Repeat { steps, .. }
            | Control::ForEach { steps, .. }
            | Control::Attempt { steps }
            | Control::Group { steps, .. } => vec![steps],
        }
    }

    /// Whether it reads the last response (so the executor keeps it).
    pub fn reads_response(&self) -> bool {
        let own = match self {
            Control::Set { .. } => true,
            Control::When { cond, .. } => cond.reads_response(),
            Control::Repeat { until, .. } => match until {
                Loop::Times(_) | Loop::WhileRunning => false,
                Loop::Until(c) | Loop::While(c) => c.reads_response(),
            },
            Control::ForEach { .. } | Control::Group { .. } | Control::Attempt { .. } => false,
            Control::Metric { value, .. } => matches!(value, MetricSource::Script(_)),
        };
        own || self.bodies().into_iter().any(reads_response)
    }
}

/// Whether any step of `steps` (nested ones included) evaluates something
/// that may read the order's variables by name at run time: branches, loops,
/// closures, checks, a poll check given the variables or poll values with
/// placeholders. Such plans keep every payload field as a variable.
pub fn reads_vars(steps: &[Step]) -> bool {
    steps.iter().any(|s| match s {
        Step::Control(_) => true,
        Step::Request(r) => !r.checks.is_empty(),
        Step::Poll(p) => {
            !p.request.checks.is_empty()
                || match &p.until {
                    Until::Script { with_vars, .. } => *with_vars,
                    Until::Field { one_of, .. } => {
                        one_of.iter().any(|t| !matches!(t, JsonTemplate::Fixed(_)))
                    }
                }
        }
        Step::Journey(j) => j
            .actions
            .iter()
            .chain(&j.errors)
            .any(|a| reads_vars(&a.steps)),
        Step::Pause { .. } | Step::Phase(_) => false,
    })
}

/// Whether any step of `steps` (nested ones included) reads the last response.
pub fn reads_response(steps: &[Step]) -> bool {
    steps.iter().any(|s| match s {
        Step::Control(c) => c.reads_response(),
        Step::Journey(j) => j
            .actions
            .iter()
            .chain(&j.errors)
            .any(|a| reads_response(&a.steps)),
        Step::Request(_) | Step::Poll(_) | Step::Pause { .. } | Step::Phase(_) => false,
    })
}

/// How a `repeat` ends.
#[derive(Debug, Clone)]
pub enum Loop {
    /// After this many rounds.
    Times(u32),
    /// After the first round after which the condition holds.
    Until(Condition),
    /// Before the first round at which it does not.
    While(Condition),
    /// Before each round, while the run's duration lasts (never without one).
    WhileRunning,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Condition {
    /// `|ctx| bool`.
    Script(ScriptFn),
    /// A declarative comparison.
    Compare {
        /// What is looked at.
        subject: Subject,
        /// The test.
        test: Test,
    },
}

impl Condition {
    fn reads_response(&self) -> bool {
        match self {
            Condition::Script(_) => true,
            Condition::Compare { subject, .. } => !matches!(subject, Subject::Var(_)),
        }
    }
}

/// What a declarative condition looks at.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A variable.
    Var(Arc<str>),
    /// A path into the last response's body.
    Field(JsonPath),
    /// The last response's status.
    Status,
    /// A header of the last response, by lower-case name.
    Header(hyper::header::HeaderName),
    /// The length of an array, string or object in the last response.
    Length(JsonPath),
}

/// A compiled test: values are templates, filled in per order.
#[derive(Debug, Clone)]
pub enum Test {
    /// Equal to the value.
    Equals(JsonTemplate),
    /// Equal to one of the values.
    OneOf(Vec<JsonTemplate>),
    /// Present or absent (`null` is absent).
    Exists(bool),
    /// A number compared.
    Compare(Cmp, f64),
    /// Text matching a regular expression (compiled once, here).
    Matches(regex::Regex),
}

impl Step {
    /// What the step captures from its answers (a journey's actions capture for themselves).
    pub fn captures(&self) -> &[(Arc<str>, Source)] {
        match self {
            Step::Request(r) => &r.captures,
            Step::Poll(p) => &p.request.captures,
            Step::Pause { .. } | Step::Journey(_) | Step::Control(_) | Step::Phase(_) => &[],
        }
    }
}

/// A compiled journey (see [`crate::spec::Journey`]).
#[derive(Debug, Clone)]
pub struct Journey {
    /// Fewest and most requests.
    pub requests: (u32, u32),
    /// Think time range (scaled).
    pub think: (Duration, Duration),
    /// Categories with their share of requests (normalised to sum 1) and their actions' indexes.
    pub mix: Vec<(Arc<str>, f64, Vec<usize>)>,
    /// Probability of picking each category (same order as `mix`): the share divided
    /// by the category's mean requests per action, so the *requests* follow the mix.
    pub pick: Vec<f64>,
    /// The actions.
    pub actions: Vec<Action>,
    /// Share of actions replaced by a deliberate bad request.
    pub error_rate: f64,
    /// Deliberate bad requests.
    pub errors: Vec<Action>,
}

/// A compiled action.
#[derive(Debug, Clone)]
pub struct Action {
    /// Name.
    pub name: Arc<str>,
    /// Request-mix category.
    pub category: Arc<str>,
    /// Weight within its category.
    pub weight: f64,
    /// Steps.
    pub steps: Vec<Step>,
    /// Think time after it (scaled), instead of the journey's.
    pub think: Option<(Duration, Duration)>,
}

/// Requests one pass over `steps` sends at least (a poll counts once).
pub(super) fn requests_in(steps: &[Step]) -> usize {
    steps
        .iter()
        .map(|s| match s {
            Step::Request(_) | Step::Poll(_) => 1,
            Step::Pause { .. } | Step::Journey(_) | Step::Phase(_) => 0,
            Step::Control(Control::Repeat {
                until: Loop::Times(n),
                steps,
                ..
            }) => requests_in(steps).saturating_mul(*n as usize),
            Step::Control(c) => c.bodies().into_iter().map(requests_in).max().unwrap_or(0),
        })
        .sum()
}

/// Calls `f` on every request of `steps`: polls', journeys' actions' and
/// branches' and loops' bodies' included.
pub fn each_request<'a>(steps: &'a [Step], f: &mut impl FnMut(&'a Request)) {
    for s in steps {
        match s {
            Step::Request(r) | Step::Poll(Poll { request: r, .. }) => f(r),
            Step::Journey(c) => {
                for a in c.actions.iter().chain(&c.errors) {
                    each_request(&a.steps, f);
                }
            }
            Step::Control(c) => {
                for body in c.bodies() {
                    each_request(body, f);
                }
            }
            Step::Pause { .. } | Step::Phase(_) => {}
        }
    }
}
