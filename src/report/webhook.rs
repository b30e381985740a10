//! Alert webhooks (`--webhook URL`): the JSON bodies POSTed when a breaker
//! opens, a threshold fails and the run ends. Each carries `event`, the
//! scenario and a one-line `text`, which Slack and Mattermost incoming
//! webhooks show as the message (and `content` for Discord).

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::recorder::{Summary, ThresholdOutcome};

fn body(event: &str, scenario: &str, at: SystemTime, text: String, details: Value) -> Value {
    let mut body = json!({
        "event": event,
        "scenario": scenario,
        "at": humantime::format_rfc3339_millis(at).to_string(),
        "text": text,
        "content": text,
    });
    if let (Some(body), Value::Object(details)) = (body.as_object_mut(), details) {
        body.extend(details);
    }
    body
}

/// An endpoint's circuit breaker opened.
pub fn breaker_opened(scenario: &str, endpoint: &str, at: SystemTime) -> Value {
    let text = format!("runner · {scenario}: circuit breaker opened on `{endpoint}`");
    body(
        "breaker_opened",
        scenario,
        at,
        text,
        json!({ "endpoint": endpoint }),
    )
}

/// A threshold did not hold at the end.
pub fn threshold_failed(scenario: &str, t: &ThresholdOutcome) -> Value {
    let text = format!(
        "runner · {scenario}: threshold failed: {} ({})",
        t.expr, t.detail
    );
    body(
        "threshold_failed",
        scenario,
        SystemTime::now(),
        text,
        json!({ "threshold": t.expr, "actual": t.actual, "detail": t.detail }),
    )
}

/// The run ended: the verdict and the totals.
pub fn run_ended(s: &Summary) -> Value {
    let verdict = if s.interrupted {
        "INTERRUPTED"
    } else if s.passed() {
        "PASS"
    } else {
        "FAIL"
    };
    let text = format!(
        "runner · {}: {verdict}, {} requests, {:.2}% errors, {} of {} {} failed, {} stranded",
        s.scenario,
        s.requests(),
        s.error_rate() * 100.0,
        s.population.failed,
        s.population.total,
        if s.noun.is_empty() { "orders" } else { &s.noun },
        s.population.stranded
    );
    body(
        "run_ended",
        &s.scenario,
        SystemTime::now(),
        text,
        json!({
            "passed": s.passed(),
            "interrupted": s.interrupted,
            "duration_s": s.duration.as_secs_f64(),
            "requests": s.requests(),
            "errors": s.errors(),
            "error_rate": s.error_rate(),
            "population": {
                "total": s.population.total,
                "created": s.population.created,
                "failed": s.population.failed,
                "stranded": s.population.stranded,
                "dropped": s.population.dropped,
            },
            "thresholds_failed": s.thresholds.iter().filter(|t| !t.passed).count(),
            "segment": s.segment,
        }),
    )
}
