//! Run-wide steps: `s.setup([...])` before the first order, each
//! `phase(name, once)`'s once-steps at its barrier, `s.teardown([...])` at the
//! end. They run with the run's own variables (what setup and earlier phases
//! captured), which every order can read after them. Phases are matched by
//! position across flows: every flow's k-th `phase()` is the run's k-th phase.

use std::collections::BTreeSet;

use super::PlanError;
use super::compiler::{Compiler, Names};
use super::model::Phase;
use super::settings::Speed;
use super::step::{Body, Step};
use crate::spec;

/// The compiled run-wide steps and what each stage makes known to orders.
pub(super) struct RunWide {
    /// Before the first order.
    pub setup: Vec<Step>,
    /// The barriers, in order, with their once-steps.
    pub phases: Vec<Phase>,
    /// After every flow and cleanup.
    pub teardown: Vec<Step>,
    /// The run's variables once setup is done.
    pub after_setup: BTreeSet<String>,
    /// The run's variables once phase k's once-steps are done.
    pub after_phase: Vec<BTreeSet<String>>,
}

/// Compiles setup, the phases' once-steps and teardown, noting their
/// requests' names in `names`.
pub(super) fn compile(
    spec: &spec::Spec,
    speed: Speed,
    names: &mut Names,
) -> Result<RunWide, PlanError> {
    // Run-wide steps have no order: no payload, no payload fields.
    let no_payload = BTreeSet::new();
    let mut unused = BTreeSet::new();
    let mut known = BTreeSet::new();
    let mut stage = |what: &str, steps: &[spec::Step], known: &mut BTreeSet<String>| {
        let compiled =
            Compiler::new(what, speed, &no_payload, &mut unused, names).steps(steps, known)?;
        if sends_payload(&compiled) {
            return Err(PlanError::Invalid {
                what: what.to_owned(),
                message: "send_payload() sends an order's payload, and run-wide steps have no order; use .json(#{ … })".into(),
            });
        }
        Ok(compiled)
    };
    let setup = stage("(setup)", &spec.setup, &mut known)?;
    let after_setup = known.clone();
    let mut phases = Vec::new();
    let mut after_phase = Vec::new();
    for (name, once) in by_position(spec)? {
        let once = stage(&format!("(phase {name})"), once, &mut known)?;
        phases.push(Phase {
            name: name.into(),
            once,
        });
        after_phase.push(known.clone());
    }
    let teardown = stage("(teardown)", &spec.teardown, &mut known)?;
    Ok(RunWide {
        setup,
        phases,
        teardown,
        after_setup,
        after_phase,
    })
}

/// The run's phases by position, each with the once-steps one flow gave it.
fn by_position(spec: &spec::Spec) -> Result<Vec<(&str, &[spec::Step])>, PlanError> {
    let mut phases: Vec<(&str, &[spec::Step], &str)> = Vec::new();
    let invalid = |what: String, message: String| PlanError::Invalid { what, message };
    for f in &spec.flows {
        let marks = f.steps.iter().filter_map(|s| match s {
            spec::Step::Phase { name, once } => Some((name.as_str(), once.as_slice())),
            _ => None,
        });
        for (k, (name, once)) in marks.enumerate() {
            let what = format!("flow `{}`, phase `{name}`", f.name);
            match phases.get_mut(k) {
                None => {
                    if let Some(at) = phases.iter().position(|(n, ..)| *n == name) {
                        return Err(invalid(
                            what,
                            format!("phase {} is named `{name}` already", at + 1),
                        ));
                    }
                    phases.push((name, once, &f.name));
                }
                Some((known, _, first)) if *known != name => {
                    return Err(invalid(
                        what,
                        format!(
                            "flow `{first}` calls phase {} `{known}`: every flow's phases come in the same order",
                            k + 1
                        ),
                    ));
                }
                Some((_, given, first)) => {
                    if !once.is_empty() {
                        if !given.is_empty() {
                            return Err(invalid(
                                what,
                                format!(
                                    "flow `{first}` gives this phase's once-steps already; give them in one flow"
                                ),
                            ));
                        }
                        *given = once;
                    }
                }
            }
        }
    }
    Ok(phases.into_iter().map(|(n, once, _)| (n, once)).collect())
}

fn sends_payload(steps: &[Step]) -> bool {
    steps.iter().any(|s| match s {
        Step::Request(r) => matches!(r.body, Body::Payload),
        Step::Poll(p) => matches!(p.request.body, Body::Payload),
        Step::Control(c) => c.bodies().into_iter().any(sends_payload),
        Step::Journey(j) => j
            .actions
            .iter()
            .chain(&j.errors)
            .any(|a| sends_payload(&a.steps)),
        Step::Pause { .. } | Step::Phase(_) => false,
    })
}

/// The positions of a flow's barriers among its steps.
pub(super) fn barriers(steps: &[Step]) -> Vec<usize> {
    steps
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s, Step::Phase(_)))
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(name: &str, phases: &[(&str, bool)]) -> spec::Flow {
        let once = || {
            vec![spec::Step::Pause {
                duration: std::time::Duration::ZERO,
                jitter: 0.0,
            }]
        };
        spec::Flow {
            name: name.into(),
            steps: phases
                .iter()
                .map(|(n, with_once)| spec::Step::Phase {
                    name: (*n).into(),
                    once: if *with_once { once() } else { Vec::new() },
                })
                .collect(),
        }
    }

    fn spec(flows: Vec<spec::Flow>) -> spec::Spec {
        spec::Spec {
            flows,
            ..spec::Spec::default()
        }
    }

    #[test]
    fn phases_line_up_by_position_with_once_steps_from_one_flow() {
        let s = spec(vec![
            flow("a", &[("made", false), ("shipped", false)]),
            flow("b", &[("made", true)]),
        ]);
        let phases = by_position(&s).unwrap();
        let names: Vec<&str> = phases.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["made", "shipped"]);
        assert_eq!(phases[0].1.len(), 1, "b's once-steps belong to phase 1");
    }

    #[test]
    fn misaligned_repeated_or_doubly_given_phases_are_refused() {
        let err = |flows| by_position(&spec(flows)).unwrap_err().to_string();
        let e = err(vec![flow("a", &[("x", false)]), flow("b", &[("y", false)])]);
        assert!(e.contains("flow `a` calls phase 1 `x`"), "{e}");
        let e = err(vec![flow("a", &[("x", false), ("x", false)])]);
        assert!(e.contains("phase 1 is named `x` already"), "{e}");
        let e = err(vec![flow("a", &[("x", true)]), flow("b", &[("x", true)])]);
        assert!(e.contains("give them in one flow"), "{e}");
    }
}
