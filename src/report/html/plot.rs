//! Drawing with plotters: line and bar charts as inline SVG strings, and the palette.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format::{axis_number, bar_value, clock, finite, shorten};

/// Width of every chart, in SVG pixels (the page scales it down on narrow screens).
const CHART_WIDTH: u32 = 1000;

/// Height of the line charts.
const LINE_HEIGHT: u32 = 340;

/// Timelines up to this long get a marker on every point (a 1 s run is one dot).
const MARKER_POINTS: usize = 60;

/// Longest category label drawn in a bar chart (the tables show the whole name).
const LABEL_CHARS: usize = 42;

/// Font sizes in plotters' units (plotters draws them at about 0.8 px each):
/// tick labels, axis descriptions, values at the bar ends.
const LABEL_SIZE: u32 = 16;
const DESC_SIZE: u32 = 17;
const VALUE_SIZE: u32 = 15;

/// Chart colours (Tableau 10).
pub(super) const BLUE: RGBColor = RGBColor(0x4e, 0x79, 0xa7);
pub(super) const ORANGE: RGBColor = RGBColor(0xf2, 0x8e, 0x2b);
pub(super) const RED: RGBColor = RGBColor(0xe1, 0x57, 0x59);
pub(super) const TEAL: RGBColor = RGBColor(0x76, 0xb7, 0xb2);
pub(super) const GREEN: RGBColor = RGBColor(0x59, 0xa1, 0x4f);
pub(super) const YELLOW: RGBColor = RGBColor(0xed, 0xc9, 0x48);
pub(super) const PURPLE: RGBColor = RGBColor(0xb0, 0x7a, 0xa1);
pub(super) const PINK: RGBColor = RGBColor(0xff, 0x9d, 0xa7);
pub(super) const BROWN: RGBColor = RGBColor(0x9c, 0x75, 0x5f);
pub(super) const GREY: RGBColor = RGBColor(0x8c, 0x8c, 0x8c);

/// One line of a line chart: `None` values are gaps.
pub(super) struct Line {
    pub(super) label: String,
    pub(super) color: RGBColor,
    points: Vec<(u32, Option<f64>)>,
}

impl Line {
    pub(super) fn new(label: &str, color: RGBColor, points: Vec<(u32, Option<f64>)>) -> Self {
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
pub(super) struct Bars {
    pub(super) values: Vec<f64>,
    pub(super) colors: Vec<RGBColor>,
}

/// A line chart over the run's seconds.
pub(super) fn line_chart(lines: &[Line], y_desc: &str, x_max: u32) -> Result<String, String> {
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
pub(super) fn bar_chart(
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

/// A colour as CSS hex.
pub(super) fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}
