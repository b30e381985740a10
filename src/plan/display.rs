//! The plan as `runner check` prints it: target, population, batches and
//! every flow's steps, one line each.

use std::fmt;

use super::model::{Plan, is_secret};
use super::settings::Target;
use super::step::{Condition, Control, Loop, MetricSource, Request, Step, Subject, Test, Until};

/// Batches listed by `runner check`; the rest are counted.
const BATCHES_SHOWN: usize = 30;

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.target {
            Target::Builtin(_) => format!("{} (started on 127.0.0.1)", self.target),
            Target::Url(u) => u.clone(),
        };
        writeln!(f, "scenario  {}", self.name)?;
        if !self.description.is_empty() {
            writeln!(f, "          {}", self.description)?;
        }
        writeln!(f, "target    {target}")?;
        writeln!(
            f,
            "http      timeout {:?}, retries {}, retry backoff {:?}, max connections {}, version {}",
            self.http.timeout,
            self.http.retries,
            self.http.retry_backoff,
            self.http.max_connections,
            self.http.version.name()
        )?;
        writeln!(
            f,
            "seed      {}   speed ×{} (intervals below are already scaled)",
            self.seed, self.speed
        )?;
        for (name, value) in &self.env {
            let shown = match value {
                None => "unset, the script's default is used".to_owned(),
                Some(_) if is_secret(name, &self.secrets) => "set (hidden)".to_owned(),
                Some(v) => format!("{v:?}"),
            };
            writeln!(f, "env       {name} = {shown}")?;
        }
        for t in &self.thresholds {
            writeln!(f, "threshold {}", t.expr())?;
        }
        if let Some([ok, client, server]) = self.status_mix {
            writeln!(
                f,
                "aim       answers {:.0}% success, {:.0}% 4xx, {:.0}% 5xx",
                ok * 100.0,
                client * 100.0,
                server * 100.0
            )?;
        }
        if self.accept_failed > 0.0 {
            writeln!(
                f,
                "accept    up to {}% of the {} failing",
                (self.accept_failed * 1000.0).round() / 10.0,
                self.noun
            )?;
        }
        writeln!(f, "\npopulation  {} {}", self.orders.len(), self.noun)?;
        if let Some(s) = self.segment {
            writeln!(
                f,
                "  segment {s}: the {} whose number n has (n - 1) mod {} = {}, of {} planned",
                self.noun, s.count, s.index, self.planned
            )?;
        }
        for (i, flow) in self.flows.iter().enumerate() {
            let n = self.orders.iter().filter(|o| o.flow as usize == i).count();
            writeln!(f, "  {:<12} {n}", flow.name)?;
        }
        match &self.arrivals {
            Some(a) => write_arrivals(self, a, f)?,
            None => write_batches(self, f)?,
        }
        write_flows(self, f)?;
        write_run_wide(self, f)
    }
}

/// Setup, the phases' once-steps and teardown, when the script has any.
fn write_run_wide(plan: &Plan, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let stages = std::iter::once(("setup (before the first order)".to_owned(), &plan.setup))
        .chain(plan.phases.iter().enumerate().map(|(k, p)| {
            (
                format!("phase {} `{}` (once, at the barrier)", k + 1, p.name),
                &p.once,
            )
        }))
        .chain(std::iter::once((
            "teardown (after every flow and cleanup)".to_owned(),
            &plan.teardown,
        )));
    for (what, steps) in stages {
        if steps.is_empty() && !what.starts_with("phase") {
            continue;
        }
        writeln!(
            f,
            "
{what}"
        )?;
        for (i, step) in steps.iter().enumerate() {
            writeln!(f, "  {}. {}", i + 1, describe_step(step))?;
        }
    }
    Ok(())
}

/// The open load model's stages, and what they start of the population.
fn write_arrivals(plan: &Plan, a: &super::Arrivals, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let scheduled = a.count();
    let population = plan.orders.len() as u64;
    writeln!(
        f,
        "
arrivals    {} scheduled over {}, at most {} in flight (more are dropped and counted)",
        scheduled,
        a.length_text(),
        a.max_in_flight
    )?;
    for (i, stage) in a.describe().iter().enumerate() {
        writeln!(f, "  stage {} {stage}", i + 1)?;
    }
    if scheduled > population {
        writeln!(
            f,
            "  note: the stages schedule {scheduled} arrivals and the population has {population}: arrivals end with the population"
        )?;
    } else if scheduled < population {
        writeln!(
            f,
            "  note: the stages schedule {scheduled} arrivals and the population has {population}: {} never start",
            population - scheduled
        )?;
    }
    Ok(())
}

/// The batches, the first [`BATCHES_SHOWN`] with their orders' labels.
fn write_batches(plan: &Plan, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(
        f,
        "\nbatches     {} batches, up to {} in parallel, {:?} between orders in a batch",
        plan.batches.len(),
        plan.parallel,
        plan.between
    )?;
    for (i, b) in plan.batches.iter().enumerate().take(BATCHES_SHOWN) {
        let first = &plan.orders[b.orders.start];
        let last = &plan.orders[b.orders.end - 1];
        writeln!(
            f,
            "  #{i:<4} {:<10} {:>4} {}  {} … {}",
            plan.flows[b.flow as usize].name,
            b.orders.len(),
            plan.noun,
            plan.arena.label(first),
            plan.arena.label(last)
        )?;
    }
    if plan.batches.len() > BATCHES_SHOWN {
        writeln!(
            f,
            "  … and {} more batches",
            plan.batches.len() - BATCHES_SHOWN
        )?;
    }
    Ok(())
}

/// Every flow's steps and cleanup rule.
fn write_flows(plan: &Plan, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for flow in &plan.flows {
        writeln!(f, "\nflow {}", flow.name)?;
        for (i, step) in flow.steps.iter().enumerate() {
            writeln!(f, "  {}. {}", i + 1, describe_step(step))?;
        }
        if let Some(c) = &flow.cleanup {
            let steps: Vec<String> = c.steps.iter().map(describe_request).collect();
            if !c.first.is_empty() {
                let first: Vec<String> = c.first.iter().map(describe_request).collect();
                writeln!(
                    f,
                    "  cleanup first (when their variables are set): {}",
                    first.join(", ")
                )?;
            }
            writeln!(
                f,
                "  cleanup after {:?}: try {} every {:?}, up to {:?}{}",
                c.after,
                steps.join(" then "),
                c.every,
                c.timeout,
                c.verify
                    .as_ref()
                    .map(|v| format!("; verify with {}", describe_request(v)))
                    .unwrap_or_default()
            )?;
            if !c.finally.is_empty() {
                let last: Vec<String> = c.finally.iter().map(describe_request).collect();
                writeln!(
                    f,
                    "  cleanup finally (when their variables are set): {}",
                    last.join(", ")
                )?;
            }
        }
    }
    Ok(())
}

/// One step on one line.
fn describe_step(step: &Step) -> String {
    match step {
        Step::Journey(c) => {
            let mix: Vec<String> = c
                .mix
                .iter()
                .map(|(cat, share, _)| format!("{cat} {:.0}%", share * 100.0))
                .collect();
            let actions: Vec<String> = c
                .actions
                .iter()
                .map(|a| format!("{} ({})", a.name, a.category))
                .collect();
            format!(
                "journey of {}..{} requests, think {:?}..{:?}, mix [{}], actions: {}{}",
                c.requests.0,
                c.requests.1,
                c.think.0,
                c.think.1,
                mix.join(", "),
                actions.join(", "),
                if c.errors.is_empty() {
                    String::new()
                } else {
                    format!("; {:.0}% deliberate errors", c.error_rate * 100.0)
                }
            )
        }
        Step::Control(c) => describe_control(c),
        Step::Phase(k) => format!(
            "── barrier: phase {} (every order finishes the steps above first) ──",
            k + 1
        ),
        Step::Request(r) => describe_request(r),
        Step::Pause { duration, jitter } if *jitter > 0.0 => {
            format!("pause {duration:?} ±{:.0}%", jitter * 100.0)
        }
        Step::Pause { duration, .. } => format!("pause {duration:?}"),
        Step::Poll(p) => {
            let until = match &p.until {
                Until::Field { path, one_of } => format!(
                    "{} in [{}]",
                    path.as_str(),
                    one_of
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Until::Script { f, .. } => format!("{f:?}"),
            };
            format!(
                "poll {} until {until}, every {:?} ×{} up to {:?}, timeout {:?}",
                describe_request(&p.request),
                p.every,
                p.backoff,
                p.max_every,
                p.timeout
            )
        }
    }
}

/// A request as `name [METHOD "path" → statuses]`.
fn describe_request(r: &Request) -> String {
    let expect = if r.expect.is_empty() {
        "2xx".to_owned()
    } else {
        r.expect
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join("|")
    };
    format!("{} [{} \"{}\" → {expect}]", r.name, r.method, r.path)
}

/// A branch, loop or `set`, its bodies in brackets.
fn describe_control(c: &Control) -> String {
    let list = |steps: &[Step]| {
        let inner: Vec<String> = steps.iter().map(describe_step).collect();
        format!("[{}]", inner.join("; "))
    };
    let cond = describe_condition;
    match c {
        Control::Set { var, .. } => format!("set {{{var}}} from a closure"),
        Control::When {
            cond: c,
            then,
            otherwise,
        } => format!(
            "when {} then {} else {}",
            cond(c),
            list(then),
            list(otherwise)
        ),
        Control::Repeat {
            until,
            max,
            timeout,
            steps,
        } => {
            let how = match until {
                Loop::Times(n) => format!("{n} times"),
                Loop::Until(c) => format!("until {} (at most {max} rounds)", cond(c)),
                Loop::While(c) => format!("while {} (at most {max} rounds)", cond(c)),
                Loop::WhileRunning => "while the run's duration lasts".to_owned(),
            };
            let timeout = timeout
                .map(|t| format!(", timeout {t:?}"))
                .unwrap_or_default();
            format!("repeat {how}{timeout}: {}", list(steps))
        }
        Control::ForEach {
            list: l,
            item,
            steps,
        } => {
            format!("for each {{{item}}} in {{{l}}}: {}", list(steps))
        }
        Control::Group { name, steps } => format!("group `{name}` (timed as one): {}", list(steps)),
        Control::Attempt { steps } => {
            format!("attempt (a failure does not end the flow): {}", list(steps))
        }
        Control::Metric { name, value, .. } => {
            let value = match value {
                MetricSource::Number(n) => n.to_string(),
                MetricSource::Template(t) => t.vars().map(|v| format!("{{{v}}}")).collect(),
                MetricSource::Script(_) => "a closure".to_owned(),
            };
            format!("{} `{name}` ← {value}", c.name())
        }
    }
}

/// A condition in words: `{items} gt 3`, `response status == "Accepted"`, `a closure`.
pub(super) fn describe_condition(c: &Condition) -> String {
    match c {
        Condition::Script(_) => "a closure".to_owned(),
        Condition::Compare { subject, test } => {
            let subject = match subject {
                Subject::Var(v) => format!("{{{v}}}"),
                Subject::Field(p) => format!("response {}", p.as_str()),
                Subject::Status => "status".to_owned(),
                Subject::Header(h) => format!("header {h}"),
                Subject::Length(p) => format!("length of response {}", p.as_str()),
            };
            let test = match test {
                Test::Equals(t) => format!("== {t}"),
                Test::OneOf(list) => {
                    let list: Vec<String> = list.iter().map(ToString::to_string).collect();
                    format!("in [{}]", list.join(", "))
                }
                Test::Exists(true) => "exists".to_owned(),
                Test::Exists(false) => "is absent".to_owned(),
                Test::Compare(cmp, n) => format!("{cmp:?} {n}").to_lowercase(),
                Test::Matches(re) => format!("matches /{}/", re.as_str()),
            };
            format!("{subject} {test}")
        }
    }
}
