//! report.json: the machine-readable summary (documented in docs/reports.md).

use std::io::{self, Write};

use serde_json::{Map, Value, json};

use crate::recorder::{StepStats, Summary};

/// Order-API states reported as their own `population` keys (members that ever
/// reached the state); every state, whatever its name, is also under `reached` and `by_state`.
const ORDER_STATES: &[(&str, &str)] = &[
    ("activated", "Activated"),
    ("cancelled", "Cancelled"),
    ("ended", "Ended"),
];

/// The report as a JSON value.
pub fn to_value(s: &Summary) -> Value {
    let mut population = Map::new();
    population.insert("noun".into(), s.noun.clone().into());
    population.insert("total".into(), s.population.total.into());
    population.insert("created".into(), s.population.created.into());
    for (key, state) in ORDER_STATES {
        let n = s.population.reached.get(*state).copied().unwrap_or(0);
        population.insert((*key).into(), n.into());
    }
    population.insert("failed".into(), s.population.failed.into());
    population.insert("interrupted".into(), s.population.interrupted.into());
    population.insert("stranded".into(), s.population.stranded.into());
    population.insert("dropped".into(), s.population.dropped.into());
    population.insert("by_state".into(), json!(s.population.by_state));
    population.insert("reached".into(), json!(s.population.reached));

    let all = s.checks();
    let checks = json!({ "passed": all.passed, "failed": all.failed, "rate": all.rate() });
    let steps = |list: &[StepStats]| -> Map<String, Value> {
        list.iter()
            .map(|st| {
                (
                    st.name.clone(),
                    json!({
                        "count": st.count,
                        "errors": st.errors,
                        "mean_ms": round(st.mean_ms),
                        "stddev_ms": round(st.stddev_ms),
                        "p50_ms": st.p50_ms,
                        "p90_ms": st.p90_ms,
                        "p95_ms": st.p95_ms,
                        "p99_ms": st.p99_ms,
                        "p999_ms": st.p999_ms,
                        "max_ms": st.max_ms,
                        "statuses": st.statuses,
                        "outcomes": st.outcomes,
                        "error_classes": st.error_classes,
                        "checks": st.checks,
                    }),
                )
            })
            .collect()
    };
    let by_flow: Map<String, Value> = s
        .by_flow
        .iter()
        .map(|(t, list)| (t.clone(), Value::Object(steps(list))))
        .collect();
    let mut report = json!({
        "scenario": s.scenario,
        "target": s.target,
        "seed": s.seed,
        "speed": s.speed,
        "started_at": s.started_at,
        "duration_s": round(s.duration.as_secs_f64()),
        "passed": s.passed(),
        "interrupted": s.interrupted,
        "requests": s.requests(),
        "errors": s.errors(),
        "error_rate": s.error_rate(),
        "checks": checks,
        "success_rate": s.success_rate(),
        "accept_failed": s.accept_failed,
        "population": population,
        "steps": steps(&s.steps),
        "endpoints": steps(&s.endpoints),
        "by_flow": by_flow,
        "thresholds": s.thresholds,
        "expected_errors": s.expected_errors(),
        "mix": s.mix,
        "answers": s.answers(),
        "breaker": s.breaker,
        "segment": s.segment,
        "planned": s.planned,
        "lifecycle": s.lifecycle,
        "arrivals": s.arrivals,
        "timing": s.timing,
        "timeline": s.timeline,
        "failed": s.failed,
        "stranded": s.stranded,
        "events_error": s.events_error,
        "stages": s.stages,
        "active_s": s.active.as_secs_f64(),
        "requests_per_second": s.requests_per_second(),
        "population_per_second": s.population_per_second(),
        "requests_retried": s.requests_retried,
        "requests_failed": s.requests_failed,
        "groups": s.groups,
        "counters": s.counters.iter().map(|(n, v)| (n.clone(), Value::from(*v))).collect::<serde_json::Map<String, Value>>(),
        "trends": s.trends.iter().map(|(n, d)| (n.clone(), serde_json::json!(d))).collect::<serde_json::Map<String, Value>>(),
    });
    // Everything `runner report merge` reads back: the summary with its HDR histograms.
    report[MERGE_KEY] = json!(s);
    report
}

/// The key of report.json that holds the summary for `runner report merge`.
pub const MERGE_KEY: &str = "merge";

/// The summary kept in report.json's `merge` (`path` names the file in errors).
pub fn read(text: &str, path: &std::path::Path) -> Result<Summary, String> {
    let mut value: Value =
        serde_json::from_str(text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let summary = value.get_mut(MERGE_KEY).map(Value::take).ok_or_else(|| {
        format!(
            "{} has no `{MERGE_KEY}` section: it was written by an older runner, or is not a report.json",
            path.display()
        )
    })?;
    serde_json::from_value(summary).map_err(|e| format!("{}: `{MERGE_KEY}`: {e}", path.display()))
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Writes report.json.
pub fn write(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &to_value(s))?;
    writeln!(out)
}
