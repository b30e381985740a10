//! `runner resume DIR`: finish a run that was killed. The run's folder holds
//! what is needed: run.json (how the run was started), journal.jsonl (every
//! order's lifecycle, written before and after each create) and events.csv
//! (every request). Orders already terminal are skipped; orders with an id
//! are checked against the target and driven to terminal by their cleanup
//! rule; orders never started are run; orders whose create was sent but never
//! answered may exist on the target and are reported rather than created again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::check;
use super::run::{Outputs, RunOutcome, execute};
use crate::cli::{ResumeArgs, ScenarioArgs};
use crate::error::Error;
use crate::plan::{Plan, Target};
use crate::recorder::journal::{self, Known};
use crate::recorder::{FlowEnd, Record, events};
use crate::report::progress::{Display, Mode};
use crate::scheduler::Carryover;

/// The journal's file name in the output folder.
pub const JOURNAL: &str = "journal.jsonl";
/// The manifest's file name in the output folder.
pub const MANIFEST: &str = "run.json";

/// How a run was started: enough to compile the same plan again.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    script: PathBuf,
    config: Option<PathBuf>,
    sets: Vec<String>,
    options: Vec<(String, String)>,
    thresholds: Vec<String>,
    seed: u64,
    speed: f64,
    target: String,
}

impl Manifest {
    /// The manifest of a run about to start.
    pub fn new(args: &ScenarioArgs, plan: &Plan) -> Result<Manifest, Error> {
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
        Ok(Manifest {
            script: absolute(&args.script),
            config: args.config.as_deref().map(absolute),
            sets: args.sets.clone(),
            options: args.options.clone(),
            thresholds: args.thresholds.clone(),
            seed: plan.seed,
            speed: plan.speed,
            target: match &plan.target {
                Target::Url(u) => u.clone(),
                Target::Builtin(k) => format!("builtin:{k}"),
            },
        })
    }

    /// Writes run.json into `dir` (created if missing).
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            what: "cannot create output folder",
            path: dir.into(),
            source,
        })?;
        let path = dir.join(MANIFEST);
        std::fs::write(
            &path,
            serde_json::to_vec_pretty(self).expect("a manifest serializes"),
        )
        .map_err(|source| Error::Io {
            what: "cannot write",
            path,
            source,
        })
    }
}

/// What a resumed run starts from; the default is a fresh run.
#[derive(Default)]
pub struct Resume {
    /// Whether outputs are appended to.
    pub resuming: bool,
    /// Records of the earlier run, counted before anything new.
    pub prefill: Vec<Record>,
    /// What the scheduler must finish.
    pub carry: Carryover,
}

/// Continues the run recorded in `args.dir`.
pub async fn resume(args: ResumeArgs, display: Display) -> Result<RunOutcome, Error> {
    let dir = &args.dir;
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|source| Error::Io {
            what: "cannot read",
            path,
            source,
        })
    };
    let manifest: Manifest = serde_json::from_str(&read(MANIFEST)?).map_err(|e| {
        Error::Usage(format!(
            "{}: not a runner manifest ({e})",
            dir.join(MANIFEST).display()
        ))
    })?;
    if manifest.target.starts_with("builtin:") {
        return Err(Error::Usage(format!(
            "the run in {} used the built-in target {}, whose orders lived inside the killed process: there is nothing to resume; run it again",
            dir.display(),
            manifest.target
        )));
    }
    let scenario = ScenarioArgs {
        script: manifest.script.clone(),
        target: Some(manifest.target.clone()),
        config: manifest.config.clone(),
        sets: manifest.sets.clone(),
        speed: manifest.speed,
        seed: Some(manifest.seed),
        thresholds: manifest.thresholds.clone(),
        options: manifest.options.clone(),
        help: false,
    };
    let plan = check::load(&scenario)?;
    let path = dir.join(JOURNAL);
    let known = journal::read(&path).map_err(|source| Error::Io {
        what: "cannot read",
        path,
        source,
    })?;
    let path = dir.join("events.csv");
    let exchanges = events::read(&path, &plan).map_err(|source| Error::Io {
        what: "cannot read",
        path,
        source,
    })?;
    let resume = plan_resume(&plan, &known, exchanges);
    eprintln!(
        "runner: resuming {}: {} orders already started, {} to bring to a terminal state, {} not started yet",
        dir.display(),
        resume.carry.skip.iter().filter(|s| **s).count(),
        resume.carry.inflight.len() + resume.carry.uncertain.len(),
        resume.carry.skip.iter().filter(|s| !**s).count()
    );
    let stop = CancellationToken::new();
    let abort = CancellationToken::new();
    tokio::spawn(super::run::watch_ctrl_c(stop.clone(), abort.clone()));
    let outputs = Outputs {
        out: Some(dir.clone()),
        junit: None,
        metrics_addr: None,
        progress: Some(Mode::detect(args.quiet)),
        display,
    };
    execute(plan, &outputs, stop, abort, resume).await
}

/// Sorts the orders by what the journal knows of them.
fn plan_resume(
    plan: &Plan,
    known: &HashMap<u32, Known>,
    exchanges: Vec<crate::recorder::Exchange>,
) -> Resume {
    let mut resume = Resume {
        resuming: true,
        ..Resume::default()
    };
    resume.carry.skip = vec![false; plan.orders.len()];
    resume
        .prefill
        .extend(exchanges.into_iter().map(Record::Exchange));
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
            Some(id) => resume
                .carry
                .inflight
                .push((index, id.clone(), state.cloned())),
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
            None if k.intent && plan.recover.is_some() => resume.carry.uncertain.push(index),
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
