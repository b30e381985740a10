//! Compiles a [`Spec`] into a [`Plan`]: validated, with templates and JSON
//! paths parsed, every interval divided by `--speed`, and every order's
//! payload generated. No I/O.

mod population;
pub mod template;
mod timeline;

pub use population::{Arena, Batch, Order};
pub use template::{JsonPath, JsonTemplate, Lookup, MissingVar, Template};
pub use timeline::timeline;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Params, provenance};
use crate::script::{Runtime, ScriptError};
use crate::spec::ScriptFn;
use crate::spec::{self, Spec};
use crate::threshold::{Threshold, ThresholdError};

/// Run-wide choices made on the command line rather than in the script.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--target`: replaces the script's target.
    pub target: Option<String>,
    /// `--speed`: every interval is divided by this.
    pub speed: f64,
    /// `--seed`: replaces the script's seed.
    pub seed: Option<u64>,
    /// `--threshold`: checked at the end besides the script's own.
    pub thresholds: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            target: None,
            speed: 1.0,
            seed: None,
            thresholds: Vec::new(),
        }
    }
}

/// Why a spec cannot run, each naming what to fix.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlanError {
    /// A value out of range or inconsistent with another.
    #[error("{what}: {message}")]
    #[diagnostic(code(runner::plan::invalid))]
    Invalid {
        /// The scenario part or key at fault.
        what: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A template uses a variable nothing sets before it.
    #[error("flow `{flow}`, step `{step}`: {{{var}}} is not set before this step")]
    #[diagnostic(
        code(runner::plan::unknown_variable),
        help(
            "known here: {known}; capture it in an earlier step with .capture(\"{var}\", \"path\") or add it to the payload"
        )
    )]
    UnknownVar {
        /// The flow.
        flow: String,
        /// The step.
        step: String,
        /// The variable.
        var: String,
        /// The variables available at that step.
        known: String,
    },
    /// `--config` / `--set` held keys the script never reads.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A threshold that does not parse.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Threshold(#[from] ThresholdError),
    /// The payload closure failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Script(Box<ScriptError>),
}

/// Where requests go.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A built-in target started in-process on 127.0.0.1 (`builtin:orders`).
    Builtin(String),
    /// A base URL such as `http://127.0.0.1:8080`, without a trailing slash.
    Url(String),
}

/// Client settings, intervals already scaled by speed.
#[derive(Debug, Clone)]
pub struct Http {
    /// Per-request timeout (not scaled: it guards against a stuck target).
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// First retry delay (scaled).
    pub retry_backoff: Duration,
    /// Most requests in flight.
    pub max_connections: usize,
    /// Headers sent with every request.
    pub headers: Vec<(String, Template)>,
}

/// A compiled request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Step name in reports.
    pub name: Arc<str>,
    /// HTTP method, upper case.
    pub method: Arc<str>,
    /// Path template.
    pub path: Template,
    /// Query parameters.
    pub query: Vec<(String, Template)>,
    /// Headers.
    pub headers: Vec<(String, Template)>,
    /// Body.
    pub body: Body,
    /// Accepted statuses; empty means any 2xx.
    pub expect: Vec<u16>,
    /// Captures: variable ← path in the JSON response.
    pub captures: Vec<(Arc<str>, JsonPath)>,
    /// State the order is in after this step succeeds.
    pub marks: Option<Arc<str>>,
    /// Response field holding the order's state.
    pub state_from: Option<JsonPath>,
    /// A deliberate bad request: its expected status counts as an expected error.
    pub deliberate: bool,
}

impl Request {
    /// Whether `status` is what this request expects.
    pub fn accepts(&self, status: u16) -> bool {
        if self.expect.is_empty() {
            (200..300).contains(&status)
        } else {
            self.expect.contains(&status)
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
    /// A field equals one of the values (native, ~10 ns).
    Field {
        /// Where to look.
        path: JsonPath,
        /// What to accept.
        one_of: Vec<serde_json::Value>,
    },
    /// A script predicate.
    Script(ScriptFn),
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
    Choose(Choose),
}

/// A compiled journey (see [`spec::Choose`]).
#[derive(Debug, Clone)]
pub struct Choose {
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
    /// Requests tried in turn each round.
    pub steps: Vec<Request>,
    /// Optional state check.
    pub verify: Option<Request>,
    /// Give up after this long (not scaled).
    pub timeout: Duration,
    /// Wait between rounds (scaled).
    pub every: Duration,
}

/// The steps of one order type and its cleanup.
#[derive(Debug, Clone)]
pub struct Flow {
    /// The order type.
    pub name: Arc<str>,
    /// Steps in order.
    pub steps: Vec<Step>,
    /// How created orders of this type are brought to a terminal state.
    pub cleanup: Option<Cleanup>,
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
    /// Most requests per second by step name (`*`: all together); not scaled.
    pub rate_limits: Vec<(Arc<str>, f64)>,
    /// Names whose values are redacted (besides token/password/secret/authorization).
    pub secrets: Vec<Arc<str>>,
    /// Finds an order whose id was lost (see [`spec::Spec::recover`]).
    pub recover: Option<Request>,
    /// Variable holding an order's id on the target.
    pub track_id: Arc<str>,
    /// What the tracked items are called (`orders`, `users`).
    pub noun: String,
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
}

/// Variables every order has before its first step.
pub const BUILTIN_VARS: &[&str] = &["n", "type", "batch", "label"];

/// Compiles and validates; generates every payload.
pub fn compile(
    spec: &Spec,
    runtime: Runtime,
    params: &Params,
    options: &Options,
) -> Result<Plan, PlanError> {
    let invalid = |what: &str, message: String| PlanError::Invalid {
        what: what.into(),
        message,
    };
    if !(options.speed.is_finite() && options.speed > 0.0) {
        return Err(invalid(
            "--speed",
            format!("must be a number above 0, got {}", options.speed),
        ));
    }
    let scale = |d: Duration| d.div_f64(options.speed);
    // Thresholds first: a typo in one must not cost a payload generation.
    let thresholds = spec
        .thresholds
        .iter()
        .chain(&options.thresholds)
        .map(|t| crate::threshold::parse(t))
        .collect::<Result<Vec<_>, _>>()?;
    let target = target(options.target.as_deref().unwrap_or(&spec.target), params)?;
    if spec.flows.is_empty() {
        return Err(invalid(
            "scenario",
            "no flows: add one with s.flow(\"type\", [steps…])".into(),
        ));
    }
    let size = usize::try_from(spec.batches.size)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| {
            invalid(
                "batches.size",
                format!(
                    "must be at least 1, got {}{}",
                    spec.batches.size,
                    provenance(params, spec.batches.size)
                ),
            )
        })?;
    let parallel = usize::try_from(spec.batches.parallel)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| {
            invalid(
                "batches.parallel",
                format!(
                    "must be at least 1, got {}{}",
                    spec.batches.parallel,
                    provenance(params, spec.batches.parallel)
                ),
            )
        })?;
    let flow_names: Vec<String> = spec.flows.iter().map(|f| f.name.clone()).collect();
    let seed = options.seed.or(spec.population.seed).unwrap_or(0);
    let (orders, batches, arena) = population::generate(spec, &runtime, &flow_names, seed, size)
        .map_err(|e| match e {
            PlanError::Invalid { what, message } => {
                let numbers: BTreeSet<String> = message
                    .split(|c: char| !(c.is_ascii_digit() || c == '-'))
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                let keys: Vec<String> = numbers
                    .iter()
                    .flat_map(|n| params.keys_with_value(n))
                    .collect();
                let hint = if keys.is_empty() {
                    String::new()
                } else {
                    format!(" (check {})", keys.join(", "))
                };
                PlanError::Invalid {
                    what,
                    message: format!("{message}{hint}"),
                }
            }
            other => other,
        })?;

    let payload_keys: BTreeSet<String> = orders
        .first()
        .and_then(|o| {
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(arena.payload(o))
                .ok()
        })
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut payload_vars = BTreeSet::new();
    let mut flows = Vec::new();
    let mut all_known: BTreeSet<String> = BTreeSet::new();
    for f in &spec.flows {
        let mut known: BTreeSet<String> = BUILTIN_VARS.iter().map(|s| s.to_string()).collect();
        known.extend(payload_keys.iter().cloned());
        let mut compiler = Compiler {
            flow: &f.name,
            speed: options.speed,
            payload_keys: &payload_keys,
            payload_vars: &mut payload_vars,
        };
        let steps = compiler.steps(&f.steps, &mut known)?;
        all_known.extend(known.iter().cloned());
        let cleanup = match spec.cleanup.iter().find(|c| c.flow == f.name) {
            None => None,
            Some(c) => {
                let compile_all = |rs: &[spec::Request]| -> Result<Vec<Request>, PlanError> {
                    rs.iter().map(|r| request(r, &f.name, &known)).collect()
                };
                let cleanup = Cleanup {
                    after: scale(c.after),
                    steps: compile_all(&c.steps)?,
                    verify: compile_all(c.verify.as_slice())?.pop(),
                    timeout: c.timeout,
                    every: scale(c.every),
                };
                for r in cleanup.steps.iter().chain(&cleanup.verify) {
                    collect_payload_vars(r, &payload_keys, &mut payload_vars);
                }
                Some(cleanup)
            }
        };
        flows.push(Flow {
            name: f.name.as_str().into(),
            steps,
            cleanup,
        });
    }
    let auth = match &spec.auth {
        None => None,
        Some(a) => {
            let mut compiler = Compiler {
                flow: "(auth)",
                speed: options.speed,
                payload_keys: &payload_keys,
                payload_vars: &mut payload_vars,
            };
            let renew = a
                .renew
                .iter()
                .map(|r| compiler.request(r, &all_known))
                .collect::<Result<Vec<_>, _>>()?;
            Some(Auth {
                token: a.token.as_str().into(),
                renew,
            })
        }
    };
    for c in &spec.cleanup {
        if !flow_names.contains(&c.flow) {
            return Err(invalid(
                "cleanup",
                format!(
                    "rule for `{}` but no such flow; flows: {}",
                    c.flow,
                    flow_names.join(", ")
                ),
            ));
        }
    }

    let http = Http {
        timeout: nonzero(spec.http.timeout, "http.timeout", params)?,
        retries: spec.http.retries,
        retry_backoff: scale(spec.http.retry_backoff),
        max_connections: spec.http.max_connections,
        headers: spec
            .http
            .headers
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.clone(),
                    Template::parse(v).map_err(|m| invalid("header", m))?,
                ))
            })
            .collect::<Result<_, PlanError>>()?,
    };
    // Scenario-wide headers go with every request, the first included, so they
    // may use only what every order has from the start.
    for (name, t) in &http.headers {
        for var in t.vars().filter(|v| !BUILTIN_VARS.contains(&v.as_ref())) {
            if payload_keys.contains(var.as_ref()) {
                payload_vars.insert(var.to_string());
            } else {
                let known: Vec<String> = BUILTIN_VARS
                    .iter()
                    .map(|s| s.to_string())
                    .chain(payload_keys.iter().cloned())
                    .collect();
                return Err(invalid(
                    &format!("header `{name}`"),
                    format!(
                        "{{{var}}} is not set when the first request goes out; scenario headers may use {}",
                        known.join(", ")
                    ),
                ));
            }
        }
    }
    let mut names = BTreeSet::new();
    for f in &flows {
        request_names(&f.steps, &mut names);
        for r in f
            .cleanup
            .iter()
            .flat_map(|c| c.steps.iter().chain(&c.verify))
        {
            names.insert(r.name.to_string());
        }
    }
    for (step, _) in &spec.rate_limits {
        if step != "*" && !names.contains(step) {
            return Err(invalid(
                "rate_limit",
                format!(
                    "no step named `{step}`; steps: {} (or `*` for all requests)",
                    names.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    let recover = match &spec.recover {
        None => None,
        Some(r) => {
            let mut known: BTreeSet<String> = BUILTIN_VARS.iter().map(|s| s.to_string()).collect();
            known.extend(payload_keys.iter().cloned());
            let mut compiler = Compiler {
                flow: "(recover)",
                speed: options.speed,
                payload_keys: &payload_keys,
                payload_vars: &mut payload_vars,
            };
            Some(compiler.request(r, &known)?)
        }
    };
    // Checked last: the payload closure may read parameters too.
    params.check_all_read()?;
    Ok(Plan {
        name: spec.name.clone(),
        description: spec.description.clone(),
        target,
        http,
        flows,
        orders,
        arena,
        batches,
        parallel,
        between: scale(spec.batches.between),
        ramp: scale(spec.batches.ramp),
        secrets: spec.secrets.iter().map(|s| s.as_str().into()).collect(),
        recover,
        rate_limits: spec
            .rate_limits
            .iter()
            .map(|(n, r)| (n.as_str().into(), *r))
            .collect(),
        track_id: spec.track.id.as_str().into(),
        noun: spec.track.noun.clone(),
        payload_vars: payload_vars.into_iter().map(|s: String| s.into()).collect(),
        terminal: spec.terminal.iter().map(|s| s.as_str().into()).collect(),
        seed,
        speed: options.speed,
        runtime,
        thresholds,
        auth,
        duration: spec.duration,
        breaker: BreakerConfig {
            failures: spec.breaker.0,
            open_for: scale(spec.breaker.1),
        },
    })
}

/// Compiles one flow's steps, recursing into journeys, and notes which
/// payload fields the templates use.
struct Compiler<'a> {
    flow: &'a str,
    speed: f64,
    payload_keys: &'a BTreeSet<String>,
    payload_vars: &'a mut BTreeSet<String>,
}

impl Compiler<'_> {
    fn scale(&self, d: Duration) -> Duration {
        d.div_f64(self.speed)
    }

    fn request(
        &mut self,
        r: &spec::Request,
        known: &BTreeSet<String>,
    ) -> Result<Request, PlanError> {
        let compiled = request(r, self.flow, known)?;
        collect_payload_vars(&compiled, self.payload_keys, self.payload_vars);
        Ok(compiled)
    }

    fn steps(
        &mut self,
        steps: &[spec::Step],
        known: &mut BTreeSet<String>,
    ) -> Result<Vec<Step>, PlanError> {
        steps.iter().map(|s| self.step(s, known)).collect()
    }

    fn step(&mut self, step: &spec::Step, known: &mut BTreeSet<String>) -> Result<Step, PlanError> {
        let invalid = |what: String, message: String| PlanError::Invalid { what, message };
        let compiled = match step {
            spec::Step::Request(r) => Step::Request(self.request(r, known)?),
            spec::Step::Pause { duration, jitter } => Step::Pause {
                duration: self.scale(*duration),
                jitter: *jitter,
            },
            spec::Step::Poll(p) => Step::Poll(Poll {
                request: self.request(&p.request, known)?,
                until: match &p.until {
                    spec::Until::Field { path, one_of } => Until::Field {
                        path: JsonPath::parse(path)
                            .map_err(|m| invalid(format!("flow `{}`, poll.field", self.flow), m))?,
                        one_of: one_of.clone(),
                    },
                    spec::Until::Script(s) => Until::Script(s.clone()),
                },
                every: self.scale(p.every),
                backoff: p.backoff,
                max_every: self.scale(p.max_every),
                timeout: p.timeout,
            }),
            spec::Step::Choose(c) => Step::Choose(self.choose(c, known)?),
        };
        if let Step::Request(r) | Step::Poll(Poll { request: r, .. }) = &compiled {
            known.extend(r.captures.iter().map(|(v, _)| v.to_string()));
        }
        Ok(compiled)
    }

    fn choose(
        &mut self,
        c: &spec::Choose,
        known: &mut BTreeSet<String>,
    ) -> Result<Choose, PlanError> {
        let to_u32 = |n: i64| u32::try_from(n).unwrap_or(u32::MAX);
        let mut after = known.clone();
        let mut actions = Vec::new();
        for list in [&c.actions, &c.errors] {
            let mut compiled = Vec::new();
            for a in list {
                // An action sees what was known before the journey plus its own captures.
                let mut inside = known.clone();
                let steps = self.steps(&a.steps, &mut inside)?;
                after.extend(inside);
                compiled.push(Action {
                    name: a.name.as_str().into(),
                    category: a.category.as_str().into(),
                    weight: a.weight,
                    steps,
                    think: a.think.map(|(lo, hi)| (self.scale(lo), self.scale(hi))),
                });
            }
            actions.push(compiled);
        }
        // Later steps may use what any action captured (unset if it never ran).
        *known = after;
        let errors = actions.pop().expect("two lists");
        let actions = actions.pop().expect("two lists");
        let total: f64 = c.mix.iter().map(|(_, w)| w).sum();
        let mix = c
            .mix
            .iter()
            .filter(|(_, w)| *w > 0.0)
            .map(|(cat, w)| {
                let members = actions
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| &*a.category == cat)
                    .map(|(i, _)| i)
                    .collect();
                (cat.as_str().into(), w / total, members)
            })
            .collect::<Vec<(Arc<str>, f64, Vec<usize>)>>();
        let per_action = |members: &[usize]| {
            let weight: f64 = members.iter().map(|&i| actions[i].weight).sum();
            let requests: f64 = members
                .iter()
                .map(|&i| actions[i].weight * requests_in(&actions[i].steps) as f64)
                .sum();
            if weight > 0.0 && requests > 0.0 {
                requests / weight
            } else {
                1.0
            }
        };
        let raw: Vec<f64> = mix
            .iter()
            .map(|(_, share, m)| share / per_action(m))
            .collect();
        let sum: f64 = raw.iter().sum();
        let pick = raw.iter().map(|p| p / sum).collect();
        Ok(Choose {
            requests: (to_u32(c.requests.0), to_u32(c.requests.1)),
            think: (self.scale(c.think.0), self.scale(c.think.1)),
            mix,
            pick,
            actions,
            error_rate: c.error_rate,
            errors,
        })
    }
}

/// Every request step's name, journeys' actions included.
fn request_names(steps: &[Step], out: &mut BTreeSet<String>) {
    for s in steps {
        match s {
            Step::Request(r) | Step::Poll(Poll { request: r, .. }) => {
                out.insert(r.name.to_string());
            }
            Step::Choose(c) => {
                for a in c.actions.iter().chain(&c.errors) {
                    request_names(&a.steps, out);
                }
            }
            Step::Pause { .. } => {}
        }
    }
}

/// Requests one pass over `steps` sends at least (a poll counts once).
fn requests_in(steps: &[Step]) -> usize {
    steps
        .iter()
        .map(|s| match s {
            Step::Request(_) | Step::Poll(_) => 1,
            Step::Pause { .. } | Step::Choose(_) => 0,
        })
        .sum()
}

fn nonzero(d: Duration, what: &str, params: &Params) -> Result<Duration, PlanError> {
    if d.is_zero() {
        return Err(PlanError::Invalid {
            what: what.into(),
            message: format!("must be above 0{}", provenance(params, "0s")),
        });
    }
    Ok(d)
}

fn target(raw: &str, params: &Params) -> Result<Target, PlanError> {
    let bad = |message: String| PlanError::Invalid {
        what: "target".into(),
        message: format!("{message}{}", provenance(params, raw)),
    };
    if raw.is_empty() {
        return Err(bad(
            "no target: call s.target(\"builtin:orders\") or pass --target http://HOST:PORT".into(),
        ));
    }
    if let Some(kind) = raw.strip_prefix("builtin:") {
        return match kind {
            "orders" | "users" => Ok(Target::Builtin(kind.to_owned())),
            other => Err(bad(format!(
                "unknown built-in target `{other}`; available: builtin:orders, builtin:users"
            ))),
        };
    }
    let url = reqwest::Url::parse(raw).map_err(|e| {
        bad(format!(
            "{raw:?} is not a valid URL ({e}); expected http://HOST:PORT"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(bad(format!(
            "{raw:?}: expected an http:// or https:// URL with a host"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad(format!(
            "{raw:?}: a base URL cannot have a query or fragment"
        )));
    }
    Ok(Target::Url(raw.trim_end_matches('/').to_owned()))
}

fn request(r: &spec::Request, flow: &str, known: &BTreeSet<String>) -> Result<Request, PlanError> {
    let invalid = |message: String| PlanError::Invalid {
        what: format!("flow `{flow}`, step `{}`", r.name),
        message,
    };
    let parse = |t: &str| Template::parse(t).map_err(invalid);
    let pairs = |list: &[(String, String)]| -> Result<Vec<(String, Template)>, PlanError> {
        list.iter()
            .map(|(k, v)| Ok((k.clone(), parse(v)?)))
            .collect()
    };
    let compiled = Request {
        name: r.name.as_str().into(),
        method: r.method.as_str().into(),
        path: parse(&r.path)?,
        query: pairs(&r.query)?,
        headers: pairs(&r.headers)?,
        body: match &r.body {
            spec::Body::None => Body::None,
            spec::Body::Payload => Body::Payload,
            spec::Body::Json(v) => Body::Json(JsonTemplate::parse(v).map_err(invalid)?),
        },
        expect: r.expect.clone(),
        captures: r
            .captures
            .iter()
            .map(|(var, path)| Ok((var.as_str().into(), JsonPath::parse(path).map_err(invalid)?)))
            .collect::<Result<_, PlanError>>()?,
        marks: r.marks.as_deref().map(Into::into),
        deliberate: r.deliberate,
        state_from: r
            .state_from
            .as_deref()
            .map(JsonPath::parse)
            .transpose()
            .map_err(invalid)?,
    };
    for var in template_vars(&compiled) {
        if !known.contains(var.as_ref()) {
            return Err(PlanError::UnknownVar {
                flow: flow.to_owned(),
                step: r.name.clone(),
                var: var.to_string(),
                known: known.iter().cloned().collect::<Vec<_>>().join(", "),
            });
        }
    }
    Ok(compiled)
}

fn template_vars(r: &Request) -> Vec<&Arc<str>> {
    let mut vars: Vec<&Arc<str>> = r.path.vars().collect();
    for (_, t) in r.query.iter().chain(&r.headers) {
        vars.extend(t.vars());
    }
    if let Body::Json(j) = &r.body {
        vars.extend(j.vars());
    }
    vars
}

fn collect_payload_vars(r: &Request, payload_keys: &BTreeSet<String>, out: &mut BTreeSet<String>) {
    for v in template_vars(r) {
        if payload_keys.contains(v.as_ref()) && !BUILTIN_VARS.contains(&v.as_ref()) {
            out.insert(v.to_string());
        }
    }
}

/// Batches listed by `runner check`; the rest are counted.
const BATCHES_SHOWN: usize = 30;

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.target {
            Target::Builtin(k) => format!("builtin:{k} (started on 127.0.0.1)"),
            Target::Url(u) => u.clone(),
        };
        writeln!(f, "scenario  {}", self.name)?;
        if !self.description.is_empty() {
            writeln!(f, "          {}", self.description)?;
        }
        writeln!(f, "target    {target}")?;
        writeln!(
            f,
            "http      timeout {:?}, retries {}, retry backoff {:?}, max connections {}",
            self.http.timeout,
            self.http.retries,
            self.http.retry_backoff,
            self.http.max_connections
        )?;
        writeln!(
            f,
            "seed      {}   speed ×{} (intervals below are already scaled)",
            self.seed, self.speed
        )?;
        writeln!(f, "\npopulation  {} orders", self.orders.len())?;
        for (i, flow) in self.flows.iter().enumerate() {
            let n = self.orders.iter().filter(|o| o.flow as usize == i).count();
            writeln!(f, "  {:<12} {n}", flow.name)?;
        }
        writeln!(
            f,
            "\nbatches     {} batches, up to {} in parallel, {:?} between orders in a batch",
            self.batches.len(),
            self.parallel,
            self.between
        )?;
        for (i, b) in self.batches.iter().enumerate().take(BATCHES_SHOWN) {
            let first = &self.orders[b.orders.start];
            let last = &self.orders[b.orders.end - 1];
            writeln!(
                f,
                "  #{i:<4} {:<10} {:>4} orders  {} … {}",
                self.flows[b.flow as usize].name,
                b.orders.len(),
                self.arena.label(first),
                self.arena.label(last)
            )?;
        }
        if self.batches.len() > BATCHES_SHOWN {
            writeln!(
                f,
                "  … and {} more batches",
                self.batches.len() - BATCHES_SHOWN
            )?;
        }
        for flow in &self.flows {
            writeln!(f, "\nflow {}", flow.name)?;
            for (i, step) in flow.steps.iter().enumerate() {
                writeln!(f, "  {}. {}", i + 1, describe_step(step))?;
            }
            if let Some(c) = &flow.cleanup {
                let steps: Vec<String> = c.steps.iter().map(describe_request).collect();
                writeln!(
                    f,
                    "  cleanup after {:?}: try {} every {:?}, up to {:?}{}",
                    c.after,
                    steps.join(" then "),
                    c.every,
                    c.timeout,
                    c.verify
                        .as_ref()
                        .map(|v| format!("; verify with {}", describe_request(v)))
                        .unwrap_or_default()
                )?;
            }
        }
        Ok(())
    }
}

fn describe_step(step: &Step) -> String {
    match step {
        Step::Choose(c) => {
            let mix: Vec<String> = c
                .mix
                .iter()
                .map(|(cat, share, _)| format!("{cat} {:.0}%", share * 100.0))
                .collect();
            let actions: Vec<String> = c
                .actions
                .iter()
                .map(|a| format!("{} ({})", a.name, a.category))
                .collect();
            format!(
                "journey of {}..{} requests, think {:?}..{:?}, mix [{}], actions: {}{}",
                c.requests.0,
                c.requests.1,
                c.think.0,
                c.think.1,
                mix.join(", "),
                actions.join(", "),
                if c.errors.is_empty() {
                    String::new()
                } else {
                    format!("; {:.0}% deliberate errors", c.error_rate * 100.0)
                }
            )
        }
        Step::Request(r) => describe_request(r),
        Step::Pause { duration, jitter } if *jitter > 0.0 => {
            format!("pause {duration:?} ±{:.0}%", jitter * 100.0)
        }
        Step::Pause { duration, .. } => format!("pause {duration:?}"),
        Step::Poll(p) => {
            let until = match &p.until {
                Until::Field { path, one_of } => format!(
                    "{} in [{}]",
                    path.as_str(),
                    one_of
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Until::Script(f) => format!("{f:?}"),
            };
            format!(
                "poll {} until {until}, every {:?} ×{} up to {:?}, timeout {:?}",
                describe_request(&p.request),
                p.every,
                p.backoff,
                p.max_every,
                p.timeout
            )
        }
    }
}

fn describe_request(r: &Request) -> String {
    let expect = if r.expect.is_empty() {
        "2xx".to_owned()
    } else {
        r.expect
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join("|")
    };
    format!("{} [{} \"{}\" → {expect}]", r.name, r.method, r.path)
}
/// Circuit-breaker settings of a run (the executor keeps the state).
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (0 = never).
    pub failures: u32,
    /// How long it stays open before a probe (already scaled by speed).
    pub open_for: Duration,
}
