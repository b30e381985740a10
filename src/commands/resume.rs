//! `runner resume DIR`: finish a run that was killed. The run's folder holds
//! what is needed: run.json (how the run was started), journal.jsonl (every
//! order's lifecycle, written before and after each create) and events.csv
//! (every request). Orders already terminal are skipped; orders with an id
//! go on with their flow from the last journaled step, then through cleanup
//! (or straight to cleanup when their flow had ended); orders never started are
//! run; orders whose create was sent but never answered are looked up
//! (`s.recover`) and continued, or reported rather than created again.

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;

use super::check;
use super::execute::{Outputs, Resume, RunOutcome, execute, watch_ctrl_c};
use super::manifest::{JOURNAL, MANIFEST, Manifest};
use crate::builtin::Builtins;
use crate::cli::ResumeArgs;
use crate::error::Error;
use crate::plan::Plan;
use crate::recorder::journal::{self, Known};
use crate::recorder::{FlowEnd, Record, events};
use crate::report::progress::{Display, Mode};
use crate::scheduler::Inflight;

/// Continues the run recorded in `args.dir`.
pub async fn resume(
    args: ResumeArgs,
    display: Display,
    builtins: &dyn Builtins,
) -> Result<RunOutcome, Error> {
    let dir = &args.dir;
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(Error::io("cannot read", path))
    };
    let manifest: Manifest = serde_json::from_str(&read(MANIFEST)?).map_err(|e| {
        Error::Usage(format!(
            "{}: not a runner manifest ({e})",
            dir.join(MANIFEST).display()
        ))
    })?;
    if manifest.target().starts_with(crate::plan::BUILTIN) {
        return Err(Error::Usage(format!(
            "the run in {} used the built-in target {}, whose orders lived inside the killed process: there is nothing to resume; run it again",
            dir.display(),
            manifest.target()
        )));
    }
    let scenario = manifest.scenario();
    let plan = check::load(&scenario)?.plan;
    let path = dir.join(JOURNAL);
    let known = journal::read(&path).map_err(Error::io("cannot read", path))?;
    let path = dir.join("events.csv");
    let exchanges = events::read(&path, &plan).map_err(Error::io("cannot read", path))?;
    let resume = plan_resume(&plan, &known, exchanges);
    crate::say!(
        "runner: resuming {}: {} {noun} already started, {} to bring to a terminal state, {} not started yet",
        dir.display(),
        resume.carry.skip.iter().filter(|s| **s).count(),
        resume.carry.inflight.len() + resume.carry.uncertain.len(),
        resume.carry.skip.iter().filter(|s| !**s).count(),
        noun = plan.noun,
    );
    let stop = CancellationToken::new();
    let abort = CancellationToken::new();
    tokio::spawn(watch_ctrl_c(stop.clone(), abort.clone(), plan.noun.clone()));
    let outputs = Outputs {
        out: Some(dir.clone()),
        junit: None,
        metrics_addr: None,
        progress: Some(Mode::detect(args.quiet)),
        display,
        listeners: super::listen::Listeners::new(args.listeners)?,
    };
    execute(plan, &outputs, stop, abort, resume, builtins).await
}

/// Sorts the orders by what the journal knows of them.
fn plan_resume(
    plan: &Plan,
    known: &HashMap<u32, Known>,
    exchanges: Vec<crate::recorder::Exchange<'static>>,
) -> Resume {
    let mut resume = Resume {
        resuming: true,
        ..Resume::default()
    };
    resume.carry.skip = vec![false; plan.orders.len()];
    resume
        .prefill
        .extend(exchanges.into_iter().map(|x| Record::Exchange(Box::new(x))));
    for (index, order) in plan.orders.iter().enumerate() {
        let Some(k) = known.get(&order.n) else {
            continue;
        };
        let index = index as u32;
        resume.carry.skip[index as usize] = k.intent || k.id.is_some();
        if let Some(id) = &k.id {
            resume.prefill.push(Record::Created {
                order: index,
                id: id.as_str().into(),
            });
        }
        for state in &k.states {
            resume.prefill.push(Record::State {
                order: index,
                state: state.as_str().into(),
            });
        }
        let state = k.states.last();
        let terminal = state.is_some_and(|s| plan.terminal.iter().any(|t| **t == **s));
        let took = std::time::Duration::ZERO;
        match &k.id {
            // Cleanup already finished with it (terminal or given up): nothing to do.
            Some(_) if k.done || terminal => {}
            Some(id) => resume.carry.inflight.push(Inflight {
                index,
                id: id.clone(),
                state: state.cloned(),
                vars: k.vars.clone(),
                next: (!k.flow_ended).then_some(k.next),
            }),
            // The create was answered with an error and the flow ended: a failed order, not a lost one.
            None if k.intent && k.flow_ended => {
                let reason = "its create failed in the earlier run (see events.csv)".to_owned();
                let end = FlowEnd::Failed {
                    step: "create".into(),
                    reason,
                };
                resume.prefill.push(Record::FlowEnded {
                    order: index,
                    end,
                    took,
                });
            }
            // The create went out and no answer was journaled: look it up if the scenario can.
            None if k.intent && plan.recover.is_some() => {
                resume.carry.uncertain.push((index, k.vars.clone()))
            }
            None if k.intent => {
                // It may exist on the target.
                let reason = "the run was killed while this order's create was in flight: it may exist on the target \
                              without an id we know, so it was not created again"
                    .to_owned();
                let end = FlowEnd::Failed {
                    step: "create".into(),
                    reason,
                };
                resume.prefill.push(Record::FlowEnded {
                    order: index,
                    end,
                    took,
                });
            }
            None => {}
        }
    }
    resume
}
