//! OpenTelemetry over OTLP/HTTP with the JSON encoding (`--otlp-endpoint`),
//! which collectors, Datadog, New Relic and Grafana accept: a trace per order
//! (user), its flow the root span and each HTTP attempt a client span under
//! it; and the per-step figures as metrics. Hand-written: the OTLP JSON
//! mapping is small and fixed, and the SDK would bring a second HTTP stack.

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::recorder::notice::{Figures, Span, StepFigures};

/// The resource every span and metric belongs to.
pub struct Resource {
    /// The scenario (`runner.scenario`).
    pub scenario: String,
    /// `I/N` when the run is a segment.
    pub segment: Option<String>,
    /// Random per run: the high half of every trace id.
    pub run: u64,
}

impl Resource {
    fn attributes(&self) -> Value {
        let mut list = vec![
            ("service.name", "runner".to_owned()),
            ("service.version", env!("CARGO_PKG_VERSION").to_owned()),
            ("runner.scenario", self.scenario.clone()),
        ];
        if let Some(s) = &self.segment {
            list.push(("runner.segment", s.clone()));
        }
        attributes(list.iter().map(|(k, v)| (*k, v.as_str())))
    }

    /// The trace of order `order`.
    pub fn trace_id(&self, order: u32) -> String {
        format!("{:016x}{:016x}", self.run, u64::from(order))
    }
}

/// The root span id of order `order`'s trace (attempts get ids below 2^63).
pub fn root_span_id(order: u32) -> String {
    format!("{:016x}", (1u64 << 63) | u64::from(order))
}

/// Attributes whose values are whole numbers (OTLP `intValue`).
const INTEGERS: [&str; 2] = ["http.response.status_code", "runner.attempt"];

fn attributes<'a>(list: impl Iterator<Item = (&'a str, &'a str)>) -> Value {
    Value::Array(
        list.map(|(k, v)| {
            if INTEGERS.contains(&k) {
                json!({ "key": k, "value": { "intValue": v } })
            } else {
                json!({ "key": k, "value": { "stringValue": v } })
            }
        })
        .collect(),
    )
}

fn nanos(t: SystemTime) -> String {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
        .to_string()
}

fn scope() -> Value {
    json!({ "name": "runner", "version": env!("CARGO_PKG_VERSION") })
}

/// The body of `POST /v1/traces`; `next_id` numbers the attempts' spans.
pub fn traces(resource: &Resource, spans: &[Span], next_id: &mut u64) -> Value {
    let spans: Vec<Value> = spans
        .iter()
        .map(|s| {
            // Run-wide requests (setup, phases, teardown) share a trace with no root.
            let parent = if s.root || s.order == crate::plan::RUN_WIDE {
                String::new()
            } else {
                root_span_id(s.order)
            };
            let (id, kind) = if s.root {
                (root_span_id(s.order), 1)
            } else {
                *next_id += 1;
                (format!("{:016x}", *next_id), 3)
            };
            json!({
                "traceId": resource.trace_id(s.order),
                "spanId": id,
                "parentSpanId": parent,
                "name": &*s.name,
                "kind": kind,
                "startTimeUnixNano": nanos(s.start),
                "endTimeUnixNano": nanos(s.end),
                "attributes": attributes(s.attributes.iter().map(|(k, v)| (*k, v.as_str()))),
                "status": { "code": if s.error { 2 } else { 1 } },
            })
        })
        .collect();
    json!({ "resourceSpans": [{
        "resource": { "attributes": resource.attributes() },
        "scopeSpans": [{ "scope": scope(), "spans": spans }],
    }]})
}

/// The body of `POST /v1/metrics`: cumulative attempts and errors per step,
/// latency percentiles per step as gauges, flows ended and failed.
pub fn metrics(resource: &Resource, f: &Figures) -> Value {
    let (since, at) = (nanos(f.since), nanos(f.at));
    let step = |name: &str| attributes(std::iter::once(("runner.step", name)));
    let sum = |name: &str, unit: &str, points: Vec<Value>| {
        json!({ "name": name, "unit": unit, "sum": {
            "aggregationTemporality": 2, "isMonotonic": true, "dataPoints": points } })
    };
    let int_point = |attrs: Value, n: u64| json!({ "attributes": attrs, "startTimeUnixNano": since, "timeUnixNano": at, "asInt": n.to_string() });
    let gauge = |name: &str, pick: fn(&StepFigures) -> f64| {
        let points: Vec<Value> = f
            .steps
            .iter()
            .map(
                |s| json!({ "attributes": step(&s.name), "timeUnixNano": at, "asDouble": pick(s) }),
            )
            .collect();
        json!({ "name": name, "unit": "ms", "gauge": { "dataPoints": points } })
    };
    let metrics = vec![
        sum(
            "runner.requests",
            "{request}",
            f.steps
                .iter()
                .map(|s| int_point(step(&s.name), s.attempts))
                .collect(),
        ),
        sum(
            "runner.errors",
            "{request}",
            f.steps
                .iter()
                .map(|s| int_point(step(&s.name), s.errors))
                .collect(),
        ),
        gauge("runner.latency.p50", |s| s.p50_ms),
        gauge("runner.latency.p95", |s| s.p95_ms),
        gauge("runner.latency.p99", |s| s.p99_ms),
        sum(
            "runner.flows.ended",
            "{flow}",
            vec![int_point(json!([]), f.flows.0)],
        ),
        sum(
            "runner.flows.failed",
            "{flow}",
            vec![int_point(json!([]), f.flows.1)],
        ),
    ];
    json!({ "resourceMetrics": [{
        "resource": { "attributes": resource.attributes() },
        "scopeMetrics": [{ "scope": scope(), "metrics": metrics }],
    }]})
}
