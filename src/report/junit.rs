//! junit.xml: the run's verdicts as a JUnit XML document, for CI systems that
//! show test results (GitLab, Jenkins, GitHub test reporters).
//!
//! One test suite named `runner: SCENARIO`; one test case per threshold
//! (classname `thresholds`, named by its expression) and one test case
//! `population` (classname `run`) that fails when orders (users, …) failed, were stranded or
//! interrupted, or the run was stopped by Ctrl-C.

use std::io::{self, Write};

use crate::recorder::{OrderRef, Summary};

/// Members listed by id in the body of the `population` failure, per kind.
const LISTED_ORDERS: usize = 20;

/// One test case.
struct Case {
    classname: &'static str,
    name: String,
    /// `Some((message, type, body))` when it failed.
    failure: Option<(String, &'static str, String)>,
    /// What was measured, for cases that passed.
    out: String,
}

/// Writes the JUnit XML document.
pub fn write(summary: &Summary, out: &mut impl Write) -> io::Result<()> {
    let mut cases: Vec<Case> = summary
        .thresholds
        .iter()
        .map(|t| Case {
            classname: "thresholds",
            name: t.expr.clone(),
            failure: (!t.passed).then(|| (t.detail.clone(), "threshold", t.detail.clone())),
            out: t.detail.clone(),
        })
        .collect();
    cases.push(population_case(summary));

    let tests = cases.len();
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let time = format!("{:.3}", summary.duration.as_secs_f64());

    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="runner" tests="{tests}" failures="{failures}" errors="0" time="{time}">"#
    )?;
    writeln!(
        out,
        r#"  <testsuite name="{}" tests="{tests}" failures="{failures}" errors="0" skipped="0" time="{time}" timestamp="{}">"#,
        escape(&format!("runner: {}", summary.scenario)),
        escape(&summary.started_at),
    )?;
    writeln!(out, "    <properties>")?;
    for (name, value) in [
        ("target", summary.target.clone()),
        ("seed", summary.seed.to_string()),
        ("speed", summary.speed.to_string()),
        ("interrupted", summary.interrupted.to_string()),
    ] {
        writeln!(
            out,
            r#"      <property name="{name}" value="{}"/>"#,
            escape(&value)
        )?;
    }
    writeln!(out, "    </properties>")?;
    for case in &cases {
        write!(
            out,
            r#"    <testcase classname="{}" name="{}" time="0">"#,
            case.classname,
            escape(&case.name)
        )?;
        match &case.failure {
            Some((message, kind, body)) => write!(
                out,
                r#"<failure message="{}" type="{kind}">{}</failure>"#,
                escape(message),
                escape(body)
            )?,
            None => write!(out, "<system-out>{}</system-out>", escape(&case.out))?,
        }
        writeln!(out, "</testcase>")?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

/// The `population` case: every order (user, …) completed and ended terminal.
fn population_case(s: &Summary) -> Case {
    let o = &s.population;
    let counts = format!(
        "{} planned, {} created, {} failed, {} stranded, {} interrupted",
        o.total, o.created, o.failed, o.stranded, o.interrupted
    );
    let failed = o.failed > 0 || o.stranded > 0 || o.interrupted > 0 || s.interrupted;
    let failure = failed.then(|| {
        let mut message = counts.clone();
        if s.interrupted {
            message.push_str("; the run was interrupted (Ctrl-C)");
        }
        let mut body = message.clone();
        list_orders(&mut body, "failed", &s.failed);
        list_orders(&mut body, "stranded", &s.stranded);
        (message, "population", body)
    });
    Case {
        classname: "run",
        name: "population".into(),
        failure,
        out: counts,
    }
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

/// Escapes text for an XML attribute value or element content. Line breaks
/// and tabs become character references (kept in attributes); characters XML
/// 1.0 cannot carry become U+FFFD.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
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
            xml.contains(r#"<testsuite name="runner: day_in_life" tests="3" failures="1""#),
            "{xml}"
        );
        assert!(xml.contains(r#"time="95.250""#), "{xml}");
        assert!(xml.contains(r#"timestamp="2024-01-01T00:00:00Z""#), "{xml}");
        assert!(
            xml.contains(
                r#"<testcase classname="thresholds" name="p95(create) &lt; 500ms" time="0"><failure message="p95(create) = 612.3 ms, limit &lt; 500 ms" type="threshold">"#
            ),
            "{xml}"
        );
        assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
        assert!(
            xml.contains(r#"<testcase classname="run" name="population" time="0"><system-out>"#),
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
        assert!(xml.contains("&#10;next line"), "{xml}");
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
    fn characters_xml_cannot_carry_are_replaced() {
        assert_eq!(escape("a\u{1}b\tc"), "a\u{FFFD}b&#9;c");
    }
}
