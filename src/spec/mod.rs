//! Plain data a scenario script described: what to send, to whom, how many
//! times and in which order. No I/O and no validation beyond what the script
//! API checks while building it; [`crate::plan`] validates and compiles it.

mod step;

pub use step::{
    Action, Body, Capture, Cmp, Condition, Control, Journey, Loop, MetricKind, MetricValue, Poll,
    Request, Step, Subject, Test, Until,
};

use std::time::Duration;

/// A script closure kept for later calls (payload generation, custom
/// predicates); the spec holds it as data, [`crate::script::Runtime`] calls it.
#[derive(Clone)]
pub struct ScriptFn(pub rhai::FnPtr);

impl std::fmt::Debug for ScriptFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<closure {}>", self.0.fn_name())
    }
}

/// Everything one scenario script describes.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// Scenario name, used in reports.
    pub name: String,
    /// One line saying what the scenario simulates.
    pub description: String,
    /// `builtin:orders` or an `http(s)://` base URL.
    pub target: String,
    /// Client settings.
    pub http: Http,
    /// Closure run once per order before the run to build its payload.
    pub payload: Option<ScriptFn>,
    /// How many orders of each type.
    pub population: Population,
    /// How orders are grouped and paced.
    pub batches: Batches,
    /// The open load model (`s.arrivals`): orders or users started at a rate,
    /// whatever the target's response times; `None` runs the batches.
    pub arrivals: Option<Arrivals>,
    /// The flows, in the order the script defined them.
    pub flows: Vec<Flow>,
    /// Cleanup rules by flow.
    pub cleanup: Vec<Cleanup>,
    /// Which captured variable identifies an order and which payload field labels it.
    pub track: Track,
    /// States after which an order needs no cleanup.
    pub terminal: Vec<String>,
    /// Pass/fail conditions checked at the end, e.g. `p95(create) < 500ms`.
    pub thresholds: Vec<String>,
    /// Bearer-token authentication for every request, if the script sets it up.
    pub auth: Option<Auth>,
    /// Stop starting new actions after this long (users then finish and clean up).
    pub duration: Option<Duration>,
    /// Share (0..1) of the population that may fail with the run still passing.
    pub accept_failed: f64,
    /// The shares of answers the script aims for (`s.status_mix`): success
    /// (2xx, 3xx), client errors (4xx), server errors (5xx), summing to 1.
    pub status_mix: Option<[f64; 3]>,
    /// Circuit breaker per endpoint: consecutive failures that open it (0 = off) and how long it stays open.
    pub breaker: (u32, Duration),
    /// Most requests per second, by step name (`*` for all requests together).
    pub rate_limits: Vec<(String, f64)>,
    /// Field and query-parameter names whose values are redacted in events, logs and reports.
    pub secrets: Vec<String>,
    /// Finds an order by its payload when its id was lost (a crash mid-create):
    /// an answer that captures the id means it exists; a 404 means it was never created.
    pub recover: Option<Request>,
    /// Steps run once before the first order (log in as an administrator,
    /// create reference data); what they capture every order can read.
    pub setup: Vec<Step>,
    /// Steps run once after every order's flow and cleanup.
    pub teardown: Vec<Step>,
    /// Whether each order (or virtual user) keeps a cookie jar: cookies the
    /// target sets are sent back on its later requests.
    pub cookies: bool,
}

/// Bearer-token authentication: the token variable, and how to get a new token.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Variable holding the access token (sent as `Authorization: Bearer …`).
    pub token: String,
    /// Requests run to get a new token after a 401 (e.g. refresh, else log in again).
    pub renew: Vec<Request>,
}

/// HTTP client settings (the `api.*` parameters of the reference config).
#[derive(Debug, Clone)]
pub struct Http {
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retries after the first attempt, on connection errors, timeouts, 5xx and 429.
    pub retries: u32,
    /// First retry delay; doubles on each retry, with jitter.
    pub retry_backoff: Duration,
    /// Most requests in flight at once.
    pub max_connections: usize,
    /// Headers sent with every request.
    pub headers: Vec<(String, String)>,
    /// Certificates (PEM) trusted besides the system's, for HTTPS targets.
    pub ca_file: Option<std::path::PathBuf>,
    /// The HTTP versions spoken.
    pub version: crate::client::HttpVersion,
}

impl Default for Http {
    fn default() -> Self {
        Http {
            timeout: Duration::from_secs(30),
            retries: 3,
            retry_backoff: Duration::from_secs(2),
            max_connections: 100,
            headers: Vec::new(),
            ca_file: None,
            version: crate::client::HttpVersion::Auto,
        }
    }
}

/// How many orders, of which types.
#[derive(Debug, Clone, Default)]
pub struct Population {
    /// Total number of orders.
    pub total: i64,
    /// Count per flow (alphabetical: Rhai maps are sorted).
    pub mix: Vec<(String, Count)>,
    /// Seed for flow assignment, shuffling and jitter (overridden by `--seed`).
    pub seed: Option<u64>,
    /// Shuffle which sequence numbers get which type, and the batch order (default true).
    pub shuffle: bool,
}

/// The count of one flow in the mix.
#[derive(Debug, Clone, PartialEq)]
pub enum Count {
    /// Exactly this many.
    Exact(i64),
    /// A share of what exact counts leave, proportional to the weight.
    Weight(f64),
    /// Whatever the other types leave of the total.
    Rest,
}

/// Batch layout and pacing.
#[derive(Debug, Clone)]
pub struct Batches {
    /// Orders per batch.
    pub size: i64,
    /// Batches running at once.
    pub parallel: i64,
    /// Pause between one order's flow and the next order's create inside a batch.
    pub between: Duration,
    /// Start with one batch worker and add the rest evenly over this long.
    pub ramp: Duration,
}

impl Default for Batches {
    fn default() -> Self {
        Batches {
            size: 20,
            parallel: 5,
            between: Duration::ZERO,
            ramp: Duration::ZERO,
        }
    }
}

/// Iterations (an order's flow, a user's session) started at a rate that
/// follows stages, independent of how fast the target answers.
#[derive(Debug, Clone)]
pub struct Arrivals {
    /// Iterations per second at the start.
    pub start_rate: f64,
    /// Each stage moves the rate linearly to its `rate` over its duration;
    /// a constant rate without one lasts until the population has started.
    pub stages: Vec<(f64, Option<Duration>)>,
    /// Most iterations in flight; an arrival beyond it is dropped and counted.
    pub max_in_flight: i64,
}

/// The steps one kind of order (or user) walks through.
#[derive(Debug, Clone)]
pub struct Flow {
    /// Its name: the population's mix, cleanup rules, reports and `{flow}` use it.
    pub name: String,
    /// Steps, run one after another.
    pub steps: Vec<Step>,
}

/// How orders of one type are brought to a terminal state after their flow.
#[derive(Debug, Clone)]
pub struct Cleanup {
    /// The flow it cleans up after.
    pub flow: String,
    /// Wait after the flow before the first attempt (skipped for failed orders and on Ctrl-C).
    pub after: Duration,
    /// Requests sent once before `steps`, each when every variable it uses is
    /// set: undoing what a flow may have left half-done, or a login the steps need.
    pub first: Vec<Request>,
    /// Requests sent once after the cleanup, whatever its outcome, each when
    /// its variables are set (a logout).
    pub finally: Vec<Request>,
    /// Requests tried in turn each round; the first that succeeds ends cleanup.
    pub steps: Vec<Request>,
    /// Optional check that reads the order's state, in case it is already terminal.
    pub verify: Option<Request>,
    /// Give up (and report the order as stranded) after this long.
    pub timeout: Duration,
    /// Wait between rounds.
    pub every: Duration,
}

/// Names that tie requests to an order.
#[derive(Debug, Clone)]
pub struct Track {
    /// The captured variable holding the order's id on the target.
    pub id: String,
    /// The payload field shown as the order number in events and reports.
    pub label: String,
    /// What the tracked items are called in the console (`orders`, `users`).
    pub noun: String,
}

impl Default for Track {
    fn default() -> Self {
        Track {
            id: "orderId".into(),
            label: "orderNumber".into(),
            noun: "orders".into(),
        }
    }
}
