//! The threshold parser: winnow combinators over the expression that keep the
//! byte span of every piece, so that each error points at the part that is wrong.

use std::ops::Range;

use winnow::combinator::{alt, empty, not, opt, peek, preceded, terminated};
use winnow::error::{ErrMode, ParserError};
use winnow::prelude::*;
use winnow::stream::{LocatingSlice, Location};
use winnow::token::{none_of, rest, take_till, take_while};

use super::{
    DistOf, DistStat, Limit, Metric, Op, PopulationField, StepStat, StepTarget, Threshold,
    ThresholdError, Unit, closest,
};

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
    "checks",
    "success_rate",
    "requests",
    "requests_per_second",
    "population_per_second",
    "requests_retried",
    "requests_failed",
    "population.total",
    "population.created",
    "population.failed",
    "population.stranded",
    "population.interrupted",
    "failed",
    "stranded",
    "interrupted",
    "dropped",
    "population.dropped",
    "reached",
    "state",
    "lifetime",
    "flow_duration",
    "start_lag",
    "polls",
    "time_to",
    "group",
    "trend",
    "counter",
    "duration",
];

/// The characters operators are made of.
const OP_CHARS: [char; 4] = ['<', '>', '=', '!'];

/// The expression, with byte offsets from its start.
type Input<'a> = LocatingSlice<&'a str>;

/// What the parsers return: once the expression is known to be wrong, a cut [`Fault`].
type Parsed<T> = ModalResult<T, Fault>;

/// What is wrong and where, until it becomes a [`ThresholdError`].
#[derive(Debug)]
struct Fault {
    span: Range<usize>,
    message: String,
    label: &'static str,
    hint: Option<String>,
}

impl Fault {
    fn at(span: Range<usize>, message: impl Into<String>, label: &'static str) -> Self {
        Fault {
            span,
            message: message.into(),
            label,
            hint: None,
        }
    }

    fn hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    /// Fails for good: no other reading of the expression is tried.
    fn cut<T>(self) -> Parsed<T> {
        Err(ErrMode::Cut(self))
    }
}

impl ParserError<Input<'_>> for Fault {
    type Inner = Self;

    /// A combinator did not match. Only `opt` sees these, and backtracks: every
    /// failure that reaches the user is a [`Fault::cut`] with its own message.
    fn from_input(input: &Input<'_>) -> Self {
        let at = input.current_token_start();
        Fault::at(at..at, "unexpected text", "here")
    }

    fn into_inner(self) -> Result<Self, Self> {
        Ok(self)
    }
}

/// A piece of the expression and where it is.
#[derive(Debug, Clone)]
struct Piece<'a> {
    text: &'a str,
    span: Range<usize>,
}

impl<'a> Piece<'a> {
    /// The part of the piece at `range`, counted in bytes from its start.
    fn sub(&self, range: Range<usize>) -> Piece<'a> {
        let start = self.span.start;
        Piece {
            text: &self.text[range.clone()],
            span: start + range.start..start + range.end,
        }
    }

    fn trim(&self) -> Piece<'a> {
        let lead = self.text.len() - self.text.trim_start().len();
        self.sub(lead..lead + self.text.trim().len())
    }

    fn split_once(&self, c: char) -> Option<(Piece<'a>, Piece<'a>)> {
        let at = self.text.find(c)?;
        Some((
            self.sub(0..at),
            self.sub(at + c.len_utf8()..self.text.len()),
        ))
    }
}

/// Runs `parser` and keeps what it took as a [`Piece`].
fn piece<'a>(
    parser: impl Parser<Input<'a>, &'a str, ErrMode<Fault>>,
) -> impl Parser<Input<'a>, Piece<'a>, ErrMode<Fault>> {
    parser.with_span().map(|(text, span)| Piece { text, span })
}

/// Parses `expr` (see the module documentation for the grammar).
pub(super) fn threshold(expr: &str) -> Result<Threshold, ThresholdError> {
    let (metric, op, limit) = expression.parse(LocatingSlice::new(expr)).map_err(|e| {
        let fault = e.into_inner();
        let hint = fault.hint.as_deref();
        ThresholdError::new(expr, fault.span, fault.message, fault.label, hint)
    })?;
    Ok(Threshold {
        expr: expr.to_string(),
        metric,
        op,
        limit,
    })
}

/// `METRIC OP VALUE`, with any whitespace around the parts.
fn expression(i: &mut Input<'_>) -> Parsed<(Metric, Op, Limit)> {
    let metric = preceded(ws, metric).parse_next(i)?;
    ws(i)?;
    let op = operator(i, &metric)?;
    ws(i)?;
    let limit = limit(i, &metric, op)?;
    let rest = preceded(ws, piece(rest)).parse_next(i)?.trim();
    if !rest.text.is_empty() {
        let message = format!("unexpected `{}` after the value", rest.text);
        return Fault::at(rest.span, message, "nothing may follow the value").cut();
    }
    Ok((metric, op, limit))
}

/// Whitespace, as [`char::is_whitespace`] has it.
fn ws(i: &mut Input<'_>) -> Parsed<()> {
    take_while(0.., char::is_whitespace).void().parse_next(i)
}

/// The text up to the next whitespace (empty at the end).
fn word<'a>(i: &mut Input<'a>) -> Parsed<Piece<'a>> {
    piece(take_till(0.., char::is_whitespace)).parse_next(i)
}

/// A metric or statistic name (may be empty).
fn identifier<'a>(i: &mut Input<'a>) -> Parsed<Piece<'a>> {
    piece(take_while(0.., |c: char| {
        c.is_ascii_alphanumeric() || c == '_' || c == '.'
    }))
    .parse_next(i)
}

/// `(ARG)`: the text inside and the span of the whole, parentheses included.
struct Arg<'a> {
    inner: Piece<'a>,
    parens: Range<usize>,
}

/// METRIC: a name, an optional `(ARG)` and, right after the `)`, an optional `.STAT`.
fn metric(i: &mut Input<'_>) -> Parsed<Metric> {
    let name = identifier(i)?;
    if name.text.is_empty() {
        let found = word(i)?;
        if found.text.is_empty() {
            let message = "empty threshold, expected `METRIC OP VALUE`";
            return Fault::at(found.span, message, "expected a metric here").cut();
        }
        let message = format!("expected a metric, found `{}`", found.text);
        return Fault::at(found.span, message, "expected a metric here").cut();
    }
    let arg = match opt(preceded(ws, '('.span())).parse_next(i)? {
        None => None,
        Some(open) => {
            let (inner, close) = (piece(take_till(0.., ')')), opt(')'.span())).parse_next(i)?;
            let Some(close) = close else {
                let message = format!("`(` after `{}` is never closed", name.text);
                return Fault::at(open, message, "opened here").cut();
            };
            Some(Arg {
                inner,
                parens: open.start..close.end,
            })
        }
    };
    let suffix = match arg {
        Some(_) => opt(piece(('.', identifier).take())).parse_next(i)?,
        None => None,
    };
    resolve(&name, arg.as_ref(), suffix.as_ref())
}

/// Turns the pieces of a metric into a [`Metric`], or says which piece is wrong.
fn resolve(name: &Piece<'_>, arg: Option<&Arg<'_>>, suffix: Option<&Piece<'_>>) -> Parsed<Metric> {
    let n = name.text;
    let no_suffix = |metric: Metric| match suffix {
        Some(whole) => {
            let message = format!("unexpected `{}` after `{metric}`", whole.text);
            Fault::at(whole.span.clone(), message, "not part of this metric").cut()
        }
        None => Ok(metric),
    };
    let no_arg = |metric: Metric| match arg {
        Some(arg) => {
            let message = format!("`{n}` takes no argument");
            Fault::at(arg.parens.clone(), message, "remove this").cut()
        }
        None => Ok(metric),
    };
    let needs_arg = |what: &str, example: &str| {
        let message = format!("`{n}` needs {what} in parentheses, e.g. `{example}`");
        Fault::at(name.span.clone(), message, "missing its argument").cut()
    };

    if let Some(stat) = StepStat::parse(n) {
        return match arg {
            Some(arg) => no_suffix(Metric::Step {
                stat,
                target: step_target(arg)?,
            }),
            None => match stat {
                StepStat::Errors => Ok(Metric::Errors),
                StepStat::ErrorRate => Ok(Metric::ErrorRate),
                StepStat::Checks => Ok(Metric::Checks),
                _ => needs_arg("a step", &format!("{n}(create)")),
            },
        };
    }
    // `orders.X` is the old name of `population.X`, kept one release.
    let renamed = n
        .strip_prefix("orders.")
        .map(|rest| format!("population.{rest}"));
    if let Some(field) = match renamed.as_deref().unwrap_or(n) {
        "population.total" => Some(PopulationField::Total),
        "population.created" => Some(PopulationField::Created),
        "failed" | "population.failed" => Some(PopulationField::Failed),
        "stranded" | "population.stranded" => Some(PopulationField::Stranded),
        "interrupted" | "population.interrupted" => Some(PopulationField::Interrupted),
        "dropped" | "population.dropped" => Some(PopulationField::Dropped),
        _ => None,
    } {
        if let Some(new) = &renamed {
            tracing::warn!(
                "threshold metric `{n}` is deprecated; use `{new}` (the old name goes away in the next release)"
            );
        }
        return no_arg(Metric::Population(field));
    }
    match n {
        "requests" => return no_arg(Metric::Requests),
        "requests_per_second" => return no_arg(Metric::RequestsPerSecond),
        "population_per_second" => return no_arg(Metric::PopulationPerSecond),
        "requests_retried" => return no_arg(Metric::RequestsRetried),
        "requests_failed" => return no_arg(Metric::RequestsFailed),
        "success_rate" => return no_arg(Metric::SuccessRate),
        "duration" => return no_arg(Metric::Duration),
        "reached" | "state" => {
            let Some(arg) = arg else {
                return needs_arg("a state", &format!("{n}(Accepted)"));
            };
            let state = state_name(arg)?;
            return no_suffix(if n == "reached" {
                Metric::Reached(state)
            } else {
                Metric::State(state)
            });
        }
        "counter" => {
            let Some(arg) = arg else {
                return needs_arg("a counter's name", "counter(items)");
            };
            return no_suffix(Metric::Counter(state_name(arg)?));
        }
        "time_to" | "group" | "trend" => {
            let Some(arg) = arg else {
                let (what, example) = match n {
                    "group" => ("a group's name", "group(checkout).p95"),
                    "trend" => ("a trend's name", "trend(total).p95"),
                    _ => ("a state", "time_to(Accepted).p95"),
                };
                return needs_arg(what, example);
            };
            let name = state_name(arg)?;
            let of = match n {
                "group" => DistOf::Group(name),
                "trend" => DistOf::Trend(name),
                _ => DistOf::TimeTo(name),
            };
            let Some(whole) = suffix else {
                let message = format!("`{of}` needs a statistic, e.g. `{of}.p95`");
                let end = arg.parens.end;
                let label = "expected .mean, .p50, .p90, .p95, .p99 or .max here";
                return Fault::at(end..end, message, label).cut();
            };
            let stat = whole.sub(1..whole.text.len());
            return dist_stat(of, &stat, whole);
        }
        _ => {}
    }
    let (base, stat) = match name.split_once('.') {
        Some((base, stat)) => (base.text, Some(stat)),
        None => (n, None),
    };
    // `order_duration` and `polls_per_order` are the old names, kept one release.
    let renamed = match base {
        "order_duration" => Some("lifetime"),
        "polls_per_order" => Some("polls"),
        _ => None,
    };
    if let Some(new) = renamed {
        tracing::warn!(
            "threshold metric `{base}` is deprecated; use `{new}` (the old name goes away in the next release)"
        );
    }
    let of = match renamed.unwrap_or(base) {
        "lifetime" => DistOf::Lifetime,
        "flow_duration" => DistOf::FlowDuration,
        "start_lag" => DistOf::StartLag,
        "polls" => DistOf::Polls,
        _ => {
            let hint = closest(n, METRIC_NAMES.iter().copied());
            return Fault::at(
                name.span.clone(),
                format!("unknown metric `{n}`"),
                "unknown metric",
            )
            .hint(hint.map(|c| format!("did you mean `{c}`?")))
            .cut();
        }
    };
    let Some(stat) = stat else {
        let message = format!("`{of}` needs a statistic, e.g. `{of}.p95`");
        let label = "expected .mean, .p50, .p90, .p95, .p99 or .max after this";
        return Fault::at(name.span.clone(), message, label).cut();
    };
    no_suffix(dist_stat(of, &stat, &stat)?).and_then(no_arg)
}

/// The `S` of a lifecycle statistic; `whole` is labelled when `stat` is empty.
fn dist_stat(of: DistOf, stat: &Piece<'_>, whole: &Piece<'_>) -> Parsed<Metric> {
    match DistStat::parse(stat.text) {
        Some(stat) => Ok(Metric::Dist { of, stat }),
        None => {
            let span = if stat.text.is_empty() {
                &whole.span
            } else {
                &stat.span
            };
            let message = format!(
                "unknown statistic `{}` of `{of}`; use mean, p50, p90, p95, p99 or max",
                stat.text
            );
            Fault::at(span.clone(), message, "unknown statistic").cut()
        }
    }
}

/// STEP, FLOW/STEP, * or FLOW/*.
fn step_target(arg: &Arg<'_>) -> Parsed<StepTarget> {
    let (ty, step) = match arg.inner.split_once('/') {
        Some((ty, step)) => (Some(ty.trim()), step.trim()),
        None => (None, arg.inner.trim()),
    };
    if let Some(ty) = &ty {
        if ty.text.is_empty() {
            let message = "empty flow name before `/`";
            return Fault::at(ty.span.clone(), message, "expected a flow name here").cut();
        }
        if ty.text == "*" {
            let message = "the flow cannot be `*`; leave it out to look at every flow";
            return Fault::at(ty.span.clone(), message, "name a flow").cut();
        }
    }
    if step.text.is_empty() {
        let span = if ty.is_some() {
            step.span
        } else {
            arg.parens.clone()
        };
        let message = "missing step name; use a step name, FLOW/STEP or *";
        return Fault::at(span, message, "expected a step here").cut();
    }
    Ok(StepTarget {
        flow: ty.map(|t| t.text.to_string()),
        step: (step.text != "*").then(|| step.text.to_string()),
    })
}

fn state_name(arg: &Arg<'_>) -> Parsed<String> {
    let state = arg.inner.text.trim();
    if state.is_empty() {
        return Fault::at(
            arg.parens.clone(),
            "missing state name",
            "expected a state here",
        )
        .cut();
    }
    Ok(state.to_string())
}

/// OP: the run of operator characters, which must be one operator.
fn operator(i: &mut Input<'_>, metric: &Metric) -> Parsed<Op> {
    let run = piece(take_while(0.., OP_CHARS)).parse_next(i)?;
    if let Some(op) = Op::parse(run.text) {
        return Ok(op);
    }
    let found = if run.text.is_empty() { word(i)? } else { run };
    if found.text.is_empty() {
        let message = format!("expected an operator (<, <=, >, >=, ==, !=) after `{metric}`");
        return Fault::at(found.span, message, "expected an operator here").cut();
    }
    let message = format!(
        "`{}` is not an operator; expected <, <=, >, >=, == or !=",
        found.text
    );
    let hint = (found.text == "=").then(|| "use `==` to compare for equality".to_string());
    Fault::at(found.span, message, "unknown operator")
        .hint(hint)
        .cut()
}

/// VALUE: a number and an optional unit, which must fit the metric.
fn limit(i: &mut Input<'_>, metric: &Metric, op: Op) -> Parsed<Limit> {
    let expected =
        || format!("expected a number with an optional unit (ms, s, m, h, %) after `{op}`");
    let token = peek(word).parse_next(i)?;
    if token.text.is_empty() {
        return Fault::at(token.span, expected(), "expected a value here").cut();
    }
    let value = terminated((number, unit), not(none_of(char::is_whitespace)));
    let Some(((number, value), (unit, unit_text))) = opt(value).parse_next(i)? else {
        return Fault::at(token.span, expected(), "not a number with a unit").cut();
    };
    let kind = metric.kind();
    if !kind.accepts(unit) {
        let message = format!(
            "`{}` does not fit `{metric}`, which is {}",
            unit_text.text,
            kind.describe()
        );
        return Fault::at(unit_text.span, message, "wrong unit for this metric").cut();
    }
    Ok(Limit {
        text: number.text.to_string(),
        unit,
        value: unit.canonical(value),
    })
}

/// NUMBER: digits and dots that read as a number (`500`, `0.5`, `.5`).
fn number<'a>(i: &mut Input<'a>) -> Parsed<(Piece<'a>, f64)> {
    piece(take_while(1.., ('0'..='9', '.')))
        .verify_map(|n| {
            let value = n.text.parse().ok()?;
            Some((n, value))
        })
        .parse_next(i)
}

/// UNIT, or none ([`Unit::Bare`]).
fn unit<'a>(i: &mut Input<'a>) -> Parsed<(Unit, Piece<'a>)> {
    alt((
        "ms".value(Unit::Ms),
        "s".value(Unit::S),
        "m".value(Unit::M),
        "h".value(Unit::H),
        "%".value(Unit::Percent),
        empty.value(Unit::Bare),
    ))
    .with_taken()
    .with_span()
    .map(|((unit, text), span)| (unit, Piece { text, span }))
    .parse_next(i)
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
