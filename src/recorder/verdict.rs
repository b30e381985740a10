//! Verdicts: checks a parsed [`Threshold`] against a run's [`Summary`].
//!
//! Evaluation never panics. A metric naming a step, flow or state the
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

use super::{Dist, StepStats, Summary, ThresholdOutcome};
use crate::threshold::{
    DistOf, DistStat, Kind, Metric, Op, PopulationField, StepStat, StepTarget, Threshold, Unit,
    closest,
};

/// Checks the threshold against a run's summary.
pub fn evaluate(t: &Threshold, s: &Summary) -> ThresholdOutcome {
    let m = match measure(t, s) {
        Ok(m) => m,
        Err(detail) => {
            return ThresholdOutcome {
                expr: t.expr().to_string(),
                passed: false,
                actual: None,
                detail,
            };
        }
    };
    let limit = t.limit();
    let unit = match (limit.unit, t.metric().kind()) {
        (Unit::Bare, Kind::Time) => Unit::Ms,
        (unit, _) => unit,
    };
    let worst = m
        .worst
        .map(|step| format!(" (worst: {step})"))
        .unwrap_or_default();
    ThresholdOutcome {
        expr: t.expr().to_string(),
        passed: t.op().holds(m.value, limit.value),
        actual: Some(unit.in_unit(m.value)),
        detail: format!(
            "{} = {}{worst}, limit {} {}",
            t.metric(),
            with_unit(&number(unit.in_unit(m.value)), unit),
            t.op(),
            with_unit(&limit.text, unit),
        ),
    }
}

/// A measured value and, for `*`, the step it came from.
struct Measured {
    value: f64,
    worst: Option<String>,
}

/// The metric's value in its canonical unit (ms, fraction, count).
fn measure(t: &Threshold, s: &Summary) -> Result<Measured, String> {
    let plain = |value: f64| Ok(Measured { value, worst: None });
    match t.metric() {
        Metric::Step { stat, target } => measure_steps(t, s, *stat, target),
        Metric::Requests => plain(s.requests() as f64),
        Metric::Errors => plain(s.errors() as f64),
        Metric::ErrorRate => plain(s.error_rate()),
        Metric::SuccessRate => plain(s.success_rate()),
        Metric::Checks => plain(s.checks().rate().ok_or("no check ran in this run")?),
        Metric::Population(field) => plain(match field {
            PopulationField::Total => s.population.total,
            PopulationField::Created => s.population.created,
            PopulationField::Failed => s.population.failed,
            PopulationField::Stranded => s.population.stranded,
            PopulationField::Interrupted => s.population.interrupted,
            PopulationField::Dropped => s.population.dropped,
        } as f64),
        metric @ (Metric::Reached(state) | Metric::State(state)) => {
            let known = known_states(s);
            if !known.contains(state.as_str()) {
                return Err(missing("state", state, "", "states", known.into_iter()));
            }
            let map = match metric {
                Metric::Reached(_) => &s.population.reached,
                _ => &s.population.by_state,
            };
            plain(map.get(state).copied().unwrap_or(0) as f64)
        }
        Metric::Dist { of, stat } => {
            let dist = match of {
                DistOf::Lifetime => &s.lifecycle.lifetime_ms,
                DistOf::FlowDuration => &s.lifecycle.flow_duration_ms,
                DistOf::StartLag => match &s.arrivals {
                    Some(a) => &a.start_lag_ms,
                    None => return Err("start_lag needs the open load model (s.arrivals)".into()),
                },
                DistOf::Polls => &s.lifecycle.polls,
                DistOf::Group(name) => {
                    let groups = &s.groups;
                    match groups.iter().find(|g| &g.name == name) {
                        Some(g) => &g.duration_ms,
                        None => {
                            let known = groups.iter().map(|g| g.name.as_str());
                            return Err(missing("group", name, "", "groups", known));
                        }
                    }
                }
                DistOf::Trend(name) => match s.trends.iter().find(|(n, _)| n == name) {
                    Some((_, d)) => d,
                    None => {
                        let known = s.trends.iter().map(|(n, _)| n.as_str());
                        return Err(missing("trend", name, "", "trends", known));
                    }
                },
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
            plain(dist_value(*stat, dist))
        }
        Metric::Duration => plain(s.duration.as_secs_f64() * 1000.0),
        Metric::RequestsPerSecond => plain(s.requests_per_second()),
        Metric::PopulationPerSecond => plain(s.population_per_second()),
        Metric::RequestsRetried => plain(s.requests_retried as f64),
        Metric::RequestsFailed => plain(s.requests_failed as f64),
        Metric::Counter(name) => match s.counters.iter().find(|(n, _)| n == name) {
            Some((_, sum)) => plain(*sum),
            None => {
                let known = s.counters.iter().map(|(n, _)| n.as_str());
                Err(missing("counter", name, "", "counters", known))
            }
        },
    }
}

fn measure_steps(
    t: &Threshold,
    s: &Summary,
    stat: StepStat,
    target: &StepTarget,
) -> Result<Measured, String> {
    let (steps, context): (&[StepStats], String) = match &target.flow {
        None => (&s.steps, String::new()),
        Some(ty) => match s.by_flow.iter().find(|(name, _)| name == ty) {
            Some((_, steps)) => (steps, format!(" in flow `{ty}`")),
            None => {
                return Err(missing(
                    "flow",
                    ty,
                    "",
                    "flows",
                    s.by_flow.iter().map(|(name, _)| name.as_str()),
                ));
            }
        },
    };
    let Some(name) = &target.step else {
        let limit = t.limit().value;
        let candidates = steps
            .iter()
            .filter(|st| !stat.is_latency() || st.count > 0)
            .filter(|st| stat != StepStat::Checks || st.checks.rate().is_some())
            .map(|st| (st, step_value(stat, st)));
        let worst = candidates.max_by(|(_, a), (_, b)| {
            badness(t.op(), *a, limit).total_cmp(&badness(t.op(), *b, limit))
        });
        return match worst {
            Some((st, value)) => Ok(Measured {
                value,
                worst: Some(st.name.clone()),
            }),
            None if stat.is_latency() && !steps.is_empty() => {
                Err(format!("no step has requests{context} in this run"))
            }
            None if stat == StepStat::Checks => {
                Err(format!("no step ran a check{context} in this run"))
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
    if stat == StepStat::Checks && step.checks.rate().is_none() {
        return Err(format!("step `{name}`{context} ran no checks in this run"));
    }
    if stat.is_latency() && step.count == 0 {
        return Err(format!(
            "step `{name}`{context} has no requests in this run"
        ));
    }
    Ok(Measured {
        value: step_value(stat, step),
        worst: None,
    })
}

/// Orders values so that the largest is the one most likely to break the
/// limit: if the largest holds, every value holds.
fn badness(op: Op, actual: f64, limit: f64) -> f64 {
    match op {
        Op::Lt | Op::Le => actual,
        Op::Gt | Op::Ge => -actual,
        Op::Eq => (actual - limit).abs(),
        Op::Ne => -(actual - limit).abs(),
    }
}

fn step_value(stat: StepStat, st: &StepStats) -> f64 {
    match stat {
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
        StepStat::Checks => st.checks.rate().unwrap_or(1.0),
    }
}

fn dist_value(stat: DistStat, d: &Dist) -> f64 {
    match stat {
        DistStat::Mean => d.mean,
        DistStat::P50 => d.p50,
        DistStat::P90 => d.p90,
        DistStat::P95 => d.p95,
        DistStat::P99 => d.p99,
        DistStat::Max => d.max,
    }
}

/// Every state the run saw.
fn known_states(s: &Summary) -> BTreeSet<&str> {
    let mut states: BTreeSet<&str> = s.population.reached.keys().map(String::as_str).collect();
    states.extend(s.population.by_state.keys().map(String::as_str));
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::recorder::{Lifecycle, PopulationCounts, Transition};
    use crate::threshold::parse;

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
            checks: Default::default(),
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
            population: PopulationCounts {
                total: 200,
                created: 198,
                failed: 2,
                interrupted: 0,
                dropped: 0,
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
            by_flow: vec![
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
                lifetime_ms: dist(197, 70_000.0),
                flow_duration_ms: dist(198, 9_000.0),
                polls: dist(198, 3.0),
                ..Lifecycle::default()
            },
            ..Summary::default()
        }
    }

    fn ok(expr: &str) -> Threshold {
        parse(expr).unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
    }

    fn eval(expr: &str) -> ThresholdOutcome {
        evaluate(&ok(expr), &summary())
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
        assert!(eval("lifetime.p95 < 2m").passed);
        assert!(eval("order_duration.p95 < 2m").passed);
        assert!(!eval("time_to(Accepted).p95 < 5s").passed);
        assert!(eval("polls.max <= 4").passed);
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
            "no step named `activate` in flow `accepted` in this run (steps: create)"
        );
        let o = eval("p95(bogus/create) < 500ms");
        assert_eq!(
            o.detail,
            "no flow named `bogus` in this run (flows: activate, accepted)"
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
        s.lifecycle.lifetime_ms = Dist::default();
        let o = evaluate(&ok("lifetime.p95 < 1s"), &s);
        assert!(!o.passed);
        assert_eq!(o.detail, "no samples of lifetime in this run");
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
        let o = evaluate(&ok("p95(*) < 1s"), &s);
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
