//! Compiles a [`Spec`] into a [`Plan`]: validated, with templates and JSON
//! paths parsed, every interval divided by `--speed`, and every order's
//! payload generated. No I/O.

mod arena;
mod arrivals;
mod closures;
mod compiler;
mod display;
mod model;
mod phases;
mod population;
mod references;
mod segment;
mod settings;
mod sparse;
mod step;
pub mod template;
mod timeline;

pub use arena::Arena;
pub use arrivals::Arrivals;
pub use compiler::BUILTIN_VARS;
pub use model::{Auth, Cleanup, Flow, Phase, Plan, RUN_WIDE, is_secret};
pub use population::{Batch, Order};
pub use segment::{Segment, SegmentArgs};
pub use settings::{BUILTIN, BreakerConfig, Http, Target};
pub use sparse::Needs;
pub use step::{
    Action, Body, Condition, Control, Journey, Loop, MetricSource, Poll, Request, Source, Step,
    Subject, Test, Until,
};
pub use template::{JsonPath, JsonTemplate, Lookup, MissingVar, Template};
pub use timeline::timeline;

use std::collections::BTreeSet;

use crate::config::Params;
use crate::script::{Runtime, ScriptError};
use crate::spec::Spec;
use crate::threshold::{Threshold, ThresholdError};
use compiler::Compiler;
use settings::Speed;

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
    /// `--segment I/N`: run only this share of the population.
    pub segment: Option<Segment>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            target: None,
            speed: 1.0,
            seed: None,
            thresholds: Vec::new(),
            segment: None,
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

impl PlanError {
    /// A [`PlanError::Invalid`] for `what`.
    fn invalid(what: impl Into<String>, message: String) -> Self {
        PlanError::Invalid {
            what: what.into(),
            message,
        }
    }
}

/// Compiles and validates; generates every payload.
pub fn compile(
    spec: &Spec,
    runtime: Runtime,
    params: &Params,
    options: &Options,
) -> Result<Plan, PlanError> {
    let speed = Speed::new(options.speed)?;
    // Thresholds first: a typo in one must not cost a payload generation.
    let thresholds = thresholds(spec, options)?;
    let target = settings::target(options.target.as_deref().unwrap_or(&spec.target), params)?;
    let flow_names = flow_names(spec)?;
    let (size, parallel) = settings::batch_sizes(&spec.batches, params)?;
    let seed = options.seed.or(spec.population.seed).unwrap_or(0);
    let segment = options.segment;
    // The whole population's size, before a segment takes its share.
    let counts = population::counts(spec, &flow_names).map_err(|e| with_param_hint(e, params))?;
    let planned: u32 = counts.iter().map(|(_, n)| n).sum();
    let (orders, batches, arena) =
        population::generate(spec, &runtime, &flow_names, &counts, seed, size, segment)
            .map_err(|e| with_param_hint(e, params))?;
    if let Some(s) = segment
        && orders.is_empty()
    {
        return Err(PlanError::invalid(
            "--segment",
            format!(
                "segment {s} has no members: the population has {planned} (use at most that many segments)"
            ),
        ));
    }
    // A segment's share of the workers and the rate limits (arrivals take
    // their share of the schedule themselves).
    let share = |x: f64| segment.map_or(x, |s| s.share(x));
    let parallel = (share(parallel as f64).ceil() as usize).max(1);
    let payload_keys = payload_keys(&orders, &arena);
    let mut payload_vars = BTreeSet::new();
    let mut names = compiler::Names::default();
    let mut run_wide = phases::compile(spec, speed, &mut names)?;
    let (mut flows, all_known) = flows(
        spec,
        speed,
        &payload_keys,
        &mut payload_vars,
        &mut names,
        &run_wide,
    )?;
    closures::check(&mut flows, &runtime)?;
    closures::steps(&mut run_wide.setup, &runtime, "(setup)")?;
    for p in &mut run_wide.phases {
        closures::steps(&mut p.once, &runtime, &format!("(phase {})", p.name))?;
    }
    closures::steps(&mut run_wide.teardown, &runtime, "(teardown)")?;
    let keep_response = flows.iter().any(|f| step::reads_response(&f.steps))
        || step::reads_response(&run_wide.setup)
        || step::reads_response(&run_wide.teardown)
        || run_wide
            .phases
            .iter()
            .any(|p| step::reads_response(&p.once));
    // Conditions and closures see the order's variables: all its payload fields among them.
    if flows.iter().any(|f| step::reads_vars(&f.steps)) {
        payload_vars.extend(
            payload_keys
                .iter()
                .filter(|k| !BUILTIN_VARS.contains(&k.as_str()))
                .cloned(),
        );
    }
    let auth = auth(
        spec,
        speed,
        &payload_keys,
        &mut payload_vars,
        &mut names,
        &all_known,
    )?;
    references::cleanup_flows(&spec.cleanup, &flow_names)?;
    let http = settings::http(&spec.http, speed, params)?;
    let arrivals = spec
        .arrivals
        .as_ref()
        .map(|a| {
            let phases = !run_wide.phases.is_empty();
            Arrivals::compile(a, speed, phases, planned as usize, segment)
        })
        .transpose()?;
    references::header_vars(&http.headers, &payload_keys, &mut payload_vars)?;
    references::rate_limits(&spec.rate_limits, &flows)?;
    let recover = recover(spec, speed, &payload_keys, &mut payload_vars, &mut names)?;
    // Checked last: the payload closure may read parameters too.
    params.check_all_read()?;
    Ok(Plan {
        name: spec.name.clone(),
        description: spec.description.clone(),
        target,
        http,
        flows,
        setup: run_wide.setup,
        phases: run_wide.phases,
        teardown: run_wide.teardown,
        orders,
        arena,
        batches,
        parallel,
        between: speed.scale(spec.batches.between),
        ramp: speed.scale(spec.batches.ramp),
        arrivals,
        segment,
        planned,
        secrets: spec.secrets.iter().map(|s| s.as_str().into()).collect(),
        cookies: spec.cookies,
        env: params.env_reads(),
        keep_response,
        recover,
        rate_limits: spec
            .rate_limits
            .iter()
            .map(|(n, r)| (n.as_str().into(), share(*r)))
            .collect(),
        track_id: spec.track.id.as_str().into(),
        noun: spec.track.noun.clone(),
        accept_failed: spec.accept_failed,
        status_mix: spec.status_mix,
        payload_vars: payload_vars.into_iter().map(|s: String| s.into()).collect(),
        terminal: spec.terminal.iter().map(|s| s.as_str().into()).collect(),
        seed,
        speed: options.speed,
        runtime,
        thresholds,
        auth,
        duration: spec.duration,
        breaker: settings::breaker(spec.breaker, speed),
        request_names: names.into_list(),
    })
}

/// The script's thresholds, then `--threshold`'s.
fn thresholds(spec: &Spec, options: &Options) -> Result<Vec<Threshold>, PlanError> {
    Ok(spec
        .thresholds
        .iter()
        .chain(&options.thresholds)
        .map(|t| crate::threshold::parse(t))
        .collect::<Result<Vec<_>, _>>()?)
}

/// The flows' names; a scenario needs at least one flow.
fn flow_names(spec: &Spec) -> Result<Vec<String>, PlanError> {
    if spec.flows.is_empty() {
        return Err(PlanError::invalid(
            "scenario",
            "no flows: add one with s.flow(\"type\", [steps…])".into(),
        ));
    }
    Ok(spec.flows.iter().map(|f| f.name.clone()).collect())
}

/// A population error with the parameters that set the numbers it quotes.
fn with_param_hint(e: PlanError, params: &Params) -> PlanError {
    match e {
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
    }
}

/// The payload's fields, read from the first order (every payload has the same).
fn payload_keys(orders: &[Order], arena: &Arena) -> BTreeSet<String> {
    orders
        .first()
        .and_then(|o| {
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&arena.payload(o))
                .ok()
        })
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every flow with its cleanup rule, and every variable some flow sets.
fn flows(
    spec: &Spec,
    speed: Speed,
    payload_keys: &BTreeSet<String>,
    payload_vars: &mut BTreeSet<String>,
    names: &mut compiler::Names,
    run_wide: &phases::RunWide,
) -> Result<(Vec<Flow>, BTreeSet<String>), PlanError> {
    let mut flows = Vec::new();
    let mut all_known: BTreeSet<String> = BTreeSet::new();
    for f in &spec.flows {
        let mut known = compiler::initial_vars(payload_keys);
        known.extend(run_wide.after_setup.iter().cloned());
        let mut compiler = Compiler::new(&f.name, speed, payload_keys, payload_vars, names);
        // A flow's top-level `phase()`s are barriers; after one, the orders
        // also know what its once-steps captured.
        let mut steps = Vec::new();
        for s in &f.steps {
            match s {
                crate::spec::Step::Phase { .. } => {
                    let k = phases::barriers(&steps).len();
                    known.extend(run_wide.after_phase[k].iter().cloned());
                    steps.push(Step::Phase(k as u16));
                }
                _ => steps.push(compiler.step(s, &mut known)?),
            }
        }
        all_known.extend(known.iter().cloned());
        let cleanup = match spec.cleanup.iter().find(|c| c.flow == f.name) {
            None => None,
            Some(c) => Some(compiler.cleanup(c, &known)?),
        };
        flows.push(Flow {
            name: f.name.as_str().into(),
            barriers: phases::barriers(&steps),
            steps,
            cleanup,
        });
    }
    Ok((flows, all_known))
}

/// Bearer authentication; its renew requests may use what any flow sets.
fn auth(
    spec: &Spec,
    speed: Speed,
    payload_keys: &BTreeSet<String>,
    payload_vars: &mut BTreeSet<String>,
    names: &mut compiler::Names,
    all_known: &BTreeSet<String>,
) -> Result<Option<Auth>, PlanError> {
    let Some(a) = &spec.auth else {
        return Ok(None);
    };
    let mut compiler = Compiler::new("(auth)", speed, payload_keys, payload_vars, names);
    let renew = a
        .renew
        .iter()
        .map(|r| compiler.request(r, all_known))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Auth {
        token: a.token.as_str().into(),
        renew,
    }))
}

/// The recover request; it may use only what every order has from the start.
fn recover(
    spec: &Spec,
    speed: Speed,
    payload_keys: &BTreeSet<String>,
    payload_vars: &mut BTreeSet<String>,
    names: &mut compiler::Names,
) -> Result<Option<Request>, PlanError> {
    spec.recover
        .as_ref()
        .map(|r| {
            Compiler::new("(recover)", speed, payload_keys, payload_vars, names)
                .request(r, &compiler::initial_vars(payload_keys))
        })
        .transpose()
}
