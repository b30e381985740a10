//! Thresholds: the pass/fail expression language (`s.threshold("p95(create) < 500ms")`,
//! as in k6): its grammar, the parsed [`Threshold`] and the errors of expressions that do not parse.
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
//! | `population.total` `population.created` | count | orders (or users, …) planned, created on the target (`orders.*` is the old name, kept one release) |
//! | `failed` `stranded` `interrupted` `dropped` (also `population.failed`, …) | count | the population (`dropped`: arrivals the open load model did not start, at its in-flight cap) |
//! | `reached(STATE)` | count | members that were ever in STATE |
//! | `state(STATE)` | count | members whose last known state is STATE |
//! | `lifetime.S` `flow_duration.S` | time | create to terminal, the flow; S is one of mean, p50, p90, p95, p99, max (`order_duration` is the old name of `lifetime`) |
//! | `start_lag.S` | time | how late the open load model started each iteration against its schedule |
//! | `polls.S` | count | poll requests per member that polled; same statistics (`polls_per_order` is the old name) |
//! | `time_to(STATE).S` | time | from create to first reaching STATE |
//! | `duration` | time | wall-clock duration of the run |
//! | `requests_per_second` `population_per_second` | count | over the active period (start to the last flow's end) |
//! | `requests_retried` `requests_failed` | count | requests that succeeded after a retry; requests whose last attempt failed |
//! | `group(NAME).S` | time | a `group(…)`'s duration |
//! | `trend(NAME).S` `counter(NAME)` | count | a script's own trend and counter |
//!
//! STEP is a step name (`create`), `FLOW/STEP` for one flow's steps
//! (`activate/create`), `*` for every step or `FLOW/*` for every step of a
//! flow. With `*` the threshold holds only when it holds for every step, and
//! the value reported is the worst one (the largest for `<`, the smallest for
//! `>`); steps without any attempt are left out of latency statistics.
//!
//! A unit that does not fit the metric's kind (`p95(create) < 1%`,
//! `error_rate < 5ms`) is a parse error.
//!
//! This module only parses: `recorder::verdict` checks a [`Threshold`] against
//! a run's summary.

mod parser;
mod types;

pub use types::{
    DistOf, DistStat, Kind, Limit, Metric, Op, PopulationField, StepStat, StepTarget, Unit,
};

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use miette::SourceSpan;

/// The grammar, shown as help with every parse error.
const GRAMMAR: &str = "\
a threshold is `METRIC OP VALUE`, e.g. `p95(create) < 500ms` or `error_rate < 1%`
  METRIC  p50|p90|p95|p99|p99.9|max|mean|stddev(STEP)   latency (time)
          count(STEP), errors(STEP), error_rate(STEP)   STEP: name, FLOW/name, * or FLOW/*
          requests, errors, error_rate, checks, checks(STEP), success_rate
          requests_per_second, population_per_second, requests_retried, requests_failed
          population.total, population.created, failed, stranded, interrupted, dropped
          reached(STATE), state(STATE)
          lifetime.S, flow_duration.S, start_lag.S, polls.S, time_to(STATE).S, group(NAME).S
          trend(NAME).S, counter(NAME)                  S: mean|p50|p90|p95|p99|max
          duration                                      the run's wall-clock time
  OP      <  <=  >  >=  ==  !=
  VALUE   times: ms, s, m, h (bare = ms); rates: % (bare = fraction); counts: bare";

/// A parsed threshold: what it measures, how it compares, and the limit.
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
    /// An error at `span` of `expr`; a hint, if any, goes before the grammar in the help.
    fn new(
        expr: &str,
        span: Range<usize>,
        message: String,
        label: &str,
        hint: Option<&str>,
    ) -> Self {
        ThresholdError {
            expr: expr.to_string(),
            message,
            span: span.into(),
            label: label.to_string(),
            help: match hint {
                Some(hint) => format!("{hint}\n{GRAMMAR}"),
                None => GRAMMAR.to_string(),
            },
        }
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
    parser::threshold(expr)
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

    /// What the threshold measures.
    pub fn metric(&self) -> &Metric {
        &self.metric
    }

    /// How the measured value is compared with the limit.
    pub fn op(&self) -> Op {
        self.op
    }

    /// The limit, as written and in the metric's canonical unit.
    pub fn limit(&self) -> &Limit {
        &self.limit
    }
}

/// The candidate most like `name`, if any is close enough: the "did you mean"
/// of parse errors and of verdicts on names a run does not know.
pub fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
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
