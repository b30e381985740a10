//! The end-of-run summary printed to the terminal.

use std::io::{self, Write};

use crate::recorder::{OrderRef, StepStats, Summary};

/// Most failed or stranded orders listed by id on the console (report.json lists all).
const LIST_LIMIT: usize = 10;

/// Writes the summary table.
pub fn write(s: &Summary, out: &mut impl Write) -> io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "runner · {} · {} · seed {} · speed ×{}",
        s.scenario, s.target, s.seed, s.speed
    )?;
    writeln!(
        out,
        "duration {:.2} s{}",
        s.duration.as_secs_f64(),
        if s.interrupted {
            " (interrupted by Ctrl-C)"
        } else {
            ""
        }
    )?;
    writeln!(out)?;
    let reached = |k: &str| s.population.reached.get(k).copied().unwrap_or(0);
    let noun = if s.noun.is_empty() {
        "orders"
    } else {
        s.noun.as_str()
    };
    // The order API's states get their own counts; other scenarios show theirs under `final`.
    let order_states = ["Activated", "Cancelled", "Ended"]
        .iter()
        .any(|k| s.population.reached.contains_key(*k))
        || s.population.reached.is_empty();
    let states = if order_states {
        format!(
            "  activated {}  cancelled {}  ended {}",
            reached("Activated"),
            reached("Cancelled"),
            reached("Ended")
        )
    } else {
        String::new()
    };
    writeln!(
        out,
        "{noun:<7} total {}  created {}{states}  failed {}  stranded {}",
        s.population.total, s.population.created, s.population.failed, s.population.stranded
    )?;
    if s.population.interrupted > 0 {
        writeln!(
            out,
            "        {} interrupted before their flow finished",
            plural(
                s.population.interrupted,
                noun.strip_suffix('s').unwrap_or(noun),
                noun
            )
        )?;
    }
    arrivals(out, s, noun)?;
    let states: Vec<String> = s
        .population
        .by_state
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if !states.is_empty() {
        writeln!(out, "final   {}", states.join("  "))?;
    }
    writeln!(out)?;
    let w = stats_table(out, "step", &s.steps)?;
    custom(out, s, w)?;
    // Requests per endpoint, when that says more than the step table: some
    // endpoint is reached by several steps.
    if s.endpoints.len() < s.steps.len() {
        writeln!(out)?;
        stats_table(out, "endpoint", &s.endpoints)?;
    }
    let requests = s.requests();
    let errors = s.errors();
    let rate = if requests > 0 {
        errors as f64 * 100.0 / requests as f64
    } else {
        0.0
    };
    writeln!(out, "\nrequests {requests}  errors {errors} ({rate:.2}%)")?;
    writeln!(
        out,
        "         {} retried and succeeded, {} failed after their last attempt",
        s.requests_retried, s.requests_failed
    )?;
    writeln!(
        out,
        "rate     {:.1} requests/s, {:.1} {noun}/s over the active {:.2} s (to the last flow's end)",
        s.requests_per_second(),
        s.population_per_second(),
        s.active.as_secs_f64()
    )?;
    checks(out, s)?;
    stages(out, s)?;
    mix(out, s)?;
    answers(out, s)?;
    lifecycle(out, s)?;
    timing(out, s)?;
    thresholds(out, s)?;
    list(out, "failed", &s.failed)?;
    list(out, "stranded (not terminal at the end)", &s.stranded)?;
    if let Some(e) = &s.events_error {
        writeln!(out, "\nwarning: events.csv is incomplete: {e}")?;
    }
    let thresholds_failed = s.thresholds.iter().filter(|t| !t.passed).count() as u64;
    let orders_ok =
        s.failed_within_accepted() && s.population.stranded + s.population.interrupted == 0;
    if s.passed() && s.population.failed > 0 {
        writeln!(
            out,
            "\nresult: PASS, {} of {} {noun} failed, within the accepted {}%",
            s.population.failed,
            s.population.total,
            (s.accept_failed * 1000.0).round() / 10.0
        )
    } else if s.passed() && s.population.dropped > 0 {
        writeln!(
            out,
            "\nresult: PASS, every started one of the {noun} ended in a terminal state; {} dropped",
            s.population.dropped
        )
    } else if s.passed() {
        writeln!(out, "\nresult: PASS, all {noun} ended in a terminal state")
    } else if s.interrupted && s.population.stranded == 0 {
        writeln!(
            out,
            "\nresult: INTERRUPTED, all created {noun} were cleaned up"
        )
    } else if s.interrupted {
        writeln!(
            out,
            "\nresult: INTERRUPTED, {noun} stranded: {}",
            s.population.stranded
        )
    } else if let Some(stage) = s.stages.iter().find(|st| st.failed.is_some()) {
        writeln!(out, "\nresult: FAIL, {} failed", stage.name)
    } else if thresholds_failed > 0 && orders_ok {
        writeln!(
            out,
            "\nresult: FAIL, {} not met",
            plural(thresholds_failed, "threshold", "thresholds")
        )
    } else {
        writeln!(out, "\nresult: FAIL")
    }
}

/// Latency per step (or per endpoint: `head` names the first column); returns
/// the first column's width.
fn stats_table(out: &mut impl Write, head: &str, list: &[StepStats]) -> io::Result<usize> {
    let w = list
        .iter()
        .map(|st| st.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(16);
    writeln!(
        out,
        "{head:<w$} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "count", "errors", "mean ms", "p50 ms", "p95 ms", "p99 ms", "max ms"
    )?;
    for st in list {
        writeln!(
            out,
            "{:<w$} {:>8} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            st.name, st.count, st.errors, st.mean_ms, st.p50_ms, st.p95_ms, st.p99_ms, st.max_ms
        )?;
    }
    Ok(w)
}

/// What came back against what the script aims for (only when it aims: `s.status_mix`).
fn answers(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    if s.status_mix.is_none() {
        return Ok(());
    }
    writeln!(
        out,
        "\n{:<20} {:>9} {:>9} {:>9}",
        "answers", "attempts", "observed", "aim"
    )?;
    for a in s.answers() {
        let label = match a.class.as_str() {
            "success" => "success (2xx, 3xx)",
            "client_error" => "client errors (4xx)",
            "server_error" => "server errors (5xx)",
            _ => "no answer",
        };
        writeln!(
            out,
            "{label:<20} {:>9} {:>8.1}% {:>8.1}%",
            a.attempts,
            a.share * 100.0,
            a.aim.unwrap_or(0.0) * 100.0
        )?;
    }
    Ok(())
}

/// Groups, then the script's own trends and counters, beside the step table.
fn custom(out: &mut impl Write, s: &Summary, w: usize) -> io::Result<()> {
    let row = |out: &mut dyn Write, name: &str, count: u64, d: &crate::recorder::Dist| {
        writeln!(
            out,
            "{name:<w$} {count:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            d.mean, d.p50, d.p95, d.p99, d.max
        )
    };
    if !s.groups.is_empty() {
        writeln!(
            out,
            "\n{:<w$} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}  failed",
            "group", "count", "mean ms", "p50 ms", "p95 ms", "p99 ms", "max ms"
        )?;
        for g in &s.groups {
            let d = &g.duration_ms;
            writeln!(
                out,
                "{:<w$} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}  {}",
                g.name, d.count, d.mean, d.p50, d.p95, d.p99, d.max, g.failed
            )?;
        }
    }
    if !s.trends.is_empty() {
        writeln!(
            out,
            "\n{:<w$} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "trend", "count", "mean", "p50", "p95", "p99", "max"
        )?;
        for (name, d) in &s.trends {
            row(out, name, d.count, d)?;
        }
    }
    if !s.counters.is_empty() {
        writeln!(out, "\n{:<w$} {:>8}", "counter", "total")?;
        for (name, total) in &s.counters {
            writeln!(out, "{name:<w$} {total:>8}")?;
        }
    }
    Ok(())
}

/// Setup, phases and teardown: how long each took and why one failed.
fn stages(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    if s.stages.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nrun-wide")?;
    for st in &s.stages {
        match &st.failed {
            None => writeln!(out, "  {:<24} {:>9.1} ms", st.name, st.duration_ms)?,
            Some(why) => writeln!(
                out,
                "  {:<24} {:>9.1} ms  FAILED: {why}",
                st.name, st.duration_ms
            )?,
        }
    }
    Ok(())
}

fn list(out: &mut impl Write, title: &str, orders: &[OrderRef]) -> io::Result<()> {
    if orders.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{title}: {}", orders.len())?;
    for o in orders.iter().take(LIST_LIMIT) {
        writeln!(
            out,
            "  {} (n {}, {}, id {}, state {}){}: {}",
            o.label,
            o.n,
            o.flow,
            o.id.as_deref().unwrap_or("-"),
            o.state.as_deref().unwrap_or("-"),
            o.step
                .as_deref()
                .map(|s| format!(" at {s}"))
                .unwrap_or_default(),
            o.reason
        )?;
    }
    if orders.len() > LIST_LIMIT {
        writeln!(
            out,
            "  … and {} more (report.json lists them all when run with --out)",
            orders.len() - LIST_LIMIT
        )?;
    }
    Ok(())
}

/// The `.check(…)`s per step that ran any, and their share that held.
fn checks(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    let per_step: Vec<String> = s
        .steps
        .iter()
        .filter(|st| st.checks.rate().is_some())
        .map(|st| {
            format!(
                "{} {}/{}",
                st.name,
                st.checks.passed,
                st.checks.passed + st.checks.failed
            )
        })
        .collect();
    match s.checks().rate() {
        Some(rate) => writeln!(
            out,
            "checks   {:.2}% held  ({})",
            rate * 100.0,
            per_step.join(", ")
        ),
        None => Ok(()),
    }
}

/// `1 order`, `2 orders`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn lifecycle(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    let l = &s.lifecycle;
    if l.time_to_state.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\ntime from create to   {:>9} {:>9} {:>9} {:>9}",
        "mean ms", "p50 ms", "p95 ms", "max ms"
    )?;
    for (state, d) in &l.time_to_state {
        writeln!(
            out,
            "  {state:<19} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            d.mean, d.p50, d.p95, d.max
        )?;
    }
    let p = &l.polls;
    if p.count > 0 {
        writeln!(
            out,
            "polls                 mean {:.1}  p95 {:.0}  max {:.0}",
            p.mean, p.p95, p.max
        )?;
    }
    Ok(())
}

fn timing(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    if s.timing.is_empty() {
        return Ok(());
    }
    let w = s
        .timing
        .iter()
        .map(|t| t.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(10);
    writeln!(
        out,
        "\n{:<w$} {:>7} {:>12} {:>12} {:>10} {:>10}",
        "timing", "count", "configured", "observed", "mean dev", "p99 dev"
    )?;
    for t in &s.timing {
        writeln!(
            out,
            "{:<w$} {:>7} {:>9.1} ms {:>9.1} ms {:>9.2}% {:>9.2}%",
            t.name, t.count, t.configured_ms, t.observed_ms, t.mean_dev_pct, t.p99_dev_pct
        )?;
    }
    Ok(())
}

fn thresholds(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    if s.thresholds.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nthresholds")?;
    for t in &s.thresholds {
        let mark = if t.passed { "pass" } else { "FAIL" };
        writeln!(out, "  {mark}  {:<32} {}", t.expr, t.detail)?;
    }
    Ok(())
}

fn mix(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    if s.mix.is_empty() {
        return Ok(());
    }
    let w = s
        .mix
        .iter()
        .map(|m| m.category.chars().count())
        .max()
        .unwrap_or(0)
        .max(11);
    writeln!(
        out,
        "\n{:<w$} {:>9} {:>9} {:>11}",
        "request mix", "requests", "observed", "configured"
    )?;
    for m in &s.mix {
        writeln!(
            out,
            "{:<w$} {:>9} {:>8.1}% {:>10.1}%",
            m.category,
            m.requests,
            m.share * 100.0,
            m.configured * 100.0
        )?;
    }
    let expected = s.expected_errors();
    if expected > 0 {
        writeln!(
            out,
            "deliberate bad requests answered as expected: {expected} (not counted as errors)"
        )?;
    }
    Ok(())
}

/// The open load model's line: started, dropped at the cap, lateness.
fn arrivals(out: &mut impl Write, s: &Summary, noun: &str) -> io::Result<()> {
    let Some(a) = &s.arrivals else {
        return Ok(());
    };
    writeln!(
        out,
        "arrivals {} of {} scheduled {noun} started, {} dropped at max_in_flight {}; start lag p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        a.started,
        a.scheduled,
        a.dropped,
        a.max_in_flight,
        a.start_lag_ms.p50,
        a.start_lag_ms.p99,
        a.start_lag_ms.max
    )?;
    if a.not_started > 0 {
        writeln!(
            out,
            "         {} not started: the run ended before their time",
            a.not_started
        )?;
    }
    if a.dropped > 0 {
        writeln!(
            out,
            "         a dropped arrival is load the target never got: raise max_in_flight, lower the rate, or add the threshold `dropped == 0`"
        )?;
    }
    Ok(())
}
