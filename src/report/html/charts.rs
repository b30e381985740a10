//! What the page's six charts plot: each one's series, colours and legend, drawn through [`plot`](super::plot).

use std::collections::BTreeMap;

use plotters::style::RGBColor;
use serde::Serialize;

use super::plot::{
    BLUE, BROWN, Bars, GREEN, GREY, Line, ORANGE, PINK, PURPLE, RED, TEAL, YELLOW, bar_chart, hex,
    line_chart,
};
use crate::recorder::{Second, Summary};

/// Most timeline entries plotted; longer timelines are shown every k-th second.
const MAX_POINTS: usize = 4000;

/// The relative deviation the design asks waits to stay within, drawn as a reference.
pub(super) const TIMING_TARGET_PCT: f64 = 5.0;

/// Colours given to order states, in state order.
const STATE_COLORS: &[RGBColor] = &[BLUE, ORANGE, GREEN, RED, PURPLE, TEAL, YELLOW, PINK, BROWN];

/// Every chart of the page, by the name the template uses.
#[derive(Serialize)]
pub(super) struct Charts {
    latency: Chart,
    throughput: Chart,
    status: Chart,
    funnel: Chart,
    states: Chart,
    timing: Chart,
}

/// One drawn chart: its legend and SVG, "no data" (neither SVG nor error), or
/// the reason it could not be drawn.
#[derive(Serialize)]
struct Chart {
    legend: Vec<Swatch>,
    svg: Option<String>,
    error: Option<String>,
    /// Every how many seconds the timeline was plotted (1: all of them).
    stride: usize,
}

impl Chart {
    fn new(legend: Vec<Swatch>, drawn: Option<Result<String, String>>, stride: usize) -> Self {
        let (svg, error) = match drawn {
            None => (None, None),
            Some(Ok(svg)) => (Some(svg), None),
            Some(Err(e)) => (None, Some(e)),
        };
        Chart {
            legend,
            svg,
            error,
            stride,
        }
    }
}

/// One legend entry: a colour swatch (dashed for a reference line) and its label.
#[derive(Serialize)]
struct Swatch {
    label: String,
    color: String,
    dash: bool,
}

impl Swatch {
    fn new(label: impl Into<String>, color: RGBColor) -> Self {
        Swatch {
            label: label.into(),
            color: hex(color),
            dash: false,
        }
    }
}

/// Draws every chart of `s`.
pub(super) fn draw(s: &Summary) -> Charts {
    Charts {
        latency: latency(s),
        throughput: throughput(s),
        status: status(s),
        funnel: funnel(s),
        states: states(s),
        timing: timing(s),
    }
}

/// p50/p95/p99 latency per second; seconds without requests are gaps.
fn latency(s: &Summary) -> Chart {
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
    Chart::new(
        legend(&lines),
        has_data.then(|| line_chart(&lines, "latency (ms)", x_max(&s.timeline))),
        stride,
    )
}

/// Requests and errors per second.
fn throughput(s: &Summary) -> Chart {
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
    Chart::new(
        legend(&lines),
        (!points.is_empty()).then(|| line_chart(&lines, "per second", x_max(&s.timeline))),
        stride,
    )
}

/// Responses per HTTP status over every step.
fn status(s: &Summary) -> Chart {
    let mut statuses = BTreeMap::<u16, u64>::new();
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
    let classes = [(200, "2xx"), (300, "3xx"), (400, "4xx"), (500, "5xx")]
        .iter()
        .map(|&(code, name)| Swatch::new(name, status_color(code)))
        .collect();
    Chart::new(
        classes,
        (!names.is_empty()).then(|| bar_chart(&names, &[bars], "responses", None)),
        1,
    )
}

/// Orders created, then orders that ever reached each state, in lifecycle order.
fn funnel(s: &Summary) -> Chart {
    let order = state_order(s);
    let mut names = vec!["created".to_string()];
    let mut values = vec![s.population.created as f64];
    let mut colors = vec![GREY];
    for (i, state) in order.iter().enumerate() {
        if let Some(&n) = s.population.reached.get(state) {
            names.push(state.clone());
            values.push(n as f64);
            colors.push(state_color(i));
        }
    }
    let has_data = s.population.created > 0 || !s.population.reached.is_empty();
    let bars = Bars { values, colors };
    Chart::new(
        Vec::new(),
        has_data.then(|| bar_chart(&names, &[bars], &s.noun, None)),
        1,
    )
}

/// Orders in each state at the end of every second, plus orders created so far.
fn states(s: &Summary) -> Chart {
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
    Chart::new(
        legend(&lines),
        has_data.then(|| line_chart(&lines, &s.noun, x_max(&s.timeline))),
        stride,
    )
}

/// Mean and p99 deviation of every kind of wait, against the target.
fn timing(s: &Summary) -> Chart {
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
    let legend = vec![
        Swatch::new("mean deviation (observed − configured)", BLUE),
        Swatch::new("p99 of |deviation|", ORANGE),
        Swatch {
            label: format!("{TIMING_TARGET_PCT} % target"),
            color: "#888".into(),
            dash: true,
        },
    ];
    let chart = (!names.is_empty()).then(|| {
        bar_chart(
            &names,
            &series,
            "deviation from the configured wait (%)",
            Some(TIMING_TARGET_PCT),
        )
    });
    Chart::new(legend, chart, 1)
}

/// The legend of a line chart: one swatch per line.
fn legend(lines: &[Line]) -> Vec<Swatch> {
    lines
        .iter()
        .map(|l| Swatch::new(l.label.as_str(), l.color))
        .collect()
}

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
    let reached = s.population.reached.keys();
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
