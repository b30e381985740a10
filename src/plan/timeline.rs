//! The planned timeline for `--dry-run`: how long each order, batch and the
//! whole run should take if the target answered at once and every poll
//! succeeded on its first try. An estimate, not a promise: slow answers,
//! retries and extra polls only add to it.

use std::fmt::Write;
use std::time::Duration;

use super::{Plan, Step};

/// Expected time of one pass over `steps`: pauses, one poll wait per poll,
/// and for a journey its mean budget of actions with their mean think time.
fn steps_time(steps: &[Step]) -> Duration {
    steps
        .iter()
        .map(|s| match s {
            Step::Request(_) | Step::Phase(_) => Duration::ZERO,
            Step::Pause { duration, .. } => *duration,
            Step::Poll(p) => p.every,
            Step::Control(super::step::Control::Repeat {
                until: super::step::Loop::Times(n),
                steps,
                ..
            }) => steps_time(steps).saturating_mul(*n),
            Step::Control(c) => c
                .bodies()
                .into_iter()
                .map(steps_time)
                .max()
                .unwrap_or_default(),
            Step::Journey(c) => {
                let budget = f64::from(c.requests.0 + c.requests.1) / 2.0;
                let per_action: f64 = c
                    .actions
                    .iter()
                    .map(|a| super::step::requests_in(&a.steps).max(1) as f64)
                    .sum::<f64>()
                    / c.actions.len().max(1) as f64;
                let think = (c.think.0 + c.think.1) / 2;
                think.mul_f64(budget / per_action)
            }
        })
        .sum()
}

/// The planned timeline as text.
pub fn timeline(plan: &Plan) -> String {
    let flow_time: Vec<Duration> = plan.flows.iter().map(|f| steps_time(&f.steps)).collect();
    if let Some(a) = &plan.arrivals {
        return arrivals_timeline(plan, a, &flow_time);
    }
    // Batches go to whichever worker is free first, in plan order, as the scheduler does.
    let workers = plan.parallel.min(plan.batches.len()).max(1);
    let mut free: Vec<Duration> = (0..workers)
        .map(|i| plan.ramp.mul_f64(i as f64 / workers as f64))
        .collect();
    let mut end = Duration::ZERO;
    let mut out = String::from(
        "planned timeline (answers assumed instant; each poll waits one interval, then succeeds)\n",
    );
    for (i, b) in plan.batches.iter().enumerate() {
        let n = b.orders.len() as u32;
        let took = flow_time[b.flow as usize] * n + plan.between * n.saturating_sub(1);
        let w = (0..workers)
            .min_by_key(|&w| free[w])
            .expect("at least one worker");
        let start = free[w];
        free[w] = start + took;
        let cleanup = plan.flows[b.flow as usize]
            .cleanup
            .as_ref()
            .map_or(Duration::ZERO, |c| c.after);
        end = end.max(free[w] + cleanup);
        if i < 20 {
            let _ = writeln!(
                out,
                "  batch #{i:<4} worker {w:<3} {:>10} → {:>10}  ({} × {})",
                clock(start),
                clock(start + took),
                n,
                plan.flows[b.flow as usize].name
            );
        }
    }
    if plan.batches.len() > 20 {
        let _ = writeln!(out, "  … and {} more batches", plan.batches.len() - 20);
    }
    for (f, t) in plan.flows.iter().zip(&flow_time) {
        let _ = writeln!(out, "  one `{}` order: about {}", f.name, clock(*t));
    }
    let _ = writeln!(
        out,
        "estimated total: about {} (last batch ends {}, plus cleanup delays; speed ×{})",
        clock(end),
        clock(free.iter().copied().max().unwrap_or_default()),
        plan.speed
    );
    out
}

/// The open load model's timeline: the last member starts on the schedule,
/// then walks the longest flow and waits the longest cleanup delay.
fn arrivals_timeline(plan: &Plan, a: &super::Arrivals, flow_time: &[Duration]) -> String {
    let starts = a.count().min(plan.orders.len() as u64);
    let last = a.at(starts.saturating_sub(1)).unwrap_or_default();
    let longest = flow_time.iter().copied().max().unwrap_or_default();
    let cleanup = plan
        .flows
        .iter()
        .filter_map(|f| f.cleanup.as_ref().map(|c| c.after))
        .max()
        .unwrap_or_default();
    let mut out = format!(
        "planned timeline (answers assumed instant; each poll waits one interval, then succeeds)\n  arrivals: {starts} {} start from 0s to {} ({})\n",
        plan.noun,
        clock(last),
        a.describe().join(", then ")
    );
    for (f, t) in plan.flows.iter().zip(flow_time) {
        let _ = writeln!(out, "  one `{}` flow: about {}", f.name, clock(*t));
    }
    let _ = writeln!(
        out,
        "estimated total: about {} (last start, longest flow, cleanup delays; speed ×{})",
        clock(last + longest + cleanup),
        plan.speed
    );
    out
}

fn clock(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        let s = s.round() as u64;
        format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60)
    }
}
