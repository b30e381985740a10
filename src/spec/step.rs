//! Step descriptions: requests, pauses and polls, as a script wrote them.

use std::time::Duration;

use super::ScriptFn;

/// One step of a flow.
#[derive(Debug, Clone)]
pub enum Step {
    /// Send one request.
    Request(Request),
    /// Wait.
    Pause {
        /// How long.
        duration: Duration,
        /// Random share (0..1) added or removed, e.g. 0.1 for ±10%.
        jitter: f64,
    },
    /// Repeat a request until a condition holds.
    Poll(Poll),
    /// A journey: weighted actions picked one after another until a request budget is spent.
    Journey(Journey),
    /// A branch, a loop or a computed variable.
    Control(Control),
    /// `phase(name[, once])`: a barrier. The steps after it start only once
    /// every order has finished the steps before it; `once` runs once, in
    /// between, for the whole run.
    Phase {
        /// Shown in reports.
        name: String,
        /// Run once at the barrier, with the run-wide variables.
        once: Vec<Step>,
    },
}

/// Steps that decide what runs: `when`, `repeat`, `for_each`, and `set`.
#[derive(Debug, Clone)]
pub enum Control {
    /// `set(var, |ctx| value)`: a variable computed by a closure.
    Set {
        /// The variable.
        var: String,
        /// The closure, given the context map.
        f: ScriptFn,
    },
    /// `when(condition, then, otherwise)`.
    When {
        /// The condition.
        cond: Condition,
        /// Run when it holds.
        then: Vec<Step>,
        /// Run when it does not.
        otherwise: Vec<Step>,
    },
    /// `repeat(#{ times | until | while, max, timeout }, steps)`.
    Repeat {
        /// When to stop.
        until: Loop,
        /// Most rounds (a condition not met by then fails the step).
        max: u32,
        /// Longest time for all rounds (not scaled).
        timeout: Option<Duration>,
        /// The steps of one round.
        steps: Vec<Step>,
    },
    /// `for_each(list, item, steps)`: once per element of an array variable.
    ForEach {
        /// The variable holding the array.
        list: String,
        /// The variable each element is put in.
        item: String,
        /// The steps run for each element.
        steps: Vec<Step>,
    },
    /// `attempt(steps)`: steps whose failure is counted but does not end the flow.
    Attempt {
        /// The steps.
        steps: Vec<Step>,
    },
    /// `group(name, steps)`: steps reported together as one duration.
    Group {
        /// Shown in reports and thresholds (`group(NAME).p95`).
        name: String,
        /// The steps.
        steps: Vec<Step>,
    },
    /// `counter(name, value)` or `trend(name, value)`: a custom metric fed
    /// by a number, a `{variable}` or a `|ctx|` closure.
    Metric {
        /// Summed (`counter`) or a distribution (`trend`).
        kind: MetricKind,
        /// Shown in reports and thresholds.
        name: String,
        /// Where the value comes from.
        value: MetricValue,
    },
}

/// The two kinds of custom metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Values are added up.
    Counter,
    /// Values form a distribution (mean, percentiles, max).
    Trend,
}

/// Where a custom metric's value comes from.
#[derive(Debug, Clone)]
pub enum MetricValue {
    /// A fixed number (`counter("carts", 1)`).
    Number(f64),
    /// A template, e.g. `"{total}"`, read as a number per order.
    Template(String),
    /// `|ctx| number`.
    Script(ScriptFn),
}

/// How a `repeat` ends.
#[derive(Debug, Clone)]
pub enum Loop {
    /// After this many rounds.
    Times(u32),
    /// After the first round after which the condition holds.
    Until(Condition),
    /// Before the first round at which the condition does not hold.
    While(Condition),
    /// Before each round, while the run's duration lasts (never without one).
    WhileRunning,
}

/// A condition over the variables and the last response.
#[derive(Debug, Clone)]
pub enum Condition {
    /// `|ctx| bool`.
    Script(ScriptFn),
    /// A declarative comparison: `#{ var: "x", equals: 3 }`.
    Compare {
        /// What is looked at.
        subject: Subject,
        /// The test.
        test: Test,
    },
}

/// What a declarative condition looks at.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A variable.
    Var(String),
    /// A JSON path into the last response's body.
    Field(String),
    /// The last response's status.
    Status,
    /// A header of the last response (its first value).
    Header(String),
    /// The length of an array, string or object at a JSON path of the last response.
    Length(String),
}

/// A declarative test; values may hold `{name}` placeholders.
#[derive(Debug, Clone)]
pub enum Test {
    /// Equal to the value.
    Equals(serde_json::Value),
    /// Equal to one of the values.
    OneOf(Vec<serde_json::Value>),
    /// Present (`true`) or absent (`false`); `null` counts as absent.
    Exists(bool),
    /// A number compared with `>`, `>=`, `<` or `<=`.
    Compare(Cmp, f64),
    /// Text (a number as written) matching a regular expression.
    Matches(String),
}

/// A numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cmp {
    /// `gt`.
    Gt,
    /// `ge`.
    Ge,
    /// `lt`.
    Lt,
    /// `le`.
    Le,
}

impl Cmp {
    /// Whether `a` compares so with `b`.
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
        }
    }
}

/// A journey step: pick a category by the mix, then an action of that category
/// by weight, run it, think, repeat until the user's request budget is spent
/// (drawn between `requests.0` and `requests.1`) or the run's duration is up.
#[derive(Debug, Clone)]
pub struct Journey {
    /// Fewest and most requests a user makes in this journey.
    pub requests: (i64, i64),
    /// Think time between actions, drawn uniformly in this range.
    pub think: (Duration, Duration),
    /// Share of requests per category; categories absent here are never picked.
    pub mix: Vec<(String, f64)>,
    /// What the user may do.
    pub actions: Vec<Action>,
    /// Share (0..1) of actions replaced by a deliberate bad request.
    pub error_rate: f64,
    /// Deliberate bad requests (their statuses are expected errors).
    pub errors: Vec<Action>,
}

/// A named group of steps a virtual user performs as one action.
#[derive(Debug, Clone)]
pub struct Action {
    /// Name, e.g. `search_users`.
    pub name: String,
    /// Request-mix category, e.g. `user_queries`.
    pub category: String,
    /// Relative weight among the actions of its category.
    pub weight: f64,
    /// The steps.
    pub steps: Vec<Step>,
    /// Think time after this action instead of the journey's.
    pub think: Option<(Duration, Duration)>,
}

impl Step {
    /// The name shown in reports.
    pub fn name(&self) -> &str {
        match self {
            Step::Request(r) => &r.name,
            Step::Pause { .. } => "pause",
            Step::Poll(p) => &p.request.name,
            Step::Journey(_) => "journey",
            Step::Control(c) => c.name(),
            Step::Phase { .. } => "phase",
        }
    }
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
}

/// A request with `{name}` placeholders, checks and captures.
#[derive(Debug, Clone)]
pub struct Request {
    /// Step name in reports (`create`, `activate`, …).
    pub name: String,
    /// HTTP method.
    pub method: String,
    /// Path template, appended to the target's base URL.
    pub path: String,
    /// Query parameters (values are templates).
    pub query: Vec<(String, String)>,
    /// Headers (values are templates).
    pub headers: Vec<(String, String)>,
    /// What to send.
    pub body: Body,
    /// Accepted statuses; empty means any 2xx.
    pub expect: Vec<u16>,
    /// Variables captured from the response: (variable, where from).
    pub captures: Vec<(String, Capture)>,
    /// State the order is in once this step succeeds.
    pub marks: Option<String>,
    /// Response field holding the order's state.
    pub state_from: Option<String>,
    /// A deliberate bad request: its expected (error) status counts as an expected error.
    pub deliberate: bool,
    /// Conditions on the response, counted; `true` fails the step when one does not hold.
    pub checks: Vec<(Condition, bool)>,
}

impl Request {
    /// A request with defaults: no body, any 2xx, named after method and path.
    pub fn new(method: &str, path: &str) -> Self {
        Request {
            name: format!("{} {}", method, path),
            method: method.to_owned(),
            path: path.to_owned(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::None,
            expect: Vec::new(),
            captures: Vec::new(),
            marks: None,
            state_from: None,
            deliberate: false,
            checks: Vec::new(),
        }
    }
}

/// Where a capture reads its value.
#[derive(Debug, Clone)]
pub enum Capture {
    /// A JSON path into the body (`id`, `data.items[0].id`, `accessToken | access_token`).
    Json(String),
    /// A response header, by name (`Location`), as a string.
    Header(String),
    /// The status code, as a number.
    Status,
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    /// No body.
    None,
    /// The order's pre-generated payload, sent as is.
    Payload,
    /// A JSON template: strings may hold `{name}` placeholders.
    Json(serde_json::Value),
}

/// Poll-until: repeat a request with backoff until a condition holds.
#[derive(Debug, Clone)]
pub struct Poll {
    /// The request to repeat.
    pub request: Request,
    /// When to stop.
    pub until: Until,
    /// First wait between attempts.
    pub every: Duration,
    /// Factor applied to the wait after each attempt (1.0 = fixed interval).
    pub backoff: f64,
    /// Longest wait between attempts.
    pub max_every: Duration,
    /// Give up after this long.
    pub timeout: Duration,
}

/// The condition that ends a poll.
#[derive(Debug, Clone)]
pub enum Until {
    /// A JSON field (path) equals one of the values.
    Field {
        /// Path such as `status` or `$.data.status`.
        path: String,
        /// Accepted values.
        one_of: Vec<serde_json::Value>,
    },
    /// A script closure `|response| bool` (escape hatch; costs about 1 µs per call).
    Script(ScriptFn),
}
