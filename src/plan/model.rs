//! The compiled plan: everything the scheduler needs for a run, with each
//! flow's steps, its cleanup rule and the bearer authentication.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::arena::Arena;
use super::population::{Batch, Order};
use super::settings::{BreakerConfig, Http, Target};
use super::step::{Request, Step, each_request};
use crate::script::Runtime;
use crate::threshold::Threshold;

/// Compiled bearer authentication.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Variable holding the access token.
    pub token: Arc<str>,
    /// Requests that get a new token after a 401.
    pub renew: Vec<Request>,
}

/// A compiled cleanup rule.
#[derive(Debug, Clone)]
pub struct Cleanup {
    /// Wait after the flow (scaled).
    pub after: Duration,
    /// Requests sent once first, each when its variables are set (failures only counted).
    pub first: Vec<Request>,
    /// Requests sent once at the end, each when its variables are set (failures only counted).
    pub finally: Vec<Request>,
    /// Requests tried in turn each round.
    pub steps: Vec<Request>,
    /// Optional state check.
    pub verify: Option<Request>,
    /// Give up after this long (not scaled).
    pub timeout: Duration,
    /// Wait between rounds (scaled).
    pub every: Duration,
}

impl Cleanup {
    /// Every request of the rule: first, steps, verify, finally.
    pub fn requests(&self) -> impl Iterator<Item = &Request> {
        self.first
            .iter()
            .chain(&self.steps)
            .chain(&self.verify)
            .chain(&self.finally)
    }
}

/// The steps of one flow and its cleanup.
#[derive(Debug, Clone)]
pub struct Flow {
    /// Its name.
    pub name: Arc<str>,
    /// Steps in order.
    pub steps: Vec<Step>,
    /// How created orders of this type are brought to a terminal state.
    pub cleanup: Option<Cleanup>,
    /// Where its barriers are among its steps, in order (see [`Phase`]).
    pub barriers: Vec<usize>,
}

/// The order index of exchanges that belong to no order: setup, a phase's
/// once-steps, teardown.
pub const RUN_WIDE: u32 = u32::MAX;

/// A barrier every order waits at: the steps after a flow's k-th `phase()`
/// start only once every order has finished the steps before it.
#[derive(Debug, Clone)]
pub struct Phase {
    /// Its name, in reports.
    pub name: Arc<str>,
    /// Steps run once at the barrier, with the run's variables.
    pub once: Vec<Step>,
}

impl Plan {
    /// What reports of one plan share, whatever their segment: scenario,
    /// seed, planned population, speed, flows, target and thresholds.
    pub fn key(&self) -> String {
        let flows: Vec<&str> = self.flows.iter().map(|f| &*f.name).collect();
        let thresholds: Vec<&str> = self.thresholds.iter().map(|t| t.expr()).collect();
        format!(
            "{} · seed {} · {} planned · speed ×{} · flows {} · target {} · thresholds [{}]",
            self.name,
            self.seed,
            self.planned,
            self.speed,
            flows.join(", "),
            self.target,
            thresholds.join("; ")
        )
    }
}

/// Everything the scheduler needs for a run.
pub struct Plan {
    /// Scenario name.
    pub name: String,
    /// Scenario description.
    pub description: String,
    /// Where requests go.
    pub target: Target,
    /// Client settings.
    pub http: Http,
    /// Flows by index (orders refer to them by index).
    pub flows: Vec<Flow>,
    /// Steps run once before the first order; every order reads what they capture.
    pub setup: Vec<Step>,
    /// The barriers every flow's `phase()` steps name, in order.
    pub phases: Vec<Phase>,
    /// Steps run once after every order's flow and cleanup.
    pub teardown: Vec<Step>,
    /// Every order, in batch order.
    pub orders: Vec<Order>,
    /// The orders' payloads and labels.
    pub arena: Arena,
    /// Batches; each covers a contiguous range of `orders`.
    pub batches: Vec<Batch>,
    /// Batches running at once.
    pub parallel: usize,
    /// Pause between orders inside a batch (scaled).
    pub between: Duration,
    /// Batch workers start one by one over this long (scaled).
    pub ramp: Duration,
    /// The open load model: orders start on this schedule instead of batches.
    pub arrivals: Option<super::Arrivals>,
    /// The share of the population this process runs (`--segment I/N`).
    pub segment: Option<super::Segment>,
    /// The population's size before a segment took its share.
    pub planned: u32,
    /// Most requests per second by step name (`*`: all together); not scaled.
    pub rate_limits: Vec<(Arc<str>, f64)>,
    /// Names whose values are redacted (besides token/password/secret/authorization).
    pub secrets: Vec<Arc<str>>,
    /// Each order keeps a cookie jar (`s.cookies(true)`).
    pub cookies: bool,
    /// Whether a branch, loop or `set` reads the last response, so orders keep it.
    pub keep_response: bool,
    /// Environment variables the script read with `env()`, with their values (`None`: unset).
    pub env: Vec<(String, Option<String>)>,
    /// Finds an order whose id was lost (see [`crate::spec::Spec::recover`]).
    pub recover: Option<Request>,
    /// Variable holding an order's id on the target.
    pub track_id: Arc<str>,
    /// What the tracked items are called (`orders`, `users`).
    pub noun: String,
    /// Share of the population that may fail with the run still passing.
    pub accept_failed: f64,
    /// The answers' shares the script aims for: success, 4xx, 5xx (`s.status_mix`).
    pub status_mix: Option<[f64; 3]>,
    /// Payload fields that templates use.
    pub payload_vars: Vec<Arc<str>>,
    /// States that need no cleanup.
    pub terminal: Vec<Arc<str>>,
    /// Seed used for the layout and jitter.
    pub seed: u64,
    /// Speed factor applied to intervals.
    pub speed: f64,
    /// For script predicates.
    pub runtime: Runtime,
    /// Checked at the end of the run.
    pub thresholds: Vec<Threshold>,
    /// Bearer authentication, if the script set it up.
    pub auth: Option<Auth>,
    /// Wall-clock limit on journeys (not scaled).
    pub duration: Option<Duration>,
    /// Circuit breaker settings (open time scaled).
    pub breaker: BreakerConfig,
    /// Every request step's name once, by [`Request::slot`]: the run keeps
    /// a breaker and a rate limit per name.
    pub request_names: Vec<Arc<str>>,
}

/// Whether a field, parameter or variable name holds a secret: it mentions token,
/// password, secret or authorization, or the script marked it with `s.secret(name)`.
pub fn is_secret(name: &str, secrets: &[Arc<str>]) -> bool {
    // Without a lowercase copy: it is asked per request of a step with a query.
    let contains = |word: &str| {
        name.as_bytes()
            .windows(word.len())
            .any(|w| w.eq_ignore_ascii_case(word.as_bytes()))
    };
    ["token", "password", "secret", "authorization"]
        .into_iter()
        .any(contains)
        || secrets.iter().any(|s| s.eq_ignore_ascii_case(name))
}

impl Plan {
    /// Each request step's endpoint by its name (the first one, when a name
    /// is used for several endpoints): for exchanges read back from events.csv.
    pub fn endpoints_by_step(&self) -> HashMap<Arc<str>, Arc<str>> {
        let mut out = HashMap::new();
        let mut add = |r: &Request| {
            out.entry(r.name.clone())
                .or_insert_with(|| r.endpoint.clone());
        };
        let run_wide = self.phases.iter().map(|p| &p.once[..]);
        for steps in [&self.setup[..], &self.teardown[..]]
            .into_iter()
            .chain(run_wide)
        {
            each_request(steps, &mut add);
        }
        for flow in &self.flows {
            each_request(&flow.steps, &mut add);
            if let Some(c) = &flow.cleanup {
                c.requests().for_each(&mut add);
            }
        }
        if let Some(auth) = &self.auth {
            auth.renew.iter().for_each(&mut add);
        }
        self.recover.iter().for_each(&mut add);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_secret_when_it_holds_a_secret_word_in_any_case_or_is_listed() {
        let listed: Vec<Arc<str>> = vec!["Sig".into()];
        for name in [
            "token",
            "X-Api-TOKEN",
            "db_password",
            "clientSecret",
            "Authorization",
        ] {
            assert!(is_secret(name, &[]), "{name}");
        }
        for name in ["orderId", "tok", "pass", "é-token-é"] {
            assert_eq!(is_secret(name, &[]), name.contains("token"), "{name}");
        }
        assert!(is_secret("sig", &listed) && !is_secret("sign", &listed));
    }
}
