//! Merges the summaries of a plan's segments (`runner report merge`) into the
//! summary one process running the whole plan would have written: counts are
//! added, every distribution is recomputed from the segments' HDR histograms
//! added together, so its percentiles are those of all the samples. Two
//! things are bounds, not exact: the timeline's per-second percentiles (the
//! largest of the segments') and a wait kind's p99 deviation (likewise).

use std::collections::BTreeMap;

use super::histograms::{Hdr, Histograms};
use super::metrics::{add_map, dist, latency_stats, sum_by};
use super::summary::{
    Dist, GroupStats, IntervalAccuracy, PopulationCounts, Second, StepStats, Summary,
};

/// Why summaries cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no report to merge")]
    Empty,
    /// Reports of different scenarios or plans.
    #[error(
        "report {index} is of another plan: `{theirs}`, not `{ours}` (merge the segments of one run: same scenario, seed, population, speed)"
    )]
    OtherPlan {
        /// Its position among the reports, from 1.
        index: usize,
        /// Its plan.
        theirs: String,
        /// The first report's plan.
        ours: String,
    },
    /// A report of the whole plan, or segments that overlap.
    #[error("{0}")]
    Overlap(String),
}

/// The merged summary, and the segments it lacks (`I/N` each).
pub fn merge(parts: Vec<Summary>) -> Result<(Summary, Vec<String>), MergeError> {
    let first = parts.first().ok_or(MergeError::Empty)?;
    for (i, s) in parts.iter().enumerate() {
        if s.plan_key != first.plan_key {
            return Err(MergeError::OtherPlan {
                index: i + 1,
                theirs: s.plan_key.clone(),
                ours: first.plan_key.clone(),
            });
        }
    }
    let missing = check_segments(&parts)?;
    let mut parts = parts.into_iter();
    let mut merged = parts.next().expect("at least one");
    for s in parts {
        add(&mut merged, s);
    }
    merged.segment = None;
    restat(&mut merged);
    Ok((merged, missing))
}

/// Every report must be a segment of the same count, none twice; returns the
/// segments not given.
fn check_segments(parts: &[Summary]) -> Result<Vec<String>, MergeError> {
    let mut seen = Vec::new();
    let mut count = None;
    for (i, s) in parts.iter().enumerate() {
        let Some(seg) = s.segment else {
            return Err(MergeError::Overlap(format!(
                "report {} is of a whole run, not of a segment (--segment I/N): it overlaps every other",
                i + 1
            )));
        };
        if *count.get_or_insert(seg.count) != seg.count {
            return Err(MergeError::Overlap(format!(
                "report {} is segment {seg}, but the first is one of {} segments: the shares of different splits overlap",
                i + 1,
                count.unwrap_or_default()
            )));
        }
        if seen.contains(&seg.index) {
            return Err(MergeError::Overlap(format!(
                "segment {seg} is given twice (report {})",
                i + 1
            )));
        }
        seen.push(seg.index);
    }
    let n = count.unwrap_or_default();
    Ok((0..n)
        .filter(|i| !seen.contains(i))
        .map(|i| format!("{i}/{n}"))
        .collect())
}

/// Adds `s` to `into`: counts summed, lists joined, histograms added.
fn add(into: &mut Summary, s: Summary) {
    add_population(&mut into.population, &s.population);
    add_steps(&mut into.steps, s.steps);
    add_steps(&mut into.endpoints, s.endpoints);
    for (flow, steps) in s.by_flow {
        match into.by_flow.iter_mut().find(|(f, _)| *f == flow) {
            Some((_, mine)) => add_steps(mine, steps),
            None => into.by_flow.push((flow, steps)),
        }
    }
    add_timeline(&mut into.timeline, s.timeline);
    let l = &mut into.lifecycle;
    sum_by(
        &mut l.transitions,
        s.lifecycle.transitions,
        |t| (t.from.clone(), t.to.clone()),
        |a, b| a.count += b.count,
    );
    l.batches.extend(s.lifecycle.batches);
    // A state only this segment reached goes after the others.
    for (state, d) in s.lifecycle.time_to_state {
        if !l.time_to_state.iter().any(|(known, _)| *known == state) {
            l.time_to_state.push((state, d));
        }
    }
    sum_by(&mut into.timing, s.timing, |w| w.name.clone(), add_accuracy);
    sum_by(
        &mut into.mix,
        s.mix,
        |m| m.category.clone(),
        |a, b| a.requests += b.requests,
    );
    into.breaker.extend(s.breaker);
    into.failed.extend(s.failed);
    into.stranded.extend(s.stranded);
    into.stages.extend(s.stages);
    into.interrupted |= s.interrupted;
    into.events_error = into.events_error.take().or(s.events_error);
    into.duration = into.duration.max(s.duration);
    into.active = into.active.max(s.active);
    into.started_at = into.started_at.clone().min(s.started_at);
    into.active_requests += s.active_requests;
    into.flows_ended += s.flows_ended;
    into.requests_retried += s.requests_retried;
    into.requests_failed += s.requests_failed;
    sum_by(
        &mut into.groups,
        s.groups,
        |g| g.name.clone(),
        |a: &mut GroupStats, b| a.failed += b.failed,
    );
    sum_by(
        &mut into.counters,
        s.counters,
        |c| c.0.clone(),
        |a, b| a.1 += b.1,
    );
    // A trend's exact mean and largest value, from the segments' own.
    sum_by(
        &mut into.trends,
        s.trends,
        |t| t.0.clone(),
        |a, b| {
            let count = a.1.count + b.1.count;
            if count > 0 {
                a.1.mean =
                    (a.1.mean * a.1.count as f64 + b.1.mean * b.1.count as f64) / count as f64;
            }
            a.1.max = a.1.max.max(b.1.max);
            a.1.count = count;
        },
    );
    if let (Some(a), Some(b)) = (into.arrivals.as_mut(), s.arrivals) {
        a.scheduled += b.scheduled;
        a.started += b.started;
        a.dropped += b.dropped;
        a.not_started += b.not_started;
        a.max_in_flight += b.max_in_flight;
    }
    into.histograms.add(&s.histograms);
}

fn add_population(into: &mut PopulationCounts, p: &PopulationCounts) {
    into.total += p.total;
    into.created += p.created;
    into.failed += p.failed;
    into.interrupted += p.interrupted;
    into.stranded += p.stranded;
    into.dropped += p.dropped;
    add_map(&mut into.by_state, &p.by_state);
    add_map(&mut into.reached, &p.reached);
}

/// A step's counts (latency figures come from the merged histogram later).
fn add_steps(into: &mut Vec<StepStats>, from: Vec<StepStats>) {
    sum_by(
        into,
        from,
        |s| s.name.clone(),
        |a, b| {
            a.errors += b.errors;
            add_map(&mut a.statuses, &b.statuses);
            add_map(&mut a.outcomes, &b.outcomes);
            add_map(&mut a.error_classes, &b.error_classes);
            a.checks.add(b.checks);
        },
    );
}

/// Seconds lined up by their offset from each segment's start. A segment
/// that ended earlier still counts its last `created` and states in the later
/// seconds (they are totals and snapshots, not per-second counts).
fn add_timeline(into: &mut Vec<Second>, mut from: Vec<Second>) {
    let end = into.len().max(from.len());
    carry_forward(into, end);
    carry_forward(&mut from, end);
    for second in from {
        match into.iter_mut().find(|s| s.t == second.t) {
            Some(s) => {
                s.requests += second.requests;
                s.errors += second.errors;
                s.created += second.created;
                add_map(&mut s.by_state, &second.by_state);
                s.p50_ms = s.p50_ms.max(second.p50_ms);
                s.p95_ms = s.p95_ms.max(second.p95_ms);
                s.p99_ms = s.p99_ms.max(second.p99_ms);
                s.max_ms = s.max_ms.max(second.max_ms);
            }
            None => into.push(second),
        }
    }
    into.sort_by_key(|s| s.t);
}

/// Extends a timeline to `end` seconds with its last totals and states, no requests.
fn carry_forward(timeline: &mut Vec<Second>, end: usize) {
    let Some(last) = timeline.last().cloned() else {
        return;
    };
    for t in timeline.len()..end {
        timeline.push(Second {
            t: t as u32,
            requests: 0,
            errors: 0,
            p50_ms: 0.0,
            p95_ms: 0.0,
            p99_ms: 0.0,
            max_ms: 0.0,
            ..last.clone()
        });
    }
}

/// Means weighted by count; the p99 deviations are the larger one's.
fn add_accuracy(a: &mut IntervalAccuracy, b: IntervalAccuracy) {
    let n = (a.count + b.count).max(1) as f64;
    let mean = |x: f64, y: f64| (x * a.count as f64 + y * b.count as f64) / n;
    a.configured_ms = mean(a.configured_ms, b.configured_ms);
    a.observed_ms = mean(a.observed_ms, b.observed_ms);
    a.mean_dev_ms = mean(a.mean_dev_ms, b.mean_dev_ms);
    a.mean_dev_pct = mean(a.mean_dev_pct, b.mean_dev_pct);
    a.p99_dev_ms = a.p99_dev_ms.max(b.p99_dev_ms);
    a.p99_dev_pct = a.p99_dev_pct.max(b.p99_dev_pct);
    a.count += b.count;
}

/// Recomputes every distribution and share from the merged counts and histograms.
fn restat(s: &mut Summary) {
    let h: &Histograms = &s.histograms;
    let latency = |steps: &mut Vec<StepStats>, from: &BTreeMap<String, Hdr>| {
        for st in steps.iter_mut() {
            if let Some(hist) = from.get(&st.name) {
                latency_stats(st, &hist.0);
            }
        }
    };
    latency(&mut s.steps, &h.steps);
    latency(&mut s.endpoints, &h.endpoints);
    for (flow, steps) in &mut s.by_flow {
        if let Some(from) = h.by_flow.get(flow) {
            latency(steps, from);
        }
    }
    let ms = |one: &Option<Hdr>, scale: f64| {
        one.as_ref()
            .map_or_else(Dist::default, |x| dist(&x.0, scale))
    };
    let l = &mut s.lifecycle;
    l.lifetime_ms = ms(&h.lifetime, 1000.0);
    l.flow_duration_ms = ms(&h.flow_duration, 1000.0);
    l.polls = ms(&h.polls, 1.0);
    l.batch_duration_ms = ms(&h.batch_duration, 1000.0);
    // In the order the states were first reached, as one run lists them.
    for (state, d) in &mut l.time_to_state {
        if let Some(x) = h.time_to_state.get(state) {
            *d = dist(&x.0, 1000.0);
        }
    }
    l.batches.sort_by_key(|b| b.batch);
    for g in &mut s.groups {
        if let Some(x) = h.groups.get(&g.name) {
            g.duration_ms = dist(&x.0, 1000.0);
        }
    }
    for (name, d) in &mut s.trends {
        if let Some(x) = h.trends.get(name) {
            // Percentiles from all the samples; the exact mean and largest kept.
            let (mean, max) = (d.mean, d.max);
            *d = dist(&x.0, super::TREND_SCALE);
            d.mean = mean;
            d.max = max;
            for q in [&mut d.p50, &mut d.p90, &mut d.p95, &mut d.p99] {
                *q = q.min(max);
            }
        }
    }
    if let Some(a) = &mut s.arrivals {
        a.start_lag_ms = ms(&h.start_lag, 1000.0);
    }
    let journey: u64 = s.mix.iter().map(|m| m.requests).sum();
    for m in &mut s.mix {
        m.share = if journey > 0 {
            m.requests as f64 / journey as f64
        } else {
            0.0
        };
    }
    s.breaker.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    s.failed.sort_by_key(|o| o.n);
    s.stranded.sort_by_key(|o| o.n);
    s.thresholds.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Segment;
    use crate::recorder::MixShare;

    fn part(index: u32, count: u32) -> Summary {
        Summary {
            plan_key: "plan".into(),
            segment: Some(Segment { index, count }),
            ..Summary::default()
        }
    }

    #[test]
    fn only_disjoint_segments_of_one_plan_merge() {
        let err = |parts| merge(parts).unwrap_err().to_string();
        let mut other = part(1, 3);
        other.plan_key = "another".into();
        assert!(err(vec![part(0, 3), other]).contains("report 2 is of another plan"));
        assert!(err(vec![part(0, 3), part(0, 3)]).contains("segment 0/3 is given twice"));
        assert!(err(vec![part(0, 3), part(1, 2)]).contains("different splits"));
        let mut whole = part(0, 1);
        whole.segment = None;
        assert!(err(vec![part(0, 3), whole]).contains("whole run"));
        let (_, missing) = merge(vec![part(2, 3), part(0, 3)]).unwrap();
        assert_eq!(missing, ["1/3"]);
    }

    #[test]
    fn counts_add_and_mix_shares_are_recomputed() {
        let mut a = part(0, 2);
        a.population.total = 3;
        a.population.by_state.insert("Ended".into(), 2);
        a.mix = vec![MixShare {
            category: "read".into(),
            requests: 30,
            share: 1.0,
            configured: 0.5,
        }];
        let mut b = part(1, 2);
        b.population.total = 2;
        b.population.by_state.insert("Ended".into(), 1);
        b.mix = vec![MixShare {
            category: "write".into(),
            requests: 10,
            share: 1.0,
            configured: 0.5,
        }];
        let (m, missing) = merge(vec![a, b]).unwrap();
        assert!(missing.is_empty());
        assert_eq!(m.population.total, 5);
        assert_eq!(m.population.by_state["Ended"], 3);
        assert_eq!(m.mix[0].share, 0.75);
        assert_eq!(m.mix[1].share, 0.25);
        assert_eq!(m.segment, None);
    }

    #[test]
    fn a_segment_that_ended_earlier_still_counts_its_created_members() {
        let second = |t: u32, requests: u64, created: u64| Second {
            t,
            requests,
            errors: 0,
            p50_ms: 1.0,
            p95_ms: 2.0,
            p99_ms: 3.0,
            max_ms: 4.0,
            by_state: BTreeMap::from([("Ended".to_owned(), created)]),
            created,
        };
        let mut a = part(0, 2);
        a.timeline = vec![second(0, 10, 3), second(1, 5, 4)];
        let mut b = part(1, 2);
        b.timeline = vec![second(0, 10, 2), second(1, 5, 3), second(2, 7, 5)];
        let (m, _) = merge(vec![a, b]).unwrap();
        let created: Vec<u64> = m.timeline.iter().map(|s| s.created).collect();
        assert_eq!(created, [5, 7, 9]);
        let requests: Vec<u64> = m.timeline.iter().map(|s| s.requests).collect();
        assert_eq!(requests, [20, 10, 7]);
        assert_eq!(m.timeline[2].by_state["Ended"], 9);
    }
}
