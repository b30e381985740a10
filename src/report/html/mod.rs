//! report.html: renders the summary as one self-contained page from `report.html.j2`.
//!
//! Everything is inline: a `<style>` block, tables, and charts drawn as SVG by
//! plotters' SVG backend. No scripts, no fonts, no links to the network. The
//! page only formats what [`Summary`] already holds; it computes no metrics.
//! Every chart sits in a `<section id="chart-…">` with a stable id, and every
//! chart and table says "no data" instead of failing when its input is empty.
//!
//! The markup is the template `report.html.j2`, rendered by minijinja with HTML
//! auto-escaping, so all text that comes from the run (step names, reasons, ids)
//! is escaped. This module builds the template's context: the summary's parts
//! as they are, plus what the page derives from them (cards, charts, capped lists).

mod charts;
mod format;
mod plot;

use std::collections::BTreeMap;
use std::io::{self, Write};

use minijinja::Environment;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use serde::Serialize;

use crate::recorder::{
    BatchTime, Dist, GroupStats, IntervalAccuracy, OrderRef, StepStats, Summary, ThresholdOutcome,
    Transition,
};

/// Most rows of failed orders, stranded orders and batches shown (report.json lists all).
const ROW_LIMIT: usize = 200;

/// The template's name; its `.html` stem turns HTML auto-escaping on.
const TEMPLATE_NAME: &str = "report.html.j2";

/// Writes the whole page.
pub fn write(summary: &Summary, out: &mut impl Write) -> io::Result<()> {
    let page = render(&Page::new(summary)).map_err(io::Error::other)?;
    out.write_all(page.as_bytes())
}

/// Renders the embedded template with `page` as its context.
fn render(page: &Page<'_>) -> Result<String, minijinja::Error> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()?,
    );
    // A misspelt name in the template fails the tests instead of printing nothing.
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("num", format::num);
    env.add_test("off_target", |pct: f64| {
        pct.abs() > charts::TIMING_TARGET_PCT
    });
    env.add_template(TEMPLATE_NAME, include_str!("report.html.j2"))?;
    let html = env.get_template(TEMPLATE_NAME)?.render(Serde(page))?;
    // minijinja's HTML escaping also writes `/` as `&#x2f;`. HTML needs that
    // nowhere on this page, and with it the target URL would not read as itself
    // in the source; `&#x2f;` means `/` wherever it stands, so this changes nothing shown.
    Ok(html.replace("&#x2f;", "/"))
}

/// Everything the template shows.
#[derive(Serialize)]
struct Page<'a> {
    version: &'static str,
    scenario: &'a str,
    passed: bool,
    target: &'a str,
    started_at: &'a str,
    duration: String,
    seed: u64,
    /// The speed factor as written by Rust (`100`, not `100.0`).
    speed: String,
    /// Whether time was compressed (speed other than 1).
    compressed: bool,
    interrupted: bool,
    events_error: Option<&'a str>,
    cards: Vec<Card<'a>>,
    final_states: &'a BTreeMap<String, u64>,
    thresholds: &'a [ThresholdOutcome],
    steps: &'a [StepStats],
    endpoints: &'a [StepStats],
    by_flow: &'a [(String, Vec<StepStats>)],
    /// (step, class, count) for every error class of every step.
    error_classes: Vec<(&'a str, &'a str, u64)>,
    charts: charts::Charts,
    timing: &'a [IntervalAccuracy],
    transitions: &'a [Transition],
    time_to_state: &'a [(String, Dist)],
    groups: &'a [GroupStats],
    counters: &'a [(String, f64)],
    trends: &'a [(String, Dist)],
    lifetime_ms: &'a Dist,
    flow_duration_ms: &'a Dist,
    batch_duration_ms: &'a Dist,
    polls: &'a Dist,
    batches: Capped<'a, BatchTime>,
    failed: Capped<'a, OrderRef>,
    stranded: Capped<'a, OrderRef>,
}

impl<'a> Page<'a> {
    fn new(s: &'a Summary) -> Self {
        let l = &s.lifecycle;
        Page {
            version: env!("CARGO_PKG_VERSION"),
            scenario: &s.scenario,
            passed: s.passed(),
            target: &s.target,
            started_at: &s.started_at,
            duration: format::duration(s.duration),
            seed: s.seed,
            speed: s.speed.to_string(),
            compressed: s.speed != 1.0,
            interrupted: s.interrupted,
            events_error: s.events_error.as_deref(),
            cards: cards(s),
            final_states: &s.population.by_state,
            thresholds: &s.thresholds,
            steps: &s.steps,
            endpoints: &s.endpoints,
            by_flow: &s.by_flow,
            error_classes: s
                .steps
                .iter()
                .flat_map(|st| {
                    st.error_classes
                        .iter()
                        .map(|(class, n)| (st.name.as_str(), class.as_str(), *n))
                })
                .collect(),
            charts: charts::draw(s),
            timing: &s.timing,
            transitions: &l.transitions,
            time_to_state: &l.time_to_state,
            groups: &s.groups,
            counters: &s.counters,
            trends: &s.trends,
            lifetime_ms: &l.lifetime_ms,
            flow_duration_ms: &l.flow_duration_ms,
            batch_duration_ms: &l.batch_duration_ms,
            polls: &l.polls,
            batches: Capped::new(&l.batches),
            failed: Capped::new(&s.failed),
            stranded: Capped::new(&s.stranded),
        }
    }
}

/// A list cut to its first [`ROW_LIMIT`] rows, with its full length.
#[derive(Serialize)]
struct Capped<'a, T> {
    total: usize,
    shown: usize,
    rows: &'a [T],
}

impl<'a, T> Capped<'a, T> {
    fn new(list: &'a [T]) -> Self {
        let shown = list.len().min(ROW_LIMIT);
        Capped {
            total: list.len(),
            shown,
            rows: &list[..shown],
        }
    }
}

/// One summary card: a value, what it counts, and whether it is bad news.
#[derive(Serialize)]
struct Card<'a> {
    key: &'a str,
    value: String,
    bad: bool,
}

/// Order totals, requests and error rate as cards.
fn cards(s: &Summary) -> Vec<Card<'_>> {
    let card = |key, value: u64, bad| Card {
        key,
        value: value.to_string(),
        bad,
    };
    let reached = |k: &str| s.population.reached.get(k).copied().unwrap_or(0);
    let mut list = vec![
        card(&s.noun, s.population.total, false),
        card("created", s.population.created, false),
        card("activated", reached("Activated"), false),
        card("cancelled", reached("Cancelled"), false),
        card("ended", reached("Ended"), false),
        card("failed", s.population.failed, !s.failed_within_accepted()),
        card("stranded", s.population.stranded, s.population.stranded > 0),
    ];
    if s.population.interrupted > 0 {
        list.push(card("interrupted", s.population.interrupted, true));
    }
    if let Some(a) = &s.arrivals {
        list.push(card("arrivals started", a.started, false));
        list.push(card("dropped", a.dropped, a.dropped > 0));
        list.push(Card {
            key: "start lag p99",
            value: format!("{:.2} ms", a.start_lag_ms.p99),
            bad: false,
        });
    }
    let errors = s.errors();
    list.push(card("requests", s.requests(), false));
    list.push(card("errors", errors, errors > 0));
    list.push(Card {
        key: "error rate",
        value: format!("{:.2} %", s.error_rate() * 100.0),
        bad: errors > 0,
    });
    list
}

#[cfg(test)]
mod tests;
