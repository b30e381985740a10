//! The page from full, empty and odd summaries: sections, charts, escaping, "no data".

use std::collections::BTreeMap;
use std::time::Duration;

use super::write;
use crate::recorder::{
    BatchTime, Dist, IntervalAccuracy, Lifecycle, OrderRef, PopulationCounts, Second, StepStats,
    Summary, ThresholdOutcome, Transition,
};

const CHART_IDS: &[&str] = &[
    "chart-latency",
    "chart-throughput",
    "chart-status",
    "chart-funnel",
    "chart-states",
    "chart-timing",
];

fn step(name: &str, count: u64, errors: u64, statuses: &[(u16, u64)]) -> StepStats {
    StepStats {
        name: name.into(),
        count,
        errors,
        mean_ms: 12.5,
        p50_ms: 10.0,
        p95_ms: 30.0,
        p99_ms: 45.0,
        max_ms: 80.0,
        statuses: statuses.iter().copied().collect(),
        outcomes: BTreeMap::from([("ok".to_string(), count - errors)]),
        error_classes: if errors > 0 {
            BTreeMap::from([("http_5xx".to_string(), errors)])
        } else {
            BTreeMap::new()
        },
        stddev_ms: 4.2,
        p90_ms: 25.0,
        p999_ms: 70.0,
        checks: Default::default(),
    }
}

fn dist(mean: f64) -> Dist {
    Dist {
        count: 10,
        mean,
        p50: mean,
        p90: mean * 1.5,
        p95: mean * 1.7,
        p99: mean * 2.0,
        max: mean * 3.0,
    }
}

fn order(n: u32, reason: &str) -> OrderRef {
    OrderRef {
        n,
        label: format!("ORD-{n:06}"),
        id: Some(format!("id-{n}")),
        flow: "activate".into(),
        batch: 1,
        state: Some("Accepted".into()),
        step: Some("activate".into()),
        reason: reason.into(),
    }
}

fn empty() -> Summary {
    Summary {
        scenario: "empty".into(),
        target: "http://127.0.0.1:1".into(),
        seed: 1,
        speed: 1.0,
        started_at: "2024-01-01T00:00:00Z".into(),
        duration: Duration::from_millis(300),
        ..Summary::default()
    }
}

fn full() -> Summary {
    let states = ["Pending", "Accepted", "Activated", "Ended"];
    let timeline = (0..5)
        .map(|t| Second {
            t,
            requests: if t == 2 { 0 } else { 40 + u64::from(t) },
            errors: u64::from(t == 3),
            p50_ms: 10.0 + f64::from(t),
            p95_ms: 30.0,
            p99_ms: 45.0,
            max_ms: 80.0,
            by_state: states
                .iter()
                .take(t as usize + 1)
                .map(|s| (s.to_string(), u64::from(t) + 1))
                .collect(),
            created: u64::from(t) * 10,
        })
        .collect();
    let steps = vec![
        step("<script>alert(1)</script>", 50, 1, &[(202, 49), (500, 1)]),
        step("poll_accepted", 60, 0, &[(200, 60)]),
        step("activate", 40, 0, &[(200, 38), (409, 2)]),
    ];
    Summary {
        scenario: "day_in_life".into(),
        target: "http://127.0.0.1:8080".into(),
        seed: 42,
        speed: 100.0,
        started_at: "2024-01-01T00:00:00Z".into(),
        duration: Duration::from_secs(75),
        population: PopulationCounts {
            total: 50,
            created: 50,
            failed: 1,
            interrupted: 0,
            dropped: 0,
            stranded: 1,
            by_state: BTreeMap::from([("Ended".into(), 48), ("Accepted".into(), 2)]),
            reached: BTreeMap::from([
                ("Pending".into(), 50),
                ("Accepted".into(), 50),
                ("Activated".into(), 48),
                ("Ended".into(), 48),
            ]),
        },
        by_flow: vec![("activate".into(), steps.clone())],
        steps,
        timeline,
        lifecycle: Lifecycle {
            transitions: vec![
                Transition {
                    from: String::new(),
                    to: "Pending".into(),
                    count: 50,
                },
                Transition {
                    from: "Pending".into(),
                    to: "Accepted".into(),
                    count: 50,
                },
            ],
            time_to_state: states.iter().map(|s| (s.to_string(), dist(5.0))).collect(),
            lifetime_ms: dist(300.0),
            flow_duration_ms: dist(40.0),
            polls: dist(1.0),
            batch_duration_ms: dist(900.0),
            batches: vec![BatchTime {
                batch: 0,
                flow: "activate".into(),
                size: 20,
                duration_ms: 900.0,
            }],
        },
        timing: vec![
            IntervalAccuracy {
                name: "pause · activate step 2".into(),
                count: 50,
                configured_ms: 25.0,
                observed_ms: 26.0,
                mean_dev_ms: 1.0,
                p99_dev_ms: 4.0,
                mean_dev_pct: 4.0,
                p99_dev_pct: 16.0,
            },
            IntervalAccuracy {
                name: "between orders in a batch".into(),
                count: 49,
                configured_ms: 10.0,
                observed_ms: 9.9,
                mean_dev_ms: -0.1,
                p99_dev_ms: 0.5,
                mean_dev_pct: -1.0,
                p99_dev_pct: 5.0,
            },
        ],
        thresholds: vec![ThresholdOutcome {
            expr: "p95(create) < 500ms".into(),
            passed: true,
            actual: Some(30.0),
            detail: "p95(create) = 30.0 ms, limit < 500 ms".into(),
        }],
        failed: vec![order(7, "expected 200, got <409> & \"refused\"")],
        stranded: (0..250).map(|n| order(n, "not terminal")).collect(),
        ..Summary::default()
    }
}

fn render(s: &Summary) -> String {
    let mut buf = Vec::new();
    write(s, &mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

/// The text of the `<section id="…">` element.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<section id=\"{id}\""))
        .unwrap_or_else(|| panic!("section {id} missing"));
    let end = html[start..].find("</section>").unwrap() + start;
    &html[start..end]
}

#[test]
fn every_chart_is_drawn_from_a_full_summary() {
    let html = render(&full());
    for id in CHART_IDS {
        let sec = section(&html, id);
        assert!(sec.contains("<svg"), "{id} has no svg");
        assert!(!sec.contains("no data"), "{id} says no data");
    }
    for id in [
        "summary",
        "thresholds",
        "steps",
        "lifecycle",
        "failed",
        "stranded",
    ] {
        section(&html, id);
    }
    assert!(html.contains("FAIL"), "failed orders fail the run");
    assert!(section(&html, "stranded").contains("first 200 of 250"));
    assert!(section(&html, "chart-timing").contains("between orders in a batch"));
    assert!(!html.contains("http://www.w3.org"), "xmlns stripped");
}

#[test]
fn text_from_scripts_is_escaped() {
    let html = render(&full());
    assert!(!html.contains("<script"), "a step name became markup");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("expected 200, got &lt;409&gt; &amp; &quot;refused&quot;"));
    assert!(
        html.contains("<b>http://127.0.0.1:8080</b>"),
        "a URL reads as itself (minijinja writes `/` as `&#x2f;`)"
    );
}

#[test]
fn an_empty_summary_says_no_data() {
    let html = render(&empty());
    assert!(html.contains("PASS"));
    for id in CHART_IDS {
        let sec = section(&html, id);
        assert!(sec.contains("no data"), "{id}: {sec}");
        assert!(!sec.contains("<svg"), "{id}");
    }
    assert!(!html.contains("id=\"thresholds\""));
}

#[test]
fn a_one_second_run_draws_single_points() {
    let mut s = full();
    s.timeline.truncate(1);
    s.failed.clear();
    s.stranded.clear();
    s.population.failed = 0;
    s.population.stranded = 0;
    let html = render(&s);
    assert!(html.contains("PASS"));
    for id in ["chart-latency", "chart-throughput", "chart-states"] {
        let sec = section(&html, id);
        assert!(sec.contains("<circle"), "{id} shows its one point");
    }
}

#[test]
fn odd_values_do_not_break_charts() {
    let mut s = full();
    s.timing[0].mean_dev_pct = f64::NAN;
    s.timing[1].p99_dev_pct = f64::INFINITY;
    s.timing[1].mean_dev_pct = -80.0;
    s.timeline.iter_mut().for_each(|sec| sec.requests = 0);
    let html = render(&s);
    assert!(section(&html, "chart-timing").contains("<svg"));
    assert!(section(&html, "chart-latency").contains("no data"));
}
