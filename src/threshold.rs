//! Thresholds: pass/fail expressions checked against the [`Summary`] at the
//! end of a run, as in k6 (`s.threshold("p95(create) < 500ms")`).
//!
//! # Grammar
//!
//! ```text
//! threshold := METRIC OP VALUE
//! OP        := <  |  <=  |  >  |  >=  |  ==  |  !=
//! VALUE     := NUMBER UNIT?          NUMBER: 500, 0.5, .5
//! UNIT      := ms | s | m | h        times (converted to ms; a bare number is ms)
//!            | %                     rates (converted to a fraction: 1% = 0.01;
//!                                    a bare number is a fraction)
//!                                    counts take a bare number only
//! ```
//!
//! | METRIC | kind | from the summary |
//! |---|---|---|
//! | `p50(STEP)` `p90(STEP)` `p95(STEP)` `p99(STEP)` `p99.9(STEP)` `max(STEP)` `mean(STEP)` `stddev(STEP)` | time | the step's latency |
//! | `count(STEP)` `errors(STEP)` | count | the step's attempts, errored attempts |
//! | `error_rate(STEP)` | rate | errors / count of the step (0 without attempts) |
//! | `requests` `errors` | count | over all steps |
//! | `error_rate` | rate | over all steps |
//! | `orders.total` `orders.created` | count | orders planned, created on the target |
//! | `failed` `stranded` `interrupted` (also `orders.failed`, …) | count | orders |
//! | `reached(STATE)` | count | orders that were ever in STATE |
//! | `state(STATE)` | count | orders whose last known state is STATE |
//! | `order_duration.S` `flow_duration.S` | time | S is one of mean, p50, p90, p95, p99, max |
//! | `polls_per_order.S` | count | same statistics |
//! | `time_to(STATE).S` | time | from create to first reaching STATE |
//! | `duration` | time | wall-clock duration of the run |
//!
//! STEP is a step name (`create`), `TYPE/STEP` for one order type's steps
//! (`activate/create`), `*` for every step or `TYPE/*` for every step of a
//! type. With `*` the threshold holds only when it holds for every step, and
//! the value reported is the worst one (the largest for `<`, the smallest for
//! `>`); steps without any attempt are left out of latency statistics.
//!
//! A unit that does not fit the metric's kind (`p95(create) < 1%`,
//! `error_rate < 5ms`) is a parse error.
//!
//! # Evaluation
//!
//! Evaluation never panics. A metric naming a step, order type or state the
//! run does not know fails the threshold with a detail listing what the run
//! has. A latency statistic of a step without attempts, or a lifecycle
//! statistic without samples, also fails: there is nothing to hold the limit
//! against. A state the run saw (in `reached`, `by_state` or a transition) but
//! that has no orders counts as 0.
//!
//! The outcome's `actual` is the measured value in the unit the limit was
//! written in (`p95(create) < 1s` → seconds, `error_rate < 1%` → percent; a
//! bare number → ms for times, a fraction for rates).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use miette::SourceSpan;

use crate::recorder::{Dist, StepStats, Summary, ThresholdOutcome};

/// The grammar, shown as help with every parse error.
const GRAMMAR: &str = "\
a threshold is `METRIC OP VALUE`, e.g. `p95(create) < 500ms` or `error_rate < 1%`
  METRIC  p50|p90|p95|p99|p99.9|max|mean|stddev(STEP)   latency (time)
          count(STEP), errors(STEP), error_rate(STEP)   STEP: name, TYPE/name, * or TYPE/*
          requests, errors, error_rate
          orders.total, orders.created, failed, stranded, interrupted
          reached(STATE), state(STATE)
          order_duration.S, flow_duration.S, polls_per_order.S, time_to(STATE).S
                                                        S: mean|p50|p90|p95|p99|max
          duration                                      the run's wall-clock time
  OP      <  <=  >  >=  ==  !=
  VALUE   times: ms, s, m, h (bare = ms); rates: % (bare = fraction); counts: bare";

/// Every metric name, for "did you mean" hints.
const METRIC_NAMES: &[&str] = &[
    "p50",
    "p90",
    "p95",
    "p99",
    "p99.9",
    "max",
    "mean",
    "stddev",
    "count",
    "errors",
    "error_rate",
    "requests",
    "orders.total",
    "orders.created",
    "orders.failed",
    "orders.stranded",
    "orders.interrupted",
    "failed",
    "stranded",
    "interrupted",
    "reached",
    "state",
    "order_duration",
    "flow_duration",
    "polls_per_order",
    "time_to",
    "duration",
];

/// A parsed threshold, ready to be evaluated against a [`Summary`].
#[derive(Debug, Clone)]
pub struct Threshold {
    expr: String,
    metric: Metric,
    op: Op,
    limit: Limit,
}

/// A threshold expression that does not parse.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("threshold {expr:?}: {message}")]
#[diagnostic(code(runner::threshold))]
pub struct ThresholdError {
    #[source_code]
    expr: String,
    message: String,
    #[label("{label}")]
    span: SourceSpan,
    label: String,
    #[help]
    help: String,
}

impl ThresholdError {
    fn new(expr: &str, span: (usize, usize), message: String, label: &str) -> Self {
        ThresholdError {
            expr: expr.to_string(),
            message,
            span: span.into(),
            label: label.to_string(),
            help: GRAMMAR.to_string(),
        }
    }

    fn hint(mut self, hint: Option<String>) -> Self {
        if let Some(hint) = hint {
            self.help = format!("{hint}\n{GRAMMAR}");
        }
        self
    }

    /// The expression that failed to parse.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// Where in the expression the problem is (byte offset and length).
    pub fn span(&self) -> SourceSpan {
        self.span
    }
}

/// Parses a threshold expression (see the module documentation for the grammar).
pub fn parse(expr: &str) -> Result<Threshold, ThresholdError> {
    Parser { src: expr, pos: 0 }.threshold()
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

impl Threshold {
    /// The expression as written.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// Checks the threshold against a run's summary.
    pub fn evaluate(&self, s: &Summary) -> ThresholdOutcome {
        match self.measure(s) {
            Err(detail) => ThresholdOutcome {
                expr: self.expr.clone(),
                passed: false,
                actual: None,
                detail,
            },
            Ok(m) => {
                let passed = self.op.holds(m.value, self.limit.value);
                let unit = self.display_unit();
                let worst = m
                    .worst
                    .map(|step| format!(" (worst: {step})"))
                    .unwrap_or_default();
                ThresholdOutcome {
                    expr: self.expr.clone(),
                    passed,
                    actual: Some(unit.in_unit(m.value)),
                    detail: format!(
                        "{} = {}{worst}, limit {} {}",
                        self.metric,
                        with_unit(&number(unit.in_unit(m.value)), unit),
                        self.op,
                        with_unit(&self.limit.text, unit),
                    ),
                }
            }
        }
    }

    /// The unit values are shown in: the limit's, or the kind's default.
    fn display_unit(&self) -> Unit {
        match (self.limit.unit, self.metric.kind()) {
            (Unit::Bare, Kind::Time) => Unit::Ms,
            (unit, _) => unit,
        }
    }

    /// The metric's value in its canonical unit (ms, fraction, count).
    fn measure(&self, s: &Summary) -> Result<Measured, String> {
        let plain = |value: f64| Ok(Measured { value, worst: None });
        match &self.metric {
            Metric::Step { stat, target } => self.measure_steps(s, *stat, target),
            Metric::Requests => plain(s.requests() as f64),
            Metric::Errors => plain(s.errors() as f64),
            Metric::ErrorRate => plain(s.error_rate()),
            Metric::Orders(field) => plain(match field {
                OrderField::Total => s.orders.total,
                OrderField::Created => s.orders.created,
                OrderField::Failed => s.orders.failed,
                OrderField::Stranded => s.orders.stranded,
                OrderField::Interrupted => s.orders.interrupted,
            } as f64),
            Metric::Reached(state) | Metric::State(state) => {
                let known = known_states(s);
                if !known.contains(state.as_str()) {
                    return Err(missing("state", state, "", "states", known.into_iter()));
                }
                let map = match &self.metric {
                    Metric::Reached(_) => &s.orders.reached,
                    _ => &s.orders.by_state,
                };
                plain(map.get(state).copied().unwrap_or(0) as f64)
            }
            Metric::Dist { of, stat } => {
                let dist = match of {
                    DistOf::OrderDuration => &s.lifecycle.order_duration_ms,
                    DistOf::FlowDuration => &s.lifecycle.flow_duration_ms,
                    DistOf::PollsPerOrder => &s.lifecycle.polls_per_order,
                    DistOf::TimeTo(state) => {
                        let times = &s.lifecycle.time_to_state;
                        match times.iter().find(|(name, _)| name == state) {
                            Some((_, dist)) => dist,
                            None => {
                                return Err(missing(
                                    "time to state",
                                    state,
                                    "",
                                    "states",
                                    times.iter().map(|(name, _)| name.as_str()),
                                ));
                            }
                        }
                    }
                };
                if dist.count == 0 {
                    return Err(format!("no samples of {of} in this run"));
                }
                plain(stat.of(dist))
            }
            Metric::Duration => plain(s.duration.as_secs_f64() * 1000.0),
        }
    }

    fn measure_steps(
        &self,
        s: &Summary,
        stat: StepStat,
        target: &StepTarget,
    ) -> Result<Measured, String> {
        let (steps, context): (&[StepStats], String) = match &target.order_type {
            None => (&s.steps, String::new()),
            Some(ty) => match s.by_type.iter().find(|(name, _)| name == ty) {
                Some((_, steps)) => (steps, format!(" for type `{ty}`")),
                None => {
                    return Err(missing(
                        "order type",
                        ty,
                        "",
                        "types",
                        s.by_type.iter().map(|(name, _)| name.as_str()),
                    ));
                }
            },
        };
        let Some(name) = &target.step else {
            let candidates = steps
                .iter()
                .filter(|st| !stat.is_latency() || st.count > 0)
                .map(|st| (st, stat.of(st)));
            let worst = candidates.max_by(|(_, a), (_, b)| {
                self.op
                    .badness(*a, self.limit.value)
                    .total_cmp(&self.op.badness(*b, self.limit.value))
            });
            return match worst {
                Some((st, value)) => Ok(Measured {
                    value,
                    worst: Some(st.name.clone()),
                }),
                None if stat.is_latency() && !steps.is_empty() => {
                    Err(format!("no step has requests{context} in this run"))
                }
                None => Err(format!("no steps{context} in this run")),
            };
        };
        let Some(step) = steps.iter().find(|st| &st.name == name) else {
            return Err(missing(
                "step",
                name,
                &context,
                "steps",
                steps.iter().map(|st| st.name.as_str()),
            ));
        };
        if stat.is_latency() && step.count == 0 {
            return Err(format!(
                "step `{name}`{context} has no requests in this run"
            ));
        }
        Ok(Measured {
            value: stat.of(step),
            worst: None,
        })
    }
}

/// A measured value and, for `*`, the step it came from.
struct Measured {
    value: f64,
    worst: Option<String>,
}

/// Every state the run saw.
fn known_states(s: &Summary) -> BTreeSet<&str> {
    let mut states: BTreeSet<&str> = s.orders.reached.keys().map(String::as_str).collect();
    states.extend(s.orders.by_state.keys().map(String::as_str));
    for t in &s.lifecycle.transitions {
        states.insert(t.to.as_str());
        if !t.from.is_empty() {
            states.insert(t.from.as_str());
        }
    }
    states.extend(s.lifecycle.time_to_state.iter().map(|(n, _)| n.as_str()));
    states
}

/// "no step named `x` in this run (steps: a, b, c)", with a hint when a name is close.
fn missing<'a>(
    what: &str,
    name: &str,
    context: &str,
    plural: &str,
    have: impl Iterator<Item = &'a str>,
) -> String {
    let have: Vec<&str> = have.collect();
    let list = if have.is_empty() {
        "none".to_string()
    } else {
        have.join(", ")
    };
    let mut out = format!("no {what} named `{name}`{context} in this run ({plural}: {list})");
    if let Some(close) = closest(name, have.iter().copied()) {
        out.push_str(&format!("; did you mean `{close}`?"));
    }
    out
}

/// The candidate most like `name`, if any is close enough.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| {
            let (a, b) = (c.to_ascii_lowercase(), name.to_ascii_lowercase());
            let score = if a == b || strsim::damerau_levenshtein(&a, &b) <= 1 {
                1.0
            } else {
                strsim::jaro_winkler(&a, &b)
            };
            (c, score)
        })
        .filter(|(c, score)| *score >= 0.85 && *c != name)
        .min_by(|a, b| b.1.total_cmp(&a.1)) // the first of equally close names
        .map(|(c, _)| c)
}

/// A number for people: about four significant digits, no trailing zeros.
fn number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let magnitude = v.abs().log10().floor() as i32;
    let precision = (3 - magnitude).clamp(0, 12) as usize;
    let s = format!("{v:.precision$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A number followed by its unit as it reads in a detail: `500 ms`, `1%`, `3`.
fn with_unit(number: &str, unit: Unit) -> String {
    match unit {
        Unit::Bare => number.to_string(),
        Unit::Percent => format!("{number}%"),
        unit => format!("{number} {}", unit.suffix()),
    }
}

/// What a threshold measures.
#[derive(Debug, Clone, PartialEq)]
enum Metric {
    Step { stat: StepStat, target: StepTarget },
    Requests,
    Errors,
    ErrorRate,
    Orders(OrderField),
    Reached(String),
    State(String),
    Dist { of: DistOf, stat: DistStat },
    Duration,
}

impl Metric {
    fn kind(&self) -> Kind {
        match self {
            Metric::Step { stat, .. } => stat.kind(),
            Metric::Requests | Metric::Errors => Kind::Count,
            Metric::ErrorRate => Kind::Rate,
            Metric::Orders(_) | Metric::Reached(_) | Metric::State(_) => Kind::Count,
            Metric::Dist {
                of: DistOf::PollsPerOrder,
                ..
            } => Kind::Count,
            Metric::Dist { .. } | Metric::Duration => Kind::Time,
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Step { stat, target } => write!(f, "{}({target})", stat.name()),
            Metric::Requests => f.write_str("requests"),
            Metric::Errors => f.write_str("errors"),
            Metric::ErrorRate => f.write_str("error_rate"),
            Metric::Orders(field) => f.write_str(match field {
                OrderField::Total => "orders.total",
                OrderField::Created => "orders.created",
                OrderField::Failed => "failed",
                OrderField::Stranded => "stranded",
                OrderField::Interrupted => "interrupted",
            }),
            Metric::Reached(state) => write!(f, "reached({state})"),
            Metric::State(state) => write!(f, "state({state})"),
            Metric::Dist { of, stat } => write!(f, "{of}.{}", stat.name()),
            Metric::Duration => f.write_str("duration"),
        }
    }
}

/// Which steps a step metric looks at.
#[derive(Debug, Clone, PartialEq)]
struct StepTarget {
    /// `Some` for `TYPE/STEP`.
    order_type: Option<String>,
    /// `None` for `*`.
    step: Option<String>,
}

impl fmt::Display for StepTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ty) = &self.order_type {
            write!(f, "{ty}/")?;
        }
        f.write_str(self.step.as_deref().unwrap_or("*"))
    }
}

/// A statistic of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepStat {
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
    Mean,
    Stddev,
    Count,
    Errors,
    ErrorRate,
}

impl StepStat {
    fn parse(name: &str) -> Option<StepStat> {
        Some(match name {
            "p50" => StepStat::P50,
            "p90" => StepStat::P90,
            "p95" => StepStat::P95,
            "p99" => StepStat::P99,
            "p99.9" => StepStat::P999,
            "max" => StepStat::Max,
            "mean" => StepStat::Mean,
            "stddev" => StepStat::Stddev,
            "count" => StepStat::Count,
            "errors" => StepStat::Errors,
            "error_rate" => StepStat::ErrorRate,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            StepStat::P50 => "p50",
            StepStat::P90 => "p90",
            StepStat::P95 => "p95",
            StepStat::P99 => "p99",
            StepStat::P999 => "p99.9",
            StepStat::Max => "max",
            StepStat::Mean => "mean",
            StepStat::Stddev => "stddev",
            StepStat::Count => "count",
            StepStat::Errors => "errors",
            StepStat::ErrorRate => "error_rate",
        }
    }

    fn kind(self) -> Kind {
        match self {
            StepStat::Count | StepStat::Errors => Kind::Count,
            StepStat::ErrorRate => Kind::Rate,
            _ => Kind::Time,
        }
    }

    fn is_latency(self) -> bool {
        self.kind() == Kind::Time
    }

    fn of(self, st: &StepStats) -> f64 {
        match self {
            StepStat::P50 => st.p50_ms,
            StepStat::P90 => st.p90_ms,
            StepStat::P95 => st.p95_ms,
            StepStat::P99 => st.p99_ms,
            StepStat::P999 => st.p999_ms,
            StepStat::Max => st.max_ms,
            StepStat::Mean => st.mean_ms,
            StepStat::Stddev => st.stddev_ms,
            StepStat::Count => st.count as f64,
            StepStat::Errors => st.errors as f64,
            StepStat::ErrorRate if st.count == 0 => 0.0,
            StepStat::ErrorRate => st.errors as f64 / st.count as f64,
        }
    }
}

/// An order total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderField {
    Total,
    Created,
    Failed,
    Stranded,
    Interrupted,
}

/// A lifecycle distribution.
#[derive(Debug, Clone, PartialEq)]
enum DistOf {
    OrderDuration,
    FlowDuration,
    PollsPerOrder,
    TimeTo(String),
}

impl fmt::Display for DistOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DistOf::OrderDuration => f.write_str("order_duration"),
            DistOf::FlowDuration => f.write_str("flow_duration"),
            DistOf::PollsPerOrder => f.write_str("polls_per_order"),
            DistOf::TimeTo(state) => write!(f, "time_to({state})"),
        }
    }
}

/// A statistic of a lifecycle distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DistStat {
    Mean,
    P50,
    P90,
    P95,
    P99,
    Max,
}

impl DistStat {
    fn parse(name: &str) -> Option<DistStat> {
        Some(match name {
            "mean" => DistStat::Mean,
            "p50" => DistStat::P50,
            "p90" => DistStat::P90,
            "p95" => DistStat::P95,
            "p99" => DistStat::P99,
            "max" => DistStat::Max,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            DistStat::Mean => "mean",
            DistStat::P50 => "p50",
            DistStat::P90 => "p90",
            DistStat::P95 => "p95",
            DistStat::P99 => "p99",
            DistStat::Max => "max",
        }
    }

    fn of(self, d: &Dist) -> f64 {
        match self {
            DistStat::Mean => d.mean,
            DistStat::P50 => d.p50,
            DistStat::P90 => d.p90,
            DistStat::P95 => d.p95,
            DistStat::P99 => d.p99,
            DistStat::Max => d.max,
        }
    }
}

/// What a metric's value is, which decides the units its limit may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Milliseconds.
    Time,
    /// A fraction (0.01 = 1%).
    Rate,
    /// A plain number.
    Count,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Time => "a time; use ms, s, m or h, or a bare number of ms",
            Kind::Rate => "a rate; use %, or a bare fraction (0.01 = 1%)",
            Kind::Count => "a count; use a bare number",
        }
    }

    fn accepts(self, unit: Unit) -> bool {
        match unit {
            Unit::Bare => true,
            Unit::Ms | Unit::S | Unit::M | Unit::H => self == Kind::Time,
            Unit::Percent => self == Kind::Rate,
        }
    }
}

/// The unit a limit was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Bare,
    Ms,
    S,
    M,
    H,
    Percent,
}

impl Unit {
    fn parse(s: &str) -> Option<Unit> {
        Some(match s {
            "" => Unit::Bare,
            "ms" => Unit::Ms,
            "s" => Unit::S,
            "m" => Unit::M,
            "h" => Unit::H,
            "%" => Unit::Percent,
            _ => return None,
        })
    }

    fn suffix(self) -> &'static str {
        match self {
            Unit::Bare => "",
            Unit::Ms => "ms",
            Unit::S => "s",
            Unit::M => "m",
            Unit::H => "h",
            Unit::Percent => "%",
        }
    }

    fn canonical(self, v: f64) -> f64 {
        match self {
            Unit::Bare | Unit::Ms => v,
            Unit::S => v * 1_000.0,
            Unit::M => v * 60_000.0,
            Unit::H => v * 3_600_000.0,
            Unit::Percent => v / 100.0,
        }
    }

    fn in_unit(self, v: f64) -> f64 {
        match self {
            Unit::Bare | Unit::Ms => v,
            Unit::S => v / 1_000.0,
            Unit::M => v / 60_000.0,
            Unit::H => v / 3_600_000.0,
            Unit::Percent => v * 100.0,
        }
    }
}

/// The limit: as written, and in the metric's canonical unit.
#[derive(Debug, Clone, PartialEq)]
struct Limit {
    /// The number as written.
    text: String,
    unit: Unit,
    /// In ms, a fraction or a count.
    value: f64,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            _ => return None,
        })
    }

    fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
            Op::Eq => actual == limit,
            Op::Ne => actual != limit,
        }
    }

    /// Orders values so that the largest is the one most likely to break the
    /// limit: if the largest holds, every value holds.
    fn badness(self, actual: f64, limit: f64) -> f64 {
        match self {
            Op::Lt | Op::Le => actual,
            Op::Gt | Op::Ge => -actual,
            Op::Eq => (actual - limit).abs(),
            Op::Ne => -(actual - limit).abs(),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        })
    }
}

/// A piece of the expression and where it is.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    start: usize,
}

impl Token<'_> {
    fn span(&self) -> (usize, usize) {
        (self.start, self.text.len())
    }
}

/// A hand-written parser over the expression, tracking byte offsets for labels.
struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn threshold(mut self) -> Result<Threshold, ThresholdError> {
        self.skip_ws();
        if self.at_end() {
            return Err(self.error(
                (self.pos, 0),
                "empty threshold, expected `METRIC OP VALUE`".into(),
                "expected a metric here",
            ));
        }
        let metric = self.metric()?;
        self.skip_ws();
        let op_token = self.op_token();
        let Some(op) = Op::parse(op_token.text) else {
            return Err(if op_token.text.is_empty() {
                self.error(
                    (self.pos, 0),
                    format!("expected an operator (<, <=, >, >=, ==, !=) after `{metric}`"),
                    "expected an operator here",
                )
            } else {
                self.error(
                    op_token.span(),
                    format!(
                        "`{}` is not an operator; expected <, <=, >, >=, == or !=",
                        op_token.text
                    ),
                    "unknown operator",
                )
                .hint((op_token.text == "=").then(|| "use `==` to compare for equality".into()))
            });
        };
        self.skip_ws();
        let limit = self.limit(&metric, op)?;
        self.skip_ws();
        if !self.at_end() {
            let rest = self.src[self.pos..].trim_end();
            return Err(self.error(
                (self.pos, rest.len()),
                format!("unexpected `{rest}` after the value"),
                "nothing may follow the value",
            ));
        }
        Ok(Threshold {
            expr: self.src.to_string(),
            metric,
            op,
            limit,
        })
    }

    /// METRIC: a name, an optional `(ARG)` and an optional `.STAT` after it.
    fn metric(&mut self) -> Result<Metric, ThresholdError> {
        let name = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if name.text.is_empty() {
            let token = self.take_while(|c| !c.is_whitespace());
            return Err(self.error(
                token.span(),
                format!("expected a metric, found `{}`", token.text),
                "expected a metric here",
            ));
        }
        let after_name = self.pos;
        self.skip_ws();
        let arg = if self.peek() == Some('(') {
            let open = self.pos;
            let Some(len) = self.src[open..].find(')') else {
                return Err(self.error(
                    (open, 1),
                    format!("`(` after `{}` is never closed", name.text),
                    "opened here",
                ));
            };
            self.pos = open + len + 1;
            Some((
                Token {
                    text: &self.src[open + 1..open + len],
                    start: open + 1,
                },
                Token {
                    text: &self.src[open..=open + len],
                    start: open,
                },
            ))
        } else {
            self.pos = after_name;
            None
        };
        let suffix = if arg.is_some() && self.peek() == Some('.') {
            let dot = self.pos;
            self.pos += 1;
            let stat = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            Some((
                stat,
                Token {
                    text: &self.src[dot..self.pos],
                    start: dot,
                },
            ))
        } else {
            None
        };
        self.resolve(name, arg, suffix)
    }

    /// Turns the pieces of a metric into a [`Metric`], or says which piece is wrong.
    fn resolve(
        &self,
        name: Token<'a>,
        arg: Option<(Token<'a>, Token<'a>)>,
        suffix: Option<(Token<'a>, Token<'a>)>,
    ) -> Result<Metric, ThresholdError> {
        let n = name.text;
        let no_suffix = |metric: Metric| match suffix {
            Some((_, whole)) => Err(self.error(
                whole.span(),
                format!("unexpected `{}` after `{metric}`", whole.text),
                "not part of this metric",
            )),
            None => Ok(metric),
        };
        let no_arg = |metric: Metric| match arg {
            Some((_, parens)) => Err(self.error(
                parens.span(),
                format!("`{n}` takes no argument"),
                "remove this",
            )),
            None => Ok(metric),
        };
        let needs_arg = |what: &str, example: &str| {
            self.error(
                name.span(),
                format!("`{n}` needs {what} in parentheses, e.g. `{example}`"),
                "missing its argument",
            )
        };

        if let Some(stat) = StepStat::parse(n) {
            return match arg {
                Some((inner, parens)) => no_suffix(Metric::Step {
                    stat,
                    target: self.step_target(inner, parens)?,
                }),
                None => match stat {
                    StepStat::Errors => Ok(Metric::Errors),
                    StepStat::ErrorRate => Ok(Metric::ErrorRate),
                    _ => Err(needs_arg("a step", &format!("{n}(create)"))),
                },
            };
        }
        if let Some(field) = match n {
            "orders.total" => Some(OrderField::Total),
            "orders.created" => Some(OrderField::Created),
            "failed" | "orders.failed" => Some(OrderField::Failed),
            "stranded" | "orders.stranded" => Some(OrderField::Stranded),
            "interrupted" | "orders.interrupted" => Some(OrderField::Interrupted),
            _ => None,
        } {
            return no_arg(Metric::Orders(field));
        }
        match n {
            "requests" => return no_arg(Metric::Requests),
            "duration" => return no_arg(Metric::Duration),
            "reached" | "state" => {
                let Some((inner, parens)) = arg else {
                    return Err(needs_arg("a state", &format!("{n}(Accepted)")));
                };
                let state = self.state_name(inner, parens)?;
                return no_suffix(if n == "reached" {
                    Metric::Reached(state)
                } else {
                    Metric::State(state)
                });
            }
            "time_to" => {
                let Some((inner, parens)) = arg else {
                    return Err(needs_arg("a state", "time_to(Accepted).p95"));
                };
                let state = self.state_name(inner, parens)?;
                let of = DistOf::TimeTo(state);
                let Some((stat, whole)) = suffix else {
                    return Err(self.error(
                        (parens.start + parens.text.len(), 0),
                        format!("`{of}` needs a statistic, e.g. `{of}.p95`"),
                        "expected .mean, .p50, .p90, .p95, .p99 or .max here",
                    ));
                };
                return self.dist_stat(of, stat, whole);
            }
            _ => {}
        }
        let (base, stat) = match n.split_once('.') {
            Some((base, stat)) => (base, Some(stat)),
            None => (n, None),
        };
        let of = match base {
            "order_duration" => Some(DistOf::OrderDuration),
            "flow_duration" => Some(DistOf::FlowDuration),
            "polls_per_order" => Some(DistOf::PollsPerOrder),
            _ => None,
        };
        if let Some(of) = of {
            let Some(stat) = stat else {
                return Err(self.error(
                    name.span(),
                    format!("`{of}` needs a statistic, e.g. `{of}.p95`"),
                    "expected .mean, .p50, .p90, .p95, .p99 or .max after this",
                ));
            };
            let stat_token = Token {
                text: stat,
                start: name.start + base.len() + 1,
            };
            let metric = self.dist_stat(of, stat_token, stat_token)?;
            return no_suffix(metric).and_then(no_arg);
        }
        Err(self
            .error(
                name.span(),
                format!("unknown metric `{n}`"),
                "unknown metric",
            )
            .hint(closest(n, METRIC_NAMES.iter().copied()).map(|c| format!("did you mean `{c}`?"))))
    }

    fn dist_stat(
        &self,
        of: DistOf,
        stat: Token<'a>,
        whole: Token<'a>,
    ) -> Result<Metric, ThresholdError> {
        match DistStat::parse(stat.text) {
            Some(stat) => Ok(Metric::Dist { of, stat }),
            None => Err(self.error(
                if stat.text.is_empty() {
                    whole.span()
                } else {
                    stat.span()
                },
                format!(
                    "unknown statistic `{}` of `{of}`; use mean, p50, p90, p95, p99 or max",
                    stat.text
                ),
                "unknown statistic",
            )),
        }
    }

    /// STEP, TYPE/STEP, * or TYPE/*.
    fn step_target(
        &self,
        inner: Token<'a>,
        parens: Token<'a>,
    ) -> Result<StepTarget, ThresholdError> {
        let trimmed = |t: &'a str, start: usize| {
            let lead = t.len() - t.trim_start().len();
            Token {
                text: t.trim(),
                start: start + lead,
            }
        };
        let (ty, step) = match inner.text.split_once('/') {
            Some((ty, step)) => (
                Some(trimmed(ty, inner.start)),
                trimmed(step, inner.start + ty.len() + 1),
            ),
            None => (None, trimmed(inner.text, inner.start)),
        };
        if let Some(ty) = ty {
            if ty.text.is_empty() {
                return Err(self.error(
                    (ty.start, 0),
                    "empty order type before `/`".into(),
                    "expected an order type here",
                ));
            }
            if ty.text == "*" {
                return Err(self.error(
                    ty.span(),
                    "the order type cannot be `*`; leave it out to look at every type".into(),
                    "name an order type",
                ));
            }
        }
        if step.text.is_empty() {
            return Err(self.error(
                if ty.is_some() {
                    (step.start, 0)
                } else {
                    parens.span()
                },
                "missing step name; use a step name, TYPE/STEP or *".into(),
                "expected a step here",
            ));
        }
        Ok(StepTarget {
            order_type: ty.map(|t| t.text.to_string()),
            step: (step.text != "*").then(|| step.text.to_string()),
        })
    }

    fn state_name(&self, inner: Token<'a>, parens: Token<'a>) -> Result<String, ThresholdError> {
        let state = inner.text.trim();
        if state.is_empty() {
            return Err(self.error(
                parens.span(),
                "missing state name".into(),
                "expected a state here",
            ));
        }
        Ok(state.to_string())
    }

    /// The run of operator characters at the cursor, or the next word if there is none.
    fn op_token(&mut self) -> Token<'a> {
        let op = self.take_while(|c| matches!(c, '<' | '>' | '=' | '!'));
        if op.text.is_empty() {
            let start = self.pos;
            let word = self.take_while(|c| !c.is_whitespace());
            self.pos = start;
            return Token {
                text: word.text,
                start,
            };
        }
        op
    }

    /// VALUE: a number and an optional unit that fits the metric.
    fn limit(&mut self, metric: &Metric, op: Op) -> Result<Limit, ThresholdError> {
        let expected =
            format!("expected a number with an optional unit (ms, s, m, h, %) after `{op}`");
        let token = self.take_while(|c| !c.is_whitespace());
        if token.text.is_empty() {
            return Err(self.error((self.pos, 0), expected, "expected a value here"));
        }
        let digits = token
            .text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(token.text.len());
        let (num, unit_text) = token.text.split_at(digits);
        let value = num
            .parse::<f64>()
            .ok()
            .filter(|_| num.bytes().any(|b| b.is_ascii_digit()));
        let (Some(value), Some(unit)) = (value, Unit::parse(unit_text)) else {
            return Err(self.error(token.span(), expected, "not a number with a unit"));
        };
        let kind = metric.kind();
        if !kind.accepts(unit) {
            return Err(self.error(
                (token.start + digits, unit_text.len()),
                format!(
                    "`{unit_text}` does not fit `{metric}`, which is {}",
                    kind.describe()
                ),
                "wrong unit for this metric",
            ));
        }
        Ok(Limit {
            text: num.to_string(),
            unit,
            value: unit.canonical(value),
        })
    }

    fn error(&self, span: (usize, usize), message: String, label: &str) -> ThresholdError {
        ThresholdError::new(self.src, span, message, label)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn skip_ws(&mut self) {
        self.take_while(char::is_whitespace);
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> Token<'a> {
        let start = self.pos;
        let rest = &self.src[start..];
        let len = rest.find(|c: char| !f(c)).unwrap_or(rest.len());
        self.pos = start + len;
        Token {
            text: &self.src[start..start + len],
            start,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use miette::Diagnostic;

    use super::*;
    use crate::recorder::{Lifecycle, OrderCounts, Transition};

    fn step(name: &str, count: u64, errors: u64, p95_ms: f64) -> StepStats {
        StepStats {
            name: name.into(),
            count,
            errors,
            mean_ms: p95_ms / 2.0,
            p50_ms: p95_ms / 2.0,
            p95_ms,
            p99_ms: p95_ms * 1.5,
            max_ms: p95_ms * 2.0,
            statuses: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            error_classes: BTreeMap::new(),
            stddev_ms: 10.0,
            p90_ms: p95_ms * 0.9,
            p999_ms: p95_ms * 1.8,
        }
    }

    fn dist(count: u64, p95: f64) -> Dist {
        Dist {
            count,
            mean: p95 / 2.0,
            p50: p95 / 2.0,
            p90: p95 * 0.9,
            p95,
            p99: p95 * 1.1,
            max: p95 * 1.2,
        }
    }

    fn summary() -> Summary {
        Summary {
            scenario: "day_in_life".into(),
            target: "http://127.0.0.1:1".into(),
            seed: 1,
            speed: 1.0,
            started_at: "2024-01-01T00:00:00Z".into(),
            duration: Duration::from_secs(95),
            orders: OrderCounts {
                total: 200,
                created: 198,
                failed: 2,
                interrupted: 0,
                stranded: 1,
                by_state: BTreeMap::from([
                    ("Ended".into(), 168),
                    ("Cancelled".into(), 29),
                    ("Pending".into(), 1),
                ]),
                reached: BTreeMap::from([
                    ("Pending".into(), 198),
                    ("Accepted".into(), 197),
                    ("Activated".into(), 168),
                    ("Ended".into(), 168),
                    ("Cancelled".into(), 29),
                ]),
            },
            steps: vec![
                step("create", 200, 2, 612.3),
                step("details", 1000, 0, 40.0),
                step("activate", 168, 0, 120.0),
                step("never", 0, 0, 0.0),
            ],
            by_type: vec![
                (
                    "activate".into(),
                    vec![
                        step("create", 170, 2, 700.0),
                        step("activate", 168, 0, 120.0),
                    ],
                ),
                ("accepted".into(), vec![step("create", 30, 0, 300.0)]),
            ],
            lifecycle: Lifecycle {
                transitions: vec![Transition {
                    from: "Accepted".into(),
                    to: "Activated".into(),
                    count: 168,
                }],
                time_to_state: vec![("Accepted".into(), dist(197, 5_500.0))],
                order_duration_ms: dist(197, 70_000.0),
                flow_duration_ms: dist(198, 9_000.0),
                polls_per_order: dist(198, 3.0),
                ..Lifecycle::default()
            },
            ..Summary::default()
        }
    }

    fn ok(expr: &str) -> Threshold {
        parse(expr).unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
    }

    fn err(expr: &str) -> ThresholdError {
        match parse(expr) {
            Ok(t) => panic!("{expr:?} should not parse, got {t:?}"),
            Err(e) => e,
        }
    }

    /// The (offset, len) of the error's only label, read through miette.
    fn label(e: &ThresholdError) -> (usize, usize) {
        let labels: Vec<_> = e.labels().expect("a label").collect();
        assert_eq!(labels.len(), 1, "{e}");
        (labels[0].offset(), labels[0].len())
    }

    fn eval(expr: &str) -> ThresholdOutcome {
        ok(expr).evaluate(&summary())
    }

    #[test]
    fn every_step_latency_statistic_parses_with_its_step() {
        for (name, stat) in [
            ("p50", StepStat::P50),
            ("p90", StepStat::P90),
            ("p95", StepStat::P95),
            ("p99", StepStat::P99),
            ("p99.9", StepStat::P999),
            ("max", StepStat::Max),
            ("mean", StepStat::Mean),
            ("stddev", StepStat::Stddev),
        ] {
            let t = ok(&format!("{name}(create) < 500ms"));
            assert_eq!(
                t.metric,
                Metric::Step {
                    stat,
                    target: StepTarget {
                        order_type: None,
                        step: Some("create".into())
                    }
                }
            );
            assert_eq!(t.op, Op::Lt);
            assert_eq!(t.limit.value, 500.0);
        }
    }

    #[test]
    fn a_step_may_be_typed_or_a_wildcard() {
        let target = |expr: &str| match ok(expr).metric {
            Metric::Step { target, .. } => target,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            target("p95(activate/create) < 1s"),
            StepTarget {
                order_type: Some("activate".into()),
                step: Some("create".into())
            }
        );
        assert_eq!(
            target("p95(*) < 1s"),
            StepTarget {
                order_type: None,
                step: None
            }
        );
        assert_eq!(
            target("p95( accepted / * ) < 1s"),
            StepTarget {
                order_type: Some("accepted".into()),
                step: None
            }
        );
    }

    #[test]
    fn counts_rates_and_globals_parse() {
        let metric = |expr: &str| ok(expr).metric;
        assert!(matches!(
            metric("count(create) >= 200"),
            Metric::Step {
                stat: StepStat::Count,
                ..
            }
        ));
        assert!(matches!(
            metric("errors(create) == 0"),
            Metric::Step {
                stat: StepStat::Errors,
                ..
            }
        ));
        assert!(matches!(
            metric("error_rate(create) < 1%"),
            Metric::Step {
                stat: StepStat::ErrorRate,
                ..
            }
        ));
        assert_eq!(metric("requests > 10"), Metric::Requests);
        assert_eq!(metric("errors != 3"), Metric::Errors);
        assert_eq!(metric("error_rate<=0.01"), Metric::ErrorRate);
    }

    #[test]
    fn order_metrics_parse() {
        let metric = |expr: &str| ok(expr).metric;
        assert_eq!(
            metric("orders.total >= 200"),
            Metric::Orders(OrderField::Total)
        );
        assert_eq!(
            metric("orders.created == 200"),
            Metric::Orders(OrderField::Created)
        );
        assert_eq!(metric("failed == 0"), Metric::Orders(OrderField::Failed));
        assert_eq!(
            metric("orders.failed == 0"),
            Metric::Orders(OrderField::Failed)
        );
        assert_eq!(
            metric("stranded == 0"),
            Metric::Orders(OrderField::Stranded)
        );
        assert_eq!(
            metric("interrupted == 0"),
            Metric::Orders(OrderField::Interrupted)
        );
        assert_eq!(
            metric("reached(Activated) == 170"),
            Metric::Reached("Activated".into())
        );
        assert_eq!(
            metric("state(Pending) == 0"),
            Metric::State("Pending".into())
        );
    }

    #[test]
    fn lifecycle_metrics_parse_with_every_statistic() {
        for (stat_name, stat) in [
            ("mean", DistStat::Mean),
            ("p50", DistStat::P50),
            ("p90", DistStat::P90),
            ("p95", DistStat::P95),
            ("p99", DistStat::P99),
            ("max", DistStat::Max),
        ] {
            for (base, of) in [
                ("order_duration", DistOf::OrderDuration),
                ("flow_duration", DistOf::FlowDuration),
                ("polls_per_order", DistOf::PollsPerOrder),
                ("time_to(Accepted)", DistOf::TimeTo("Accepted".into())),
            ] {
                let unit = if of == DistOf::PollsPerOrder { "" } else { "s" };
                let t = ok(&format!("{base}.{stat_name} < 10{unit}"));
                assert_eq!(t.metric, Metric::Dist { of, stat });
            }
        }
        assert_eq!(ok("duration < 2m").metric, Metric::Duration);
    }

    #[test]
    fn every_operator_parses() {
        for (text, op) in [
            ("<", Op::Lt),
            ("<=", Op::Le),
            (">", Op::Gt),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("!=", Op::Ne),
        ] {
            assert_eq!(ok(&format!("requests {text} 1")).op, op);
        }
    }

    #[test]
    fn units_convert_to_milliseconds_and_fractions() {
        let value = |expr: &str| ok(expr).limit.value;
        assert_eq!(value("p95(create) < 500ms"), 500.0);
        assert_eq!(value("p95(create) < 500"), 500.0);
        assert_eq!(value("p95(create) < 1.5s"), 1_500.0);
        assert_eq!(value("duration < 2m"), 120_000.0);
        assert_eq!(value("duration < 1h"), 3_600_000.0);
        assert_eq!(value("error_rate < 1%"), 0.01);
        assert_eq!(value("error_rate < 7%"), 0.07);
        assert_eq!(value("error_rate < 0.05"), 0.05);
        assert_eq!(value("requests > .5"), 0.5);
        assert_eq!(
            ok("  error_rate   <   1%  ").expr(),
            "  error_rate   <   1%  "
        );
    }

    #[test]
    fn an_empty_expression_is_an_error_at_its_start() {
        let e = err("");
        assert_eq!(label(&e), (0, 0));
        assert!(e.to_string().contains("empty threshold"), "{e}");
        assert_eq!(label(&err("   ")), (3, 0));
    }

    #[test]
    fn an_unknown_metric_is_labelled_and_suggests_a_close_name() {
        let e = err("p96(create) < 5ms");
        assert_eq!(label(&e), (0, 3));
        assert!(e.to_string().contains("unknown metric `p96`"), "{e}");
        assert!(
            e.help()
                .unwrap()
                .to_string()
                .contains("did you mean `p90`?")
        );
        assert_eq!(label(&err("latency < 5ms")), (0, 7));
        assert_eq!(label(&err("< 5ms")), (0, 1));
    }

    #[test]
    fn a_statistic_without_its_step_or_state_is_labelled_at_the_name() {
        assert_eq!(label(&err("p95 < 5ms")), (0, 3));
        assert_eq!(label(&err("reached == 3")), (0, 7));
        assert_eq!(label(&err("order_duration < 5s")), (0, 14));
        let e = err("order_duration.p42 < 5s");
        assert_eq!(label(&e), (15, 3));
        let e = err("time_to(Accepted).p42 < 5s");
        assert_eq!(label(&e), (18, 3));
        let e = err("time_to(Accepted) < 5s");
        assert_eq!(label(&e), (17, 0));
    }

    #[test]
    fn a_stray_argument_or_bad_step_is_labelled() {
        let e = err("requests(create) > 1");
        assert_eq!(label(&e), (8, 8));
        assert!(e.to_string().contains("takes no argument"), "{e}");
        assert_eq!(label(&err("p95(create < 5ms")), (3, 1));
        assert_eq!(label(&err("p95() < 5ms")), (3, 2));
        assert_eq!(label(&err("p95(*/create) < 5ms")), (4, 1));
        assert_eq!(label(&err("p95(create).p95 < 5ms")), (11, 4));
    }

    #[test]
    fn a_bad_operator_is_labelled() {
        let e = err("p95(create) => 5ms");
        assert_eq!(label(&e), (12, 2));
        assert!(e.to_string().contains("`=>` is not an operator"), "{e}");
        let e = err("p95(create) = 5ms");
        assert_eq!(label(&e), (12, 1));
        assert!(e.help().unwrap().to_string().contains("=="));
        assert_eq!(label(&err("p95(create) under 5ms")), (12, 5));
        let e = err("p95(create)");
        assert_eq!(label(&e), (11, 0));
        assert!(e.to_string().contains("expected an operator"), "{e}");
    }

    #[test]
    fn a_missing_value_is_labelled_at_the_end() {
        let e = err("p95(create) <");
        assert_eq!(label(&e), (13, 0));
        assert_eq!(
            e.to_string(),
            "threshold \"p95(create) <\": expected a number with an optional unit \
             (ms, s, m, h, %) after `<`"
        );
        assert_eq!(label(&err("p95(create) <   ")), (16, 0));
    }

    #[test]
    fn a_malformed_value_is_labelled() {
        let e = err("p95(create) < 5xx");
        assert_eq!(label(&e), (14, 3));
        assert_eq!(
            e.to_string(),
            "threshold \"p95(create) < 5xx\": expected a number with an optional unit \
             (ms, s, m, h, %) after `<`"
        );
        assert_eq!(label(&err("p95(create) < ms")), (14, 2));
        assert_eq!(label(&err("p95(create) < 1.2.3ms")), (14, 7));
        let e = err("p95(create) < 5ms or more");
        assert_eq!(label(&e), (18, 7));
        assert!(e.to_string().contains("unexpected `or more`"), "{e}");
    }

    #[test]
    fn a_unit_of_the_wrong_kind_is_labelled_at_the_unit() {
        let e = err("p95(create) < 5%");
        assert_eq!(label(&e), (15, 1));
        assert!(e.to_string().contains("a time"), "{e}");
        let e = err("error_rate < 5ms");
        assert_eq!(label(&e), (14, 2));
        assert!(e.to_string().contains("a rate"), "{e}");
        let e = err("count(create) > 1s");
        assert_eq!(label(&e), (17, 1));
        assert!(e.to_string().contains("a count"), "{e}");
        assert_eq!(label(&err("polls_per_order.max < 3ms")), (23, 2));
    }

    #[test]
    fn errors_carry_the_grammar_as_help() {
        let e = err("nonsense");
        let help = e.help().unwrap().to_string();
        assert!(help.contains("METRIC OP VALUE"), "{help}");
        assert!(help.contains("p99.9"), "{help}");
        assert_eq!(e.expr(), "nonsense");
    }

    #[test]
    fn a_latency_over_its_limit_fails_with_a_readable_detail() {
        let o = eval("p95(create) < 500ms");
        assert!(!o.passed);
        assert_eq!(o.actual, Some(612.3));
        assert_eq!(o.detail, "p95(create) = 612.3 ms, limit < 500 ms");
        assert_eq!(o.expr, "p95(create) < 500ms");
        let o = eval("p95(create) < 1s");
        assert!(o.passed);
        assert_eq!(o.detail, "p95(create) = 0.6123 s, limit < 1 s");
    }

    #[test]
    fn rates_read_in_percent_when_the_limit_is_in_percent() {
        let o = eval("error_rate(create) < 1%");
        assert!(!o.passed);
        assert_eq!(o.detail, "error_rate(create) = 1%, limit < 1%");
        let o = eval("error_rate < 1%");
        // 2 errors in 1368 requests
        assert!(o.passed, "{}", o.detail);
        assert_eq!(o.detail, "error_rate = 0.1462%, limit < 1%");
        let o = eval("error_rate < 0.001");
        assert!(!o.passed);
        assert_eq!(o.detail, "error_rate = 0.001462, limit < 0.001");
    }

    #[test]
    fn counts_orders_and_lifecycle_evaluate_against_the_summary() {
        assert!(eval("requests == 1368").passed);
        assert!(eval("errors(create) == 2").passed);
        assert!(eval("count(activate/create) == 170").passed);
        assert!(eval("p95(accepted/create) < 500ms").passed);
        assert!(eval("orders.total >= 200").passed);
        let o = eval("failed == 0");
        assert!(!o.passed);
        assert_eq!(o.detail, "failed = 2, limit == 0");
        assert!(eval("reached(Activated) == 168").passed);
        assert!(eval("state(Pending) <= 1").passed);
        assert!(eval("order_duration.p95 < 2m").passed);
        assert!(!eval("time_to(Accepted).p95 < 5s").passed);
        assert!(eval("polls_per_order.max <= 4").passed);
        let o = eval("duration < 2m");
        assert!(o.passed);
        assert_eq!(o.detail, "duration = 1.583 m, limit < 2 m");
        assert!(!eval("duration < 90s").passed);
    }

    #[test]
    fn a_state_seen_in_the_run_without_orders_counts_as_zero() {
        // Accepted was reached but no order is in it at the end.
        let o = eval("state(Accepted) == 0");
        assert!(o.passed, "{}", o.detail);
        assert_eq!(o.actual, Some(0.0));
    }

    #[test]
    fn a_missing_step_fails_and_lists_the_steps() {
        let o = eval("p95(craete) < 500ms");
        assert!(!o.passed);
        assert_eq!(o.actual, None);
        assert_eq!(
            o.detail,
            "no step named `craete` in this run (steps: create, details, activate, never); \
             did you mean `create`?"
        );
        let o = eval("p95(accepted/activate) < 500ms");
        assert!(!o.passed);
        assert_eq!(
            o.detail,
            "no step named `activate` for type `accepted` in this run (steps: create)"
        );
        let o = eval("p95(bogus/create) < 500ms");
        assert_eq!(
            o.detail,
            "no order type named `bogus` in this run (types: activate, accepted)"
        );
    }

    #[test]
    fn a_missing_state_fails_and_lists_the_states() {
        let o = eval("reached(Shipped) > 0");
        assert!(!o.passed);
        assert_eq!(
            o.detail,
            "no state named `Shipped` in this run \
             (states: Accepted, Activated, Cancelled, Ended, Pending)"
        );
        let o = eval("time_to(Ended).p95 < 5s");
        assert!(!o.passed);
        assert_eq!(
            o.detail,
            "no time to state named `Ended` in this run (states: Accepted)"
        );
    }

    #[test]
    fn a_step_without_requests_has_no_latency() {
        let o = eval("p95(never) < 500ms");
        assert!(!o.passed);
        assert_eq!(o.detail, "step `never` has no requests in this run");
        assert!(eval("count(never) == 0").passed);
        let mut s = summary();
        s.lifecycle.order_duration_ms = Dist::default();
        let o = ok("order_duration.p95 < 1s").evaluate(&s);
        assert!(!o.passed);
        assert_eq!(o.detail, "no samples of order_duration in this run");
    }

    #[test]
    fn the_wildcard_takes_the_worst_step() {
        let o = eval("p95(*) < 500ms");
        assert!(!o.passed);
        assert_eq!(o.actual, Some(612.3));
        assert_eq!(
            o.detail,
            "p95(*) = 612.3 ms (worst: create), limit < 500 ms"
        );
        let o = eval("p95(*) < 700ms");
        assert!(o.passed);
        // the step without requests is left out of the minimum
        let o = eval("p95(*) > 50ms");
        assert!(!o.passed);
        assert_eq!(o.detail, "p95(*) = 40 ms (worst: details), limit > 50 ms");
        let o = eval("count(*) > 0");
        assert!(!o.passed);
        assert_eq!(o.detail, "count(*) = 0 (worst: never), limit > 0");
        let o = eval("p95(activate/*) < 650ms");
        assert!(!o.passed);
        assert_eq!(
            o.detail,
            "p95(activate/*) = 700 ms (worst: create), limit < 650 ms"
        );
        let mut s = summary();
        s.steps.clear();
        let o = ok("p95(*) < 1s").evaluate(&s);
        assert!(!o.passed);
        assert_eq!(o.detail, "no steps in this run");
    }

    #[test]
    fn numbers_read_with_about_four_significant_digits() {
        assert_eq!(number(612.3), "612.3");
        assert_eq!(number(500.0), "500");
        assert_eq!(number(0.004_2), "0.0042");
        assert_eq!(number(1.234_56), "1.235");
        assert_eq!(number(12_345.67), "12346");
    }
}
