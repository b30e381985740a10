//! What a parsed threshold is made of: the metric, the operator and the limit,
//! with the units a limit may take and how each part reads back.

use std::fmt;

/// What a threshold measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// `p95(STEP)`, `count(STEP)`, …
    Step { stat: StepStat, target: StepTarget },
    /// `requests`: attempts over all steps.
    Requests,
    /// `errors`: errored attempts over all steps.
    Errors,
    /// `error_rate`: errors / requests over all steps.
    ErrorRate,
    /// `checks`: the share of `.check(…)`s that held, over all steps.
    Checks,
    /// `success_rate`: the share of the population that neither failed nor was interrupted.
    SuccessRate,
    /// `population.total`, `failed`, …
    Population(PopulationField),
    /// `reached(STATE)`.
    Reached(String),
    /// `state(STATE)`.
    State(String),
    /// `lifetime.p95`, `time_to(STATE).max`, …
    Dist { of: DistOf, stat: DistStat },
    /// `duration`: the run's wall-clock time.
    Duration,
    /// `requests_per_second`: attempts per second over the active period.
    RequestsPerSecond,
    /// `population_per_second`: orders (or users) per second over the active period.
    PopulationPerSecond,
    /// `requests_retried`: requests that succeeded after a retry.
    RequestsRetried,
    /// `requests_failed`: requests whose last attempt failed.
    RequestsFailed,
    /// `counter(NAME)`: the sum of a script's counter.
    Counter(String),
}

impl Metric {
    /// Whether the metric is a time, a rate or a count.
    pub fn kind(&self) -> Kind {
        match self {
            Metric::Step { stat, .. } => stat.kind(),
            Metric::Requests
            | Metric::Errors
            | Metric::RequestsPerSecond
            | Metric::PopulationPerSecond
            | Metric::RequestsRetried
            | Metric::RequestsFailed
            | Metric::Counter(_) => Kind::Count,
            Metric::ErrorRate | Metric::Checks | Metric::SuccessRate => Kind::Rate,
            Metric::Population(_) | Metric::Reached(_) | Metric::State(_) => Kind::Count,
            Metric::Dist {
                of: DistOf::Polls | DistOf::Trend(_),
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
            Metric::Checks => f.write_str("checks"),
            Metric::SuccessRate => f.write_str("success_rate"),
            Metric::Population(field) => f.write_str(match field {
                PopulationField::Total => "population.total",
                PopulationField::Created => "population.created",
                PopulationField::Failed => "failed",
                PopulationField::Stranded => "stranded",
                PopulationField::Interrupted => "interrupted",
                PopulationField::Dropped => "dropped",
            }),
            Metric::Reached(state) => write!(f, "reached({state})"),
            Metric::State(state) => write!(f, "state({state})"),
            Metric::Dist { of, stat } => write!(f, "{of}.{}", stat.name()),
            Metric::Duration => f.write_str("duration"),
            Metric::RequestsPerSecond => f.write_str("requests_per_second"),
            Metric::PopulationPerSecond => f.write_str("population_per_second"),
            Metric::RequestsRetried => f.write_str("requests_retried"),
            Metric::RequestsFailed => f.write_str("requests_failed"),
            Metric::Counter(name) => write!(f, "counter({name})"),
        }
    }
}

/// Which steps a step metric looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct StepTarget {
    /// `Some` for `FLOW/STEP`.
    pub flow: Option<String>,
    /// `None` for `*`.
    pub step: Option<String>,
}

impl fmt::Display for StepTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ty) = &self.flow {
            write!(f, "{ty}/")?;
        }
        f.write_str(self.step.as_deref().unwrap_or("*"))
    }
}

/// A statistic of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStat {
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
    Checks,
}

impl StepStat {
    pub(super) fn parse(name: &str) -> Option<StepStat> {
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
            "checks" => StepStat::Checks,
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
            StepStat::Checks => "checks",
        }
    }

    fn kind(self) -> Kind {
        match self {
            StepStat::Count | StepStat::Errors => Kind::Count,
            StepStat::ErrorRate | StepStat::Checks => Kind::Rate,
            _ => Kind::Time,
        }
    }

    /// Whether this is a latency statistic (a time), which needs attempts.
    pub fn is_latency(self) -> bool {
        self.kind() == Kind::Time
    }
}

/// An order total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopulationField {
    Total,
    Created,
    Failed,
    Stranded,
    Interrupted,
    /// Arrivals the open load model did not start.
    Dropped,
}

/// A lifecycle distribution.
#[derive(Debug, Clone, PartialEq)]
pub enum DistOf {
    Lifetime,
    FlowDuration,
    /// The open load model's lateness against its schedule.
    StartLag,
    Polls,
    TimeTo(String),
    /// A `group(…)`'s duration.
    Group(String),
    /// A script's `trend(…)`.
    Trend(String),
}

impl fmt::Display for DistOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DistOf::Lifetime => f.write_str("lifetime"),
            DistOf::FlowDuration => f.write_str("flow_duration"),
            DistOf::StartLag => f.write_str("start_lag"),
            DistOf::Polls => f.write_str("polls"),
            DistOf::TimeTo(state) => write!(f, "time_to({state})"),
            DistOf::Group(name) => write!(f, "group({name})"),
            DistOf::Trend(name) => write!(f, "trend({name})"),
        }
    }
}

/// A statistic of a lifecycle distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistStat {
    Mean,
    P50,
    P90,
    P95,
    P99,
    Max,
}

impl DistStat {
    pub(super) fn parse(name: &str) -> Option<DistStat> {
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
}

/// What a metric's value is, which decides the units its limit may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Milliseconds.
    Time,
    /// A fraction (0.01 = 1%).
    Rate,
    /// A plain number.
    Count,
}

impl Kind {
    pub(super) fn describe(self) -> &'static str {
        match self {
            Kind::Time => "a time; use ms, s, m or h, or a bare number of ms",
            Kind::Rate => "a rate; use %, or a bare fraction (0.01 = 1%)",
            Kind::Count => "a count; use a bare number",
        }
    }

    pub(super) fn accepts(self, unit: Unit) -> bool {
        match unit {
            Unit::Bare => true,
            Unit::Ms | Unit::S | Unit::M | Unit::H => self == Kind::Time,
            Unit::Percent => self == Kind::Rate,
        }
    }
}

/// The unit a limit was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bare,
    Ms,
    S,
    M,
    H,
    Percent,
}

impl Unit {
    /// The unit as written after a number.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Bare => "",
            Unit::Ms => "ms",
            Unit::S => "s",
            Unit::M => "m",
            Unit::H => "h",
            Unit::Percent => "%",
        }
    }

    /// `v` in this unit, converted to the canonical one (ms, fraction, count).
    pub(super) fn canonical(self, v: f64) -> f64 {
        match self {
            Unit::Bare | Unit::Ms => v,
            Unit::S => v * 1_000.0,
            Unit::M => v * 60_000.0,
            Unit::H => v * 3_600_000.0,
            Unit::Percent => v / 100.0,
        }
    }

    /// `v` in the canonical unit, converted to this one.
    pub fn in_unit(self, v: f64) -> f64 {
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
pub struct Limit {
    /// The number as written.
    pub text: String,
    /// The unit it was written in.
    pub unit: Unit,
    /// In ms, a fraction or a count.
    pub value: f64,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    pub(super) fn parse(s: &str) -> Option<Op> {
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

    /// Whether `actual OP limit` is true.
    pub fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
            Op::Eq => actual == limit,
            Op::Ne => actual != limit,
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
