//! report.html: the summary as one self-contained page to hand on.
//!
//! Everything is inline: a `<style>` block, tables, and charts drawn as SVG by
//! plotters' SVG backend. No scripts, no fonts, no links to the network. The
//! page only formats what [`Summary`] already holds; it computes no metrics.
//! Every chart sits in a `<section id="chart-…">` with a stable id, and every
//! chart and table says "no data" instead of failing when its input is empty.
//! All text that comes from the run (step names, reasons, ids) is escaped.

use std::fmt;
use std::io::{self, Write};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::recorder::{Dist, OrderRef, Second, StepStats, Summary};

/// Most rows of failed orders, stranded orders and batches shown (report.json lists all).
const ROW_LIMIT: usize = 200;

/// Width of every chart, in SVG pixels (the page scales it down on narrow screens).
const CHART_WIDTH: u32 = 1000;

/// Height of the line charts.
const LINE_HEIGHT: u32 = 340;

/// Most timeline entries plotted; longer timelines are shown every k-th second.
const MAX_POINTS: usize = 4000;

/// Timelines up to this long get a marker on every point (a 1 s run is one dot).
const MARKER_POINTS: usize = 60;

/// Longest category label drawn in a bar chart (the tables show the whole name).
const LABEL_CHARS: usize = 42;

/// The relative deviation the design asks waits to stay within, drawn as a reference.
const TIMING_TARGET_PCT: f64 = 5.0;

/// Font sizes in plotters' units (plotters draws them at about 0.8 px each):
/// tick labels, axis descriptions, values at the bar ends.
const LABEL_SIZE: u32 = 16;
const DESC_SIZE: u32 = 17;
const VALUE_SIZE: u32 = 15;

/// Chart colours (Tableau 10).
const BLUE: RGBColor = RGBColor(0x4e, 0x79, 0xa7);
const ORANGE: RGBColor = RGBColor(0xf2, 0x8e, 0x2b);
const RED: RGBColor = RGBColor(0xe1, 0x57, 0x59);
const TEAL: RGBColor = RGBColor(0x76, 0xb7, 0xb2);
const GREEN: RGBColor = RGBColor(0x59, 0xa1, 0x4f);
const YELLOW: RGBColor = RGBColor(0xed, 0xc9, 0x48);
const PURPLE: RGBColor = RGBColor(0xb0, 0x7a, 0xa1);
const PINK: RGBColor = RGBColor(0xff, 0x9d, 0xa7);
const BROWN: RGBColor = RGBColor(0x9c, 0x75, 0x5f);
const GREY: RGBColor = RGBColor(0x8c, 0x8c, 0x8c);

/// Colours given to order states, in state order.
const STATE_COLORS: &[RGBColor] = &[BLUE, ORANGE, GREEN, RED, PURPLE, TEAL, YELLOW, PINK, BROWN];

/// Writes the whole page.
pub fn write(summary: &Summary, out: &mut impl Write) -> io::Result<()> {
    head(summary, out)?;
    header(summary, out)?;
    nav(summary, out)?;
    cards(summary, out)?;
    thresholds(summary, out)?;
    steps(summary, out)?;
    chart_latency(summary, out)?;
    chart_throughput(summary, out)?;
    chart_status(summary, out)?;
    chart_funnel(summary, out)?;
    chart_states(summary, out)?;
    chart_timing(summary, out)?;
    lifecycle(summary, out)?;
    order_list(
        out,
        "failed",
        "Failed orders",
        &summary.failed,
        "No order failed.",
    )?;
    order_list(
        out,
        "stranded",
        "Stranded orders (not terminal at the end)",
        &summary.stranded,
        "Every created order ended in a terminal state.",
    )?;
    writeln!(
        out,
        "<footer>runner {} · report.json holds the same data in full</footer>\n</main>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION")
    )
}

// ---------------------------------------------------------------- page frame

/// The inline stylesheet.
const STYLE: &str = r#"
:root { --fg:#1d2330; --muted:#667085; --line:#e3e6eb; --bg:#f6f7f9; --card:#fff;
        --pass:#2e7d32; --fail:#c62828; --warn:#b26a00; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
       font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width:1100px; margin:0 auto; padding:24px 20px 40px; }
h1 { font-size:24px; margin:0 0 6px; display:flex; align-items:center; gap:12px; flex-wrap:wrap; }
h2 { font-size:18px; margin:0 0 12px; }
h3 { font-size:15px; margin:18px 0 8px; }
section, header { background:var(--card); border:1px solid var(--line); border-radius:8px;
                  padding:16px 18px; margin:0 0 16px; }
.meta { color:var(--muted); display:flex; flex-wrap:wrap; gap:4px 18px; }
.meta b { color:var(--fg); font-weight:600; }
.badge { display:inline-block; padding:2px 10px; border-radius:999px; color:#fff;
         font-size:13px; font-weight:700; letter-spacing:.04em; }
.badge.pass { background:var(--pass); } .badge.fail { background:var(--fail); }
.note { color:var(--muted); margin:8px 0 0; }
.warn { color:var(--warn); }
.nodata { color:var(--muted); font-style:italic; margin:4px 0; }
nav { margin:0 0 16px; display:flex; flex-wrap:wrap; gap:6px 14px; font-size:13px; }
nav a { color:#3a5a8c; text-decoration:none; } nav a:hover { text-decoration:underline; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(130px, 1fr)); gap:10px; }
.card { border:1px solid var(--line); border-radius:6px; padding:10px 12px; }
.card .v { font-size:22px; font-weight:650; font-variant-numeric:tabular-nums; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.card.bad .v { color:var(--fail); } .card.good .v { color:var(--pass); }
.scroll { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top;
         overflow-wrap:break-word; }
th { text-align:left; font-size:12px; color:var(--muted); font-weight:600; white-space:nowrap;
     background:#fafbfc; }
td.r, th.r { text-align:right; white-space:nowrap; }
tbody tr:nth-child(even) { background:#fbfbfc; }
td .pass { color:var(--pass); font-weight:700; } td .fail { color:var(--fail); font-weight:700; }
details { margin:10px 0 0; } summary { cursor:pointer; font-weight:600; }
details > .scroll { margin-top:8px; }
.chart svg { display:block; max-width:100%; height:auto; }
.legend { display:flex; flex-wrap:wrap; gap:4px 16px; font-size:13px; margin:0 0 6px; }
.legend span::before { content:""; display:inline-block; width:14px; height:4px;
                       margin:0 6px 3px 0; background:var(--c); vertical-align:middle; }
.legend span.dash::before { background:repeating-linear-gradient(90deg, var(--c) 0 4px, transparent 4px 7px); }
footer { color:var(--muted); font-size:12px; text-align:center; }
@media print { body { background:#fff; } section, header { break-inside:avoid; } }
"#;

/// `<!DOCTYPE>`, `<head>` with the title and the stylesheet, and the page start.
fn head(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>runner · {} · {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>",
        esc(&s.scenario),
        verdict(s.passed())
    )
}

/// Scenario, target, start, duration, seed, speed and the PASS/FAIL badge.
fn header(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    let passed = s.passed();
    writeln!(
        out,
        "<header id=\"run\">\n<h1>{} <span class=\"badge {}\">{}</span></h1>",
        esc(&s.scenario),
        if passed { "pass" } else { "fail" },
        verdict(passed)
    )?;
    writeln!(
        out,
        "<div class=\"meta\"><span>target <b>{}</b></span><span>started <b>{}</b></span>\
         <span>duration <b>{}</b></span><span>seed <b>{}</b></span><span>speed <b>×{}</b></span></div>",
        esc(&s.target),
        esc(&s.started_at),
        duration(s.duration),
        s.seed,
        s.speed
    )?;
    if s.speed != 1.0 {
        writeln!(
            out,
            "<p class=\"note\">Time was compressed: every configured interval was divided by {}.</p>",
            s.speed
        )?;
    }
    if s.interrupted {
        writeln!(
            out,
            "<p class=\"note warn\">The run was interrupted (Ctrl-C); cleanup ran before the report.</p>"
        )?;
    }
    if let Some(e) = &s.events_error {
        writeln!(
            out,
            "<p class=\"note warn\">events.csv is incomplete: {}</p>",
            esc(e)
        )?;
    }
    writeln!(out, "</header>")
}

/// Links to every section on the page.
fn nav(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    const LINKS: &[(&str, &str)] = &[
        ("summary", "Summary"),
        ("thresholds", "Thresholds"),
        ("steps", "Steps"),
        ("chart-latency", "Latency"),
        ("chart-throughput", "Throughput"),
        ("chart-status", "Status codes"),
        ("chart-funnel", "Funnel"),
        ("chart-states", "States over time"),
        ("chart-timing", "Timing"),
        ("lifecycle", "Lifecycle"),
        ("failed", "Failed"),
        ("stranded", "Stranded"),
    ];
    write!(out, "<nav>")?;
    for (id, name) in LINKS {
        if *id == "thresholds" && s.thresholds.is_empty() {
            continue;
        }
        write!(out, "<a href=\"#{id}\">{name}</a>")?;
    }
    writeln!(out, "</nav>")
}

// ---------------------------------------------------------------- tables

/// Order totals, requests and error rate as cards.
fn cards(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    let reached = |k: &str| s.orders.reached.get(k).copied().unwrap_or(0);
    let mut list: Vec<(&str, String, &str)> = vec![
        ("orders", s.orders.total.to_string(), ""),
        ("created", s.orders.created.to_string(), ""),
        ("activated", reached("Activated").to_string(), ""),
        ("cancelled", reached("Cancelled").to_string(), ""),
        ("ended", reached("Ended").to_string(), ""),
        (
            "failed",
            s.orders.failed.to_string(),
            bad_if(s.orders.failed > 0),
        ),
        (
            "stranded",
            s.orders.stranded.to_string(),
            bad_if(s.orders.stranded > 0),
        ),
    ];
    if s.orders.interrupted > 0 {
        list.push(("interrupted", s.orders.interrupted.to_string(), "bad"));
    }
    let errors = s.errors();
    list.push(("requests", s.requests().to_string(), ""));
    list.push(("errors", errors.to_string(), bad_if(errors > 0)));
    list.push((
        "error rate",
        format!("{:.2} %", s.error_rate() * 100.0),
        bad_if(errors > 0),
    ));
    writeln!(
        out,
        "<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"cards\">"
    )?;
    for (key, value, class) in list {
        writeln!(
            out,
            "<div class=\"card {class}\"><div class=\"v\">{value}</div><div class=\"k\">{key}</div></div>"
        )?;
    }
    writeln!(out, "</div>")?;
    if !s.orders.by_state.is_empty() {
        let states: Vec<String> = s
            .orders
            .by_state
            .iter()
            .map(|(k, v)| format!("{} {v}", esc(k)))
            .collect();
        writeln!(
            out,
            "<p class=\"note\">Final states: {}</p>",
            states.join(" · ")
        )?;
    }
    writeln!(out, "</section>")
}

/// Thresholds with their verdicts; nothing when the script set none.
fn thresholds(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    if s.thresholds.is_empty() {
        return Ok(());
    }
    writeln!(out, "<section id=\"thresholds\">\n<h2>Thresholds</h2>")?;
    let rows = s.thresholds.iter().map(|t| {
        vec![
            format!("<code>{}</code>", esc(&t.expr)),
            verdict_cell(t.passed),
            t.actual.map(num).unwrap_or_default(),
            esc(&t.detail).to_string(),
        ]
    });
    table(
        out,
        &["threshold", "result", "actual", "detail"],
        "llrl",
        rows,
    )?;
    writeln!(out, "</section>")
}

/// Per-step latency tables, over all orders and per order type, and errors by class.
fn steps(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "<section id=\"steps\">\n<h2>Steps</h2>\n<p class=\"note\">Latency in ms, per HTTP attempt (polls and retries included).</p>"
    )?;
    step_table(out, &s.steps)?;
    for (order_type, list) in &s.by_type {
        writeln!(
            out,
            "<details><summary>order type {}</summary>",
            esc(order_type)
        )?;
        step_table(out, list)?;
        writeln!(out, "</details>")?;
    }
    error_classes(out, &s.steps)?;
    writeln!(out, "</section>")
}

/// One step table: count, errors, mean, stddev and percentiles.
fn step_table(out: &mut impl Write, list: &[StepStats]) -> io::Result<()> {
    if list.is_empty() {
        return no_data(out);
    }
    let rows = list.iter().map(|st| {
        vec![
            esc(&st.name).to_string(),
            st.count.to_string(),
            st.errors.to_string(),
            num(st.mean_ms),
            num(st.stddev_ms),
            num(st.p50_ms),
            num(st.p90_ms),
            num(st.p95_ms),
            num(st.p99_ms),
            num(st.p999_ms),
            num(st.max_ms),
        ]
    });
    table(
        out,
        &[
            "step", "count", "errors", "mean", "stddev", "p50", "p90", "p95", "p99", "p99.9", "max",
        ],
        "lrrrrrrrrrr",
        rows,
    )
}

/// Errors by class per step, when there were any.
fn error_classes(out: &mut impl Write, list: &[StepStats]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = list
        .iter()
        .flat_map(|st| {
            st.error_classes.iter().map(move |(class, n)| {
                vec![
                    esc(&st.name).to_string(),
                    esc(class).to_string(),
                    n.to_string(),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(out, "<h3>Errors by class</h3>")?;
    table(out, &["step", "class", "count"], "llr", rows)
}

/// Transitions, time to each state, durations, polls and batches.
fn lifecycle(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    let l = &s.lifecycle;
    writeln!(
        out,
        "<section id=\"lifecycle\">\n<h2>Order lifecycle</h2>\n<h3>Transitions</h3>"
    )?;
    if l.transitions.is_empty() {
        no_data(out)?;
    } else {
        let rows = l.transitions.iter().map(|t| {
            let from = if t.from.is_empty() {
                "<span class=\"note\">(first seen)</span>".to_string()
            } else {
                esc(&t.from).to_string()
            };
            vec![from, esc(&t.to).to_string(), t.count.to_string()]
        });
        table(out, &["from", "to", "count"], "llr", rows)?;
    }

    writeln!(out, "<h3>Time from create to state (ms)</h3>")?;
    if l.time_to_state.is_empty() {
        no_data(out)?;
    } else {
        let rows = l
            .time_to_state
            .iter()
            .map(|(state, d)| dist_row(esc(state).to_string(), d));
        table(out, &dist_head("state"), "lrrrrrrr", rows)?;
    }

    writeln!(out, "<h3>Durations and polls</h3>")?;
    let rows = [
        ("order life, create to terminal (ms)", &l.order_duration_ms),
        ("flow (ms)", &l.flow_duration_ms),
        ("batch (ms)", &l.batch_duration_ms),
        ("polls per order", &l.polls_per_order),
    ]
    .into_iter()
    .map(|(name, d)| dist_row(name.to_string(), d));
    table(out, &dist_head(""), "lrrrrrrr", rows)?;

    batches(s, out)?;
    writeln!(out, "</section>")
}

/// Header of a [`Dist`] table whose first column is `name`.
fn dist_head(name: &str) -> [&str; 8] {
    [name, "count", "mean", "p50", "p90", "p95", "p99", "max"]
}

/// One [`Dist`] as a table row under [`dist_head`].
fn dist_row(name: String, d: &Dist) -> Vec<String> {
    if d.count == 0 {
        let mut row = vec![name, "0".into()];
        row.extend(std::iter::repeat_n("–".to_string(), 6));
        return row;
    }
    vec![
        name,
        d.count.to_string(),
        num(d.mean),
        num(d.p50),
        num(d.p90),
        num(d.p95),
        num(d.p99),
        num(d.max),
    ]
}

/// Every batch with its type, size and duration, folded.
fn batches(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    let list = &s.lifecycle.batches;
    if list.is_empty() {
        return Ok(());
    }
    writeln!(out, "<details><summary>{} batches</summary>", list.len())?;
    let rows = list.iter().take(ROW_LIMIT).map(|b| {
        vec![
            b.batch.to_string(),
            esc(&b.order_type).to_string(),
            b.orders.to_string(),
            num(b.duration_ms),
        ]
    });
    table(
        out,
        &["batch", "type", "orders", "duration (ms)"],
        "rlrr",
        rows,
    )?;
    capped_note(out, list.len())?;
    writeln!(out, "</details>")
}

/// A section listing orders (failed or stranded), at most [`ROW_LIMIT`] rows.
fn order_list(
    out: &mut impl Write,
    id: &str,
    title: &str,
    list: &[OrderRef],
    none: &str,
) -> io::Result<()> {
    writeln!(
        out,
        "<section id=\"{id}\">\n<h2>{title} ({})</h2>",
        list.len()
    )?;
    if list.is_empty() {
        writeln!(out, "<p class=\"nodata\">{none}</p>")?;
    } else {
        let opt = |v: &Option<String>| v.as_deref().map(|v| esc(v).to_string()).unwrap_or_default();
        let rows = list.iter().take(ROW_LIMIT).map(|o| {
            vec![
                o.n.to_string(),
                esc(&o.order_number).to_string(),
                opt(&o.id),
                esc(&o.order_type).to_string(),
                o.batch.to_string(),
                opt(&o.state),
                opt(&o.step),
                esc(&o.reason).to_string(),
            ]
        });
        table(
            out,
            &[
                "#", "order", "id", "type", "batch", "state", "step", "reason",
            ],
            "rlllrlll",
            rows,
        )?;
        capped_note(out, list.len())?;
    }
    writeln!(out, "</section>")
}

/// Says that a list was cut at [`ROW_LIMIT`] rows, when it was.
fn capped_note(out: &mut impl Write, len: usize) -> io::Result<()> {
    if len > ROW_LIMIT {
        writeln!(
            out,
            "<p class=\"note\">Showing the first {ROW_LIMIT} of {len}; report.json lists all.</p>"
        )?;
    }
    Ok(())
}

/// A table; `align` has one letter per column, `l` (text) or `r` (number).
/// Cells are HTML already (callers escape text).
fn table(
    out: &mut impl Write,
    head: &[&str],
    align: &str,
    rows: impl IntoIterator<Item = Vec<String>>,
) -> io::Result<()> {
    let class = |i: usize| {
        if align.as_bytes().get(i) == Some(&b'r') {
            " class=\"r\""
        } else {
            ""
        }
    };
    write!(out, "<div class=\"scroll\"><table>\n<thead><tr>")?;
    for (i, h) in head.iter().enumerate() {
        write!(out, "<th{}>{h}</th>", class(i))?;
    }
    writeln!(out, "</tr></thead>\n<tbody>")?;
    for row in rows {
        write!(out, "<tr>")?;
        for (i, cell) in row.iter().enumerate() {
            write!(out, "<td{}>{cell}</td>", class(i))?;
        }
        writeln!(out, "</tr>")?;
    }
    writeln!(out, "</tbody>\n</table></div>")
}

/// The "no data" line shown instead of an empty table or chart.
fn no_data(out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "<p class=\"nodata\">no data</p>")
}

// ---------------------------------------------------------------- charts

/// p50/p95/p99 latency per second; seconds without requests are gaps.
fn chart_latency(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    let (points, stride) = sampled(&s.timeline);
    let latency = |f: fn(&Second) -> f64| -> Vec<(u32, Option<f64>)> {
        points
            .iter()
            .map(|sec| (sec.t, (sec.requests > 0).then(|| f(sec))))
            .collect()
    };
    let lines = [
        Line::new("p50", BLUE, latency(|x| x.p50_ms)),
        Line::new("p95", ORANGE, latency(|x| x.p95_ms)),
        Line::new("p99", RED, latency(|x| x.p99_ms)),
    ];
    let has_data = points.iter().any(|sec| sec.requests > 0);
    chart_section(
        out,
        "chart-latency",
        "Latency over time",
        "Per second of the run, over every step; gaps are seconds without requests.",
        &legend(&lines),
        has_data.then(|| line_chart(&lines, "latency (ms)", x_max(&s.timeline))),
        stride,
    )
}

/// Requests and errors per second.
fn chart_throughput(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    let (points, stride) = sampled(&s.timeline);
    let count = |f: fn(&Second) -> u64| -> Vec<(u32, Option<f64>)> {
        points
            .iter()
            .map(|sec| (sec.t, Some(f(sec) as f64)))
            .collect()
    };
    let lines = [
        Line::new("requests/s", BLUE, count(|x| x.requests)),
        Line::new("errors/s", RED, count(|x| x.errors)),
    ];
    chart_section(
        out,
        "chart-throughput",
        "Throughput",
        "Exchanges that ended in each second, and how many of them were errors.",
        &legend(&lines),
        (!points.is_empty()).then(|| line_chart(&lines, "per second", x_max(&s.timeline))),
        stride,
    )
}

/// Responses per HTTP status over every step.
fn chart_status(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    let mut statuses = std::collections::BTreeMap::<u16, u64>::new();
    for st in &s.steps {
        for (code, n) in &st.statuses {
            *statuses.entry(*code).or_default() += n;
        }
    }
    let names: Vec<String> = statuses.keys().map(|c| c.to_string()).collect();
    let bars = Bars {
        values: statuses.values().map(|&n| n as f64).collect(),
        colors: statuses.keys().map(|&c| status_color(c)).collect(),
    };
    let chart = (!names.is_empty()).then(|| bar_chart(&names, &[bars], "responses", None));
    let classes: String = [(200, "2xx"), (300, "3xx"), (400, "4xx"), (500, "5xx")]
        .iter()
        .map(|&(code, name)| {
            format!(
                "<span style=\"--c:{}\">{name}</span>",
                hex(status_color(code))
            )
        })
        .collect();
    chart_section(
        out,
        "chart-status",
        "HTTP status codes",
        "Responses per status over every step; attempts without a response (timeouts, connection errors) are in the error classes.",
        &format!("<div class=\"legend\">{classes}</div>"),
        chart,
        1,
    )
}

/// Orders created, then orders that ever reached each state, in lifecycle order.
fn chart_funnel(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    let order = state_order(s);
    let mut names = vec!["created".to_string()];
    let mut values = vec![s.orders.created as f64];
    let mut colors = vec![GREY];
    for (i, state) in order.iter().enumerate() {
        if let Some(&n) = s.orders.reached.get(state) {
            names.push(state.clone());
            values.push(n as f64);
            colors.push(state_color(i));
        }
    }
    let has_data = s.orders.created > 0 || !s.orders.reached.is_empty();
    let bars = Bars { values, colors };
    chart_section(
        out,
        "chart-funnel",
        "Order lifecycle funnel",
        "Orders created, then orders that were ever in each state.",
        "",
        has_data.then(|| bar_chart(&names, &[bars], "orders", None)),
        1,
    )
}

/// Orders in each state at the end of every second, plus orders created so far.
fn chart_states(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    let (points, stride) = sampled(&s.timeline);
    let mut lines: Vec<Line> = state_order(s)
        .into_iter()
        .enumerate()
        .filter(|(_, state)| points.iter().any(|sec| sec.by_state.contains_key(state)))
        .map(|(i, state)| {
            let values = points
                .iter()
                .map(|sec| {
                    (
                        sec.t,
                        Some(sec.by_state.get(&state).copied().unwrap_or(0) as f64),
                    )
                })
                .collect();
            Line::new(&state, state_color(i), values)
        })
        .collect();
    let has_data = !lines.is_empty();
    lines.push(Line::new(
        "created so far",
        GREY,
        points
            .iter()
            .map(|sec| (sec.t, Some(sec.created as f64)))
            .collect(),
    ));
    chart_section(
        out,
        "chart-states",
        "Orders by state over time",
        "Orders in each state at the end of every second (orders not created yet are not counted).",
        &legend(&lines),
        has_data.then(|| line_chart(&lines, "orders", x_max(&s.timeline))),
        stride,
    )
}

/// Mean and p99 deviation of every kind of wait, as bars and as a table.
fn chart_timing(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    let names: Vec<String> = s.timing.iter().map(|t| t.name.clone()).collect();
    let series = [
        Bars {
            values: s.timing.iter().map(|t| t.mean_dev_pct).collect(),
            colors: vec![BLUE; names.len()],
        },
        Bars {
            values: s.timing.iter().map(|t| t.p99_dev_pct).collect(),
            colors: vec![ORANGE; names.len()],
        },
    ];
    let legend = format!(
        "<div class=\"legend\"><span style=\"--c:{}\">mean deviation (observed − configured)</span>\
         <span style=\"--c:{}\">p99 of |deviation|</span><span class=\"dash\" style=\"--c:#888\">{TIMING_TARGET_PCT} % target</span></div>",
        hex(BLUE),
        hex(ORANGE)
    );
    let chart = (!names.is_empty()).then(|| {
        bar_chart(
            &names,
            &series,
            "deviation from the configured wait (%)",
            Some(TIMING_TARGET_PCT),
        )
    });
    chart_open(
        out,
        "chart-timing",
        "Timing accuracy",
        "How far every kind of wait strayed from its configured duration, relative to it; positive is late.",
    )?;
    chart_body(out, &legend, chart, 1)?;
    timing_table(s, out)?;
    writeln!(out, "</section>")
}

/// Configured vs observed per wait, under the timing chart.
fn timing_table(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    if s.timing.is_empty() {
        return Ok(());
    }
    let rows = s.timing.iter().map(|t| {
        let pct = |v: f64| {
            if v.abs() > TIMING_TARGET_PCT {
                format!("<span class=\"warn\">{}</span>", num(v))
            } else {
                num(v)
            }
        };
        vec![
            esc(&t.name).to_string(),
            t.count.to_string(),
            num(t.configured_ms),
            num(t.observed_ms),
            num(t.mean_dev_ms),
            num(t.p99_dev_ms),
            pct(t.mean_dev_pct),
            pct(t.p99_dev_pct),
        ]
    });
    table(
        out,
        &[
            "wait",
            "count",
            "configured ms",
            "observed ms",
            "mean dev ms",
            "p99 |dev| ms",
            "mean dev %",
            "p99 |dev| %",
        ],
        "lrrrrrrr",
        rows,
    )
}

/// Writes a chart's whole section: heading, note, legend, then the SVG or "no data".
fn chart_section(
    out: &mut impl Write,
    id: &str,
    title: &str,
    note: &str,
    legend: &str,
    chart: Option<Result<String, String>>,
    stride: usize,
) -> io::Result<()> {
    chart_open(out, id, title, note)?;
    chart_body(out, legend, chart, stride)?;
    writeln!(out, "</section>")
}

/// Opens a chart's section with its heading and note.
fn chart_open(out: &mut impl Write, id: &str, title: &str, note: &str) -> io::Result<()> {
    writeln!(
        out,
        "<section id=\"{id}\" class=\"chart\">\n<h2>{title}</h2>\n<p class=\"note\">{note}</p>"
    )
}

/// The legend and the SVG, "no data" when there is no chart, or the drawing error.
fn chart_body(
    out: &mut impl Write,
    legend: &str,
    chart: Option<Result<String, String>>,
    stride: usize,
) -> io::Result<()> {
    match chart {
        None => no_data(out)?,
        Some(Err(e)) => writeln!(
            out,
            "<p class=\"nodata\">chart could not be drawn: {}</p>",
            esc(&e)
        )?,
        Some(Ok(svg)) => {
            writeln!(out, "{legend}")?;
            out.write_all(svg.as_bytes())?;
            if stride > 1 {
                writeln!(
                    out,
                    "<p class=\"note\">Long run: every {stride}th second is plotted.</p>"
                )?;
            }
        }
    }
    Ok(())
}

/// One line of a line chart: `None` values are gaps.
struct Line {
    label: String,
    color: RGBColor,
    points: Vec<(u32, Option<f64>)>,
}

impl Line {
    fn new(label: &str, color: RGBColor, points: Vec<(u32, Option<f64>)>) -> Self {
        Line {
            label: label.to_string(),
            color,
            points,
        }
    }

    /// Runs of consecutive present points, each drawn as one path.
    fn segments(&self) -> Vec<Vec<(u32, f64)>> {
        let mut out: Vec<Vec<(u32, f64)>> = Vec::new();
        let mut run = Vec::new();
        for &(t, v) in &self.points {
            match v {
                Some(v) => run.push((t, finite(v))),
                None if !run.is_empty() => out.push(std::mem::take(&mut run)),
                None => {}
            }
        }
        if !run.is_empty() {
            out.push(run);
        }
        out
    }
}

/// One series of a bar chart: a value and a colour per category.
struct Bars {
    values: Vec<f64>,
    colors: Vec<RGBColor>,
}

/// The HTML legend of a line chart.
fn legend(lines: &[Line]) -> String {
    let mut html = String::from("<div class=\"legend\">");
    for l in lines {
        html.push_str(&format!(
            "<span style=\"--c:{}\">{}</span>",
            hex(l.color),
            esc(&l.label)
        ));
    }
    html.push_str("</div>");
    html
}

/// A line chart over the run's seconds.
fn line_chart(lines: &[Line], y_desc: &str, x_max: u32) -> Result<String, String> {
    let y_top = lines
        .iter()
        .flat_map(|l| l.points.iter().filter_map(|p| p.1))
        .map(finite)
        .fold(0.0, f64::max);
    let y_top = if y_top > 0.0 { y_top * 1.1 } else { 1.0 };
    let markers = lines.iter().map(|l| l.points.len()).max().unwrap_or(0) <= MARKER_POINTS;
    let x_fmt = |t: &u32| clock(*t, x_max);
    let y_fmt = |v: &f64| axis_number(*v);
    svg((CHART_WIDTH, LINE_HEIGHT), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0u32..x_max, 0f64..y_top)?;
        chart
            .configure_mesh()
            .x_desc(if x_max >= 600 {
                "elapsed (h:mm:ss)"
            } else {
                "elapsed (s)"
            })
            .y_desc(y_desc)
            .x_labels(12)
            .y_labels(8)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(("sans-serif", LABEL_SIZE))
            .axis_desc_style(("sans-serif", DESC_SIZE))
            .light_line_style(RGBColor(0xf0, 0xf0, 0xf0))
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .max_light_lines(1)
            .draw()?;
        for line in lines {
            let style = line.color.stroke_width(2);
            chart.draw_series(
                line.segments()
                    .into_iter()
                    .map(|seg| PathElement::new(seg, style)),
            )?;
            if markers {
                chart.draw_series(
                    line.segments()
                        .into_iter()
                        .flatten()
                        .map(|p| Circle::new(p, 3, line.color.filled())),
                )?;
            }
        }
        Ok(())
    })
}

/// Units of the category axis per category row (integer units, so the axis
/// can carry its own tick positions and labels).
const ROW_UNITS: i32 = 100;

/// A horizontal bar chart: one row per category, one bar per series in each row,
/// the value written at the end of each bar, and an optional dashed reference line.
fn bar_chart(
    names: &[String],
    series: &[Bars],
    x_desc: &str,
    reference: Option<f64>,
) -> Result<String, String> {
    let n = names.len() as i32;
    let k = series.len().max(1) as i32;
    let values = || {
        series
            .iter()
            .flat_map(|b| b.values.iter().copied().map(finite))
    };
    let lo = values().fold(0.0, f64::min);
    let hi = values().fold(reference.unwrap_or(0.0), f64::max);
    let span = if hi - lo > 0.0 { hi - lo } else { 1.0 };
    // Room for the value labels past the bar ends.
    let lo = if lo < 0.0 { lo - span * 0.14 } else { 0.0 };
    let hi = if hi > 0.0 || lo == 0.0 {
        hi + span * 0.14
    } else {
        0.0
    };
    let labels: Vec<String> = names.iter().map(|s| shorten(s, LABEL_CHARS)).collect();
    let widest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) as u32;
    let height = (n as u32 * (k as u32 * 18 + 14) + 70).max(150);
    // Row i (from the top) spans [(n-1-i)·ROW_UNITS, (n-i)·ROW_UNITS).
    let row_base = |i: usize| (n - 1 - i as i32) * ROW_UNITS;
    let centers: Vec<i32> = (0..n).map(|r| r * ROW_UNITS + ROW_UNITS / 2).collect();
    let y_fmt = |y: &i32| {
        let i = n - 1 - y.div_euclid(ROW_UNITS);
        usize::try_from(i)
            .ok()
            .and_then(|i| labels.get(i).cloned())
            .unwrap_or_default()
    };
    let x_fmt = |v: &f64| axis_number(*v);
    // Bars fill the middle 80 % of a row, split evenly between the series.
    let band = ROW_UNITS * 8 / 10 / k;
    let bar_top = |i: usize, j: usize| row_base(i) + ROW_UNITS * 9 / 10 - j as i32 * band;
    svg((CHART_WIDTH, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size((widest * 7 + 16).min(330))
            .build_cartesian_2d(lo..hi, (0..n * ROW_UNITS).with_key_points(centers))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(x_desc)
            .x_labels(10)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(("sans-serif", LABEL_SIZE))
            .axis_desc_style(("sans-serif", DESC_SIZE))
            .light_line_style(RGBColor(0xf0, 0xf0, 0xf0))
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .max_light_lines(1)
            .draw()?;
        for (j, bars) in series.iter().enumerate() {
            let rects = bars.values.iter().enumerate().map(|(i, &v)| {
                let top = bar_top(i, j);
                let color = bars.colors.get(i).copied().unwrap_or(GREY);
                Rectangle::new(
                    [(0.0, top - 2), (finite(v), top - band + 2)],
                    color.filled(),
                )
            });
            chart.draw_series(rects)?;
            let texts = bars.values.iter().enumerate().map(|(i, &v)| {
                let v = finite(v);
                let (h, dx) = if v < 0.0 {
                    (HPos::Right, -5)
                } else {
                    (HPos::Left, 5)
                };
                let style = TextStyle::from(("sans-serif", VALUE_SIZE).into_font())
                    .pos(Pos::new(h, VPos::Center))
                    .color(&RGBColor(0x33, 0x33, 0x33));
                EmptyElement::at((v, bar_top(i, j) - band / 2))
                    + Text::new(bar_value(v), (dx, 0), style)
            });
            chart.draw_series(texts)?;
        }
        chart.draw_series(std::iter::once(PathElement::new(
            [(0.0, 0), (0.0, n * ROW_UNITS)],
            BLACK.stroke_width(1),
        )))?;
        if let Some(r) = reference {
            chart.draw_series(DashedLineSeries::new(
                [(r, 0), (r, n * ROW_UNITS)],
                5,
                4,
                RGBColor(0x88, 0x88, 0x88).stroke_width(1),
            ))?;
        }
        Ok(())
    })
}

/// Draws into an SVG string of `size`; the backend is dropped before the string
/// is used. The `xmlns` attribute is removed: inline SVG in HTML needs none, and
/// the page then names no URL but the target's.
fn svg<F>(size: (u32, u32), draw: F) -> Result<String, String>
where
    F: FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), Box<dyn std::error::Error>>,
{
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        draw(&root).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(buf.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1))
}

// ---------------------------------------------------------------- helpers

/// The timeline, or every k-th second of it when it is longer than [`MAX_POINTS`].
fn sampled(timeline: &[Second]) -> (Vec<&Second>, usize) {
    let stride = timeline.len().div_ceil(MAX_POINTS).max(1);
    (timeline.iter().step_by(stride).collect(), stride)
}

/// Right end of the time axis: the last second, at least 1.
fn x_max(timeline: &[Second]) -> u32 {
    timeline.last().map_or(1, |s| s.t).max(1)
}

/// States in lifecycle order: as `time_to_state` lists them, then any other
/// state seen in the totals or the timeline.
fn state_order(s: &Summary) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    let known = s.lifecycle.time_to_state.iter().map(|(k, _)| k);
    let reached = s.orders.reached.keys();
    let over_time = s.timeline.iter().flat_map(|sec| sec.by_state.keys());
    for state in known.chain(reached).chain(over_time) {
        if !order.contains(state) {
            order.push(state.clone());
        }
    }
    order
}

/// The colour of the i-th state of [`state_order`].
fn state_color(i: usize) -> RGBColor {
    STATE_COLORS[i % STATE_COLORS.len()]
}

/// The colour of an HTTP status class.
fn status_color(code: u16) -> RGBColor {
    match code {
        200..=299 => GREEN,
        300..=399 => BLUE,
        400..=499 => ORANGE,
        500..=599 => RED,
        _ => GREY,
    }
}

/// A colour as CSS hex.
fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// `PASS` or `FAIL`.
fn verdict(passed: bool) -> &'static str {
    if passed { "PASS" } else { "FAIL" }
}

/// A verdict for a table cell.
fn verdict_cell(passed: bool) -> String {
    format!(
        "<span class=\"{}\">{}</span>",
        if passed { "pass" } else { "fail" },
        verdict(passed)
    )
}

/// The card class for a count that is bad when non-zero.
fn bad_if(bad: bool) -> &'static str {
    if bad { "bad" } else { "" }
}

/// A number for a table cell: two decimals, "–" when not finite.
fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "–".to_string()
    }
}

/// A number at the end of a bar: whole numbers without decimals.
fn bar_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// An axis tick label: no trailing zeros.
fn axis_number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// Seconds since the start as an axis label: plain seconds for short runs,
/// h:mm:ss (or m:ss) once the axis reaches 10 minutes.
fn clock(t: u32, x_max: u32) -> String {
    if x_max < 600 {
        return t.to_string();
    }
    let (h, m, s) = (t / 3600, t / 60 % 60, t % 60);
    if x_max >= 3600 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// The run's duration: seconds, plus hours/minutes/seconds past a minute.
fn duration(d: std::time::Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.2} s")
    } else {
        let whole = std::time::Duration::from_secs(d.as_secs());
        format!("{secs:.1} s ({})", humantime::format_duration(whole))
    }
}

/// A finite value for drawing (NaN and infinities become 0).
fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// At most `max` characters, with an ellipsis when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

/// Text escaped for HTML content and attribute values.
fn esc(s: &str) -> Esc<'_> {
    Esc(s)
}

/// Displays its text with `& < > " '` escaped.
struct Esc<'a>(&'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last = 0;
        for (i, c) in self.0.char_indices() {
            let entity = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => continue,
            };
            f.write_str(&self.0[last..i])?;
            f.write_str(entity)?;
            last = i + c.len_utf8();
        }
        f.write_str(&self.0[last..])
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::recorder::{
        BatchTime, IntervalAccuracy, Lifecycle, OrderCounts, ThresholdOutcome, Transition,
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
            order_number: format!("ORD-{n:06}"),
            id: Some(format!("id-{n}")),
            order_type: "activate".into(),
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
            orders: OrderCounts {
                total: 50,
                created: 50,
                failed: 1,
                interrupted: 0,
                stranded: 1,
                by_state: BTreeMap::from([("Ended".into(), 48), ("Accepted".into(), 2)]),
                reached: BTreeMap::from([
                    ("Pending".into(), 50),
                    ("Accepted".into(), 50),
                    ("Activated".into(), 48),
                    ("Ended".into(), 48),
                ]),
            },
            by_type: vec![("activate".into(), steps.clone())],
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
                order_duration_ms: dist(300.0),
                flow_duration_ms: dist(40.0),
                polls_per_order: dist(1.0),
                batch_duration_ms: dist(900.0),
                batches: vec![BatchTime {
                    batch: 0,
                    order_type: "activate".into(),
                    orders: 20,
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
        s.orders.failed = 0;
        s.orders.stranded = 0;
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

    #[test]
    fn escape_and_formatting_helpers() {
        assert_eq!(esc("a<b>&'\"é").to_string(), "a&lt;b&gt;&amp;&#39;&quot;é");
        assert_eq!(clock(75, 100), "75");
        assert_eq!(clock(75, 900), "1:15");
        assert_eq!(clock(3725, 4000), "1:02:05");
        assert_eq!(axis_number(2.50), "2.5");
        assert_eq!(axis_number(-0.0001), "0");
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(num(f64::NAN), "–");
    }
}
