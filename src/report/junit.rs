//! junit.xml: the run's verdicts as a JUnit XML document, for CI systems that
//! show test results (GitLab, Jenkins, GitHub test reporters).
//!
//! One test suite named `runner: SCENARIO`; one test case per threshold
//! (classname `thresholds`, named by its expression) and one test case
//! `population` (classname `run`) that fails when orders (users, …) failed, were stranded or
//! interrupted, or the run was stopped by Ctrl-C.

use std::io::{self, Write};

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::recorder::{OrderRef, Summary};

/// Members listed by id in the body of the `population` failure, per kind.
const LISTED_ORDERS: usize = 20;

/// Writes the JUnit XML document (quick-junit escapes and counts).
pub fn write(summary: &Summary, out: &mut impl Write) -> io::Result<()> {
    let mut suite = TestSuite::new(format!("runner: {}", summary.scenario));
    suite.set_time(summary.duration);
    if let Ok(started) = chrono::DateTime::parse_from_rfc3339(&summary.started_at) {
        suite.set_timestamp(started);
    }
    suite.add_properties([
        Property::new("target", summary.target.as_str()),
        Property::new("seed", summary.seed.to_string()),
        Property::new("speed", summary.speed.to_string()),
        Property::new("interrupted", summary.interrupted.to_string()),
    ]);
    for t in &summary.thresholds {
        let failure = (!t.passed).then(|| (t.detail.as_str(), "threshold", t.detail.clone()));
        suite.add_test_case(case("thresholds", &t.expr, failure, &t.detail));
    }
    suite.add_test_case(population_case(summary));
    let mut report = Report::new("runner");
    report.set_time(summary.duration);
    report.add_test_suite(suite);
    report.serialize(&mut *out).map_err(io::Error::other)?;
    writeln!(out)
}

/// One test case: `failure` is `(message, type, body)` when it failed;
/// `out` is what was measured.
fn case(classname: &str, name: &str, failure: Option<(&str, &str, String)>, out: &str) -> TestCase {
    let status = match failure {
        None => TestCaseStatus::success(),
        Some((message, kind, body)) => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status
                .set_message(message)
                .set_type(kind)
                .set_description(body);
            status
        }
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(classname)
        .set_time(std::time::Duration::ZERO);
    if !matches!(case.status, TestCaseStatus::NonSuccess { .. }) {
        case.set_system_out(out);
    }
    case
}

/// The `population` case: every order (user, …) completed and ended terminal.
fn population_case(s: &Summary) -> TestCase {
    let o = &s.population;
    let counts = format!(
        "{} planned, {} created, {} failed, {} stranded, {} interrupted",
        o.total, o.created, o.failed, o.stranded, o.interrupted
    );
    let failed =
        !s.failed_within_accepted() || o.stranded > 0 || o.interrupted > 0 || s.interrupted;
    let mut message = counts.clone();
    if s.interrupted {
        message.push_str("; the run was interrupted (Ctrl-C)");
    }
    let mut body = message.clone();
    list_orders(&mut body, "failed", &s.failed);
    list_orders(&mut body, "stranded", &s.stranded);
    let failure = failed.then_some((message.as_str(), "population", body));
    case("run", "population", failure, &counts)
}

/// Appends up to [`LISTED_ORDERS`] orders, one a line.
fn list_orders(body: &mut String, what: &str, orders: &[OrderRef]) {
    if orders.is_empty() {
        return;
    }
    body.push_str(&format!("\n\n{what}:"));
    for o in orders.iter().take(LISTED_ORDERS) {
        body.push_str(&format!(
            "\n  #{} {} ({}, batch {}) id={} state={}",
            o.n,
            o.label,
            o.flow,
            o.batch,
            o.id.as_deref().unwrap_or("-"),
            o.state.as_deref().unwrap_or("-"),
        ));
        if let Some(step) = &o.step {
            body.push_str(&format!(" step={step}"));
        }
        if !o.reason.is_empty() {
            body.push_str(&format!(": {}", o.reason));
        }
    }
    if orders.len() > LISTED_ORDERS {
        body.push_str(&format!("\n  … and {} more", orders.len() - LISTED_ORDERS));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::recorder::{PopulationCounts, ThresholdOutcome};

    fn summary(thresholds: Vec<ThresholdOutcome>) -> Summary {
        Summary {
            scenario: "day_in_life".into(),
            target: "http://127.0.0.1:8080/?a=1&b=2".into(),
            seed: 7,
            speed: 10.0,
            started_at: "2024-01-01T00:00:00Z".into(),
            duration: Duration::from_millis(95_250),
            population: PopulationCounts {
                total: 200,
                created: 200,
                by_state: BTreeMap::new(),
                reached: BTreeMap::new(),
                ..PopulationCounts::default()
            },
            thresholds,
            ..Summary::default()
        }
    }

    fn outcome(expr: &str, passed: bool, detail: &str) -> ThresholdOutcome {
        ThresholdOutcome {
            expr: expr.into(),
            passed,
            actual: Some(1.0),
            detail: detail.into(),
        }
    }

    fn render(s: &Summary) -> String {
        let mut out = Vec::new();
        write(s, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Every attribute value in the document (a minimal scan: inside a tag,
    /// from `="` to the next `"`), after checking tags are well delimited.
    fn attribute_values(xml: &str) -> Vec<&str> {
        let mut values = Vec::new();
        let mut in_tag = false;
        let mut value_start = None;
        let bytes = xml.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            match (in_tag, value_start, b) {
                (_, Some(start), b'"') => {
                    values.push(&xml[start..i]);
                    value_start = None;
                }
                (_, Some(_), _) => {}
                (false, None, b'<') => in_tag = true,
                (false, None, b'>') => panic!("raw `>` in text at {i}: {xml}"),
                (true, None, b'<') => panic!("raw `<` inside a tag at {i}: {xml}"),
                (true, None, b'>') => in_tag = false,
                (true, None, b'"') => value_start = Some(i + 1),
                _ => {}
            }
        }
        assert!(!in_tag && value_start.is_none(), "unterminated tag");
        values
    }

    #[test]
    fn a_failing_threshold_yields_a_failure_element() {
        let s = summary(vec![
            outcome(
                "p95(create) < 500ms",
                false,
                "p95(create) = 612.3 ms, limit < 500 ms",
            ),
            outcome("error_rate < 1%", true, "error_rate = 0.1%, limit < 1%"),
        ]);
        let xml = render(&s);
        assert!(xml.starts_with("<?xml"), "{xml}");
        assert!(
            xml.contains(r#"<testsuite name="runner: day_in_life" tests="3" disabled="0" errors="0" failures="1""#),
            "{xml}"
        );
        assert!(xml.contains(r#"time="95.250""#), "{xml}");
        assert!(
            xml.contains(r#"timestamp="2024-01-01T00:00:00.000+00:00""#),
            "{xml}"
        );
        assert!(
            xml.contains(
                r#"<testcase name="p95(create) &lt; 500ms" classname="thresholds" time="0.000">"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(
                r#"<failure message="p95(create) = 612.3 ms, limit &lt; 500 ms" type="threshold">"#
            ),
            "{xml}"
        );
        assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
        assert!(
            xml.contains(
                "<testcase name=\"population\" classname=\"run\" time=\"0.000\">\n            <system-out>"
            ),
            "{xml}"
        );
    }

    #[test]
    fn escaping_keeps_attribute_values_free_of_markup() {
        let s = summary(vec![outcome(
            "p95(a&b) < 5ms",
            false,
            "no step named `a&b` \"quoted\" <here>\nnext line",
        )]);
        let xml = render(&s);
        assert!(xml.contains("&lt;"), "{xml}");
        assert!(xml.contains("p95(a&amp;b) &lt; 5ms"), "{xml}");
        assert!(xml.contains("&quot;quoted&quot;"), "{xml}");
        // Line breaks survive in the failure's text (an attribute value would fold them).
        assert!(xml.contains("&lt;here&gt;\nnext line</failure>"), "{xml}");
        assert!(xml.contains("?a=1&amp;b=2"), "{xml}");
        let values = attribute_values(&xml);
        assert!(values.len() > 10, "{values:?}");
        for v in values {
            assert!(!v.contains('<') && !v.contains('"'), "raw markup in {v:?}");
            // every `&` starts an entity
            for (i, _) in v.match_indices('&') {
                let rest = &v[i..];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#"]
                        .iter()
                        .any(|e| rest.starts_with(e)),
                    "bare & in {v:?}"
                );
            }
        }
    }

    #[test]
    fn failed_or_stranded_orders_fail_the_population_case_with_counts() {
        let mut s = summary(Vec::new());
        s.population.failed = 2;
        s.population.stranded = 1;
        s.stranded.push(OrderRef {
            n: 7,
            label: "ORD-2024-000007".into(),
            id: Some("abc".into()),
            flow: "activate".into(),
            batch: 0,
            state: Some("Accepted".into()),
            step: None,
            reason: "cleanup timed out".into(),
        });
        let xml = render(&s);
        assert!(xml.contains(r#"tests="1" failures="1""#), "{xml}");
        assert!(
            xml.contains(
                r#"<failure message="200 planned, 200 created, 2 failed, 1 stranded, 0 interrupted" type="population">"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains("#7 ORD-2024-000007 (activate, batch 0) id=abc"),
            "{xml}"
        );
        attribute_values(&xml);
    }

    #[test]
    fn an_interrupted_run_fails_the_population_case() {
        let mut s = summary(Vec::new());
        s.interrupted = true;
        let xml = render(&s);
        assert!(xml.contains("interrupted (Ctrl-C)"), "{xml}");
        assert_eq!(xml.matches("<failure").count(), 1);
    }

    #[test]
    fn a_clean_run_has_no_failures() {
        let xml = render(&summary(vec![outcome(
            "requests > 0",
            true,
            "requests = 5",
        )]));
        assert!(xml.contains(r#"tests="2" failures="0""#), "{xml}");
        assert!(!xml.contains("<failure"), "{xml}");
        assert!(
            xml.contains("<system-out>requests = 5</system-out>"),
            "{xml}"
        );
    }

    #[test]
    fn characters_xml_cannot_carry_are_left_out() {
        let xml = render(&summary(vec![outcome("x", false, "a\u{1}b\u{1b}[31mc")]));
        assert!(!xml.contains(['\u{1}', '\u{1b}']), "{xml:?}");
        assert!(xml.contains("message=\"abc\""), "{xml}");
    }
}
