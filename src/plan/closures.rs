//! Checks each closure's number of parameters against how runner calls it,
//! when the plan is compiled rather than on the first order, and marks poll
//! checks that want the order's variables (`|response, vars|`).

use super::PlanError;
use super::model::Flow;
use super::step::{Condition, Control, Loop, MetricSource, Step, Until};
use crate::script::Runtime;
use crate::spec::ScriptFn;

/// Walks every flow; a closure with a wrong count is an error naming the flow.
pub(super) fn check(flows: &mut [Flow], runtime: &Runtime) -> Result<(), PlanError> {
    for flow in flows {
        steps(&mut flow.steps, runtime, &flow.name)?;
    }
    Ok(())
}

/// Walks `steps` (nested ones too); errors name `flow`.
pub(super) fn steps(steps: &mut [Step], runtime: &Runtime, flow: &str) -> Result<(), PlanError> {
    let count = |f: &ScriptFn, allowed: &[usize], what: &str, form: &str| {
        let n = runtime.arity(f);
        if allowed.contains(&n) {
            Ok(n)
        } else {
            Err(PlanError::Invalid {
                what: format!("flow `{flow}`, {what}"),
                message: format!("the closure takes {n} parameters; write it as {form}"),
            })
        }
    };
    let condition = |c: &Condition, what: &str| match c {
        Condition::Script(f) => count(f, &[1], what, "|ctx| …").map(|_| ()),
        Condition::Compare { .. } => Ok(()),
    };
    for step in steps {
        match step {
            Step::Poll(p) => {
                for c in &p.request.checks {
                    condition(&c.cond, "check")?;
                }
                if let Until::Script { f, with_vars } = &mut p.until {
                    let what = "poll.check";
                    *with_vars =
                        count(f, &[1, 2], what, "|response| … or |response, vars| …")? == 2;
                }
            }
            Step::Control(c) => {
                match &*c {
                    Control::Set { f, .. }
                    | Control::Metric {
                        value: MetricSource::Script(f),
                        ..
                    } => count(f, &[1], c.name(), "|ctx| …").map(|_| ())?,
                    Control::When { cond, .. } => condition(cond, "when")?,
                    Control::Repeat {
                        until: Loop::Until(cond) | Loop::While(cond),
                        ..
                    } => condition(cond, "repeat")?,
                    Control::Repeat { .. }
                    | Control::ForEach { .. }
                    | Control::Group { .. }
                    | Control::Attempt { .. }
                    | Control::Metric { .. } => {}
                }
                match c {
                    Control::When {
                        then, otherwise, ..
                    } => {
                        self::steps(then, runtime, flow)?;
                        self::steps(otherwise, runtime, flow)?;
                    }
                    Control::Repeat { steps: body, .. }
                    | Control::ForEach { steps: body, .. }
                    | Control::Attempt { steps: body }
                    | Control::Group { steps: body, .. } => self::steps(body, runtime, flow)?,
                    Control::Set { .. } | Control::Metric { .. } => {}
                }
            }
            Step::Journey(j) => {
                for a in j.actions.iter_mut().chain(&mut j.errors) {
                    self::steps(&mut a.steps, runtime, flow)?;
                }
            }
            Step::Request(r) => {
                for c in &r.checks {
                    condition(&c.cond, "check")?;
                }
            }
            Step::Pause { .. } | Step::Phase(_) => {}
        }
    }
    Ok(())
}
