//! Tests of the threshold parser: what parses, and where each error points.

use miette::Diagnostic;

use super::*;

fn ok(expr: &str) -> Threshold {
    threshold(expr).unwrap_or_else(|e| panic!("{expr:?} should parse: {e}"))
}

fn err(expr: &str) -> ThresholdError {
    match threshold(expr) {
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
                    flow: None,
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
            flow: Some("activate".into()),
            step: Some("create".into())
        }
    );
    assert_eq!(
        target("p95(*) < 1s"),
        StepTarget {
            flow: None,
            step: None
        }
    );
    assert_eq!(
        target("p95( accepted / * ) < 1s"),
        StepTarget {
            flow: Some("accepted".into()),
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
fn population_metrics_parse_under_the_old_name_too() {
    let metric = |expr: &str| ok(expr).metric;
    assert_eq!(
        metric("population.total >= 200"),
        Metric::Population(PopulationField::Total)
    );
    assert_eq!(
        metric("orders.total >= 200"),
        Metric::Population(PopulationField::Total)
    );
    assert_eq!(
        metric("orders.created == 200"),
        Metric::Population(PopulationField::Created)
    );
    assert_eq!(
        metric("failed == 0"),
        Metric::Population(PopulationField::Failed)
    );
    assert_eq!(
        metric("orders.failed == 0"),
        Metric::Population(PopulationField::Failed)
    );
    assert_eq!(
        metric("stranded == 0"),
        Metric::Population(PopulationField::Stranded)
    );
    assert_eq!(
        metric("interrupted == 0"),
        Metric::Population(PopulationField::Interrupted)
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
            ("lifetime", DistOf::Lifetime),
            ("flow_duration", DistOf::FlowDuration),
            ("polls", DistOf::Polls),
            ("time_to(Accepted)", DistOf::TimeTo("Accepted".into())),
        ] {
            let unit = if of == DistOf::Polls { "" } else { "s" };
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
    assert_eq!(label(&err("lifetime < 5s")), (0, 8));
    let e = err("lifetime.p42 < 5s");
    assert_eq!(label(&e), (9, 3));
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
    assert_eq!(label(&err("polls.max < 3ms")), (13, 2));
}

#[test]
fn errors_carry_the_grammar_as_help() {
    let e = err("nonsense");
    let help = e.help().unwrap().to_string();
    assert!(help.contains("METRIC OP VALUE"), "{help}");
    assert!(help.contains("p99.9"), "{help}");
    assert_eq!(e.expr(), "nonsense");
}
