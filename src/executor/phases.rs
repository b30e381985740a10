//! The run-wide steps (setup, a phase's once-steps, teardown) and one order's
//! part of a flow between two barriers. The scheduler decides when each runs.

use std::time::Instant;

use super::{Executor, Halt, OrderRun, Vars};
use crate::client::HttpClient;
use crate::plan::{RUN_WIDE, Step};
use crate::recorder::{FlowEnd, Record};

impl<C: HttpClient> Executor<C> {
    /// Runs run-wide `steps` once, reported as the stage `name`; what they
    /// capture becomes the run's variables, which orders started afterwards
    /// read. False when a step failed or the run was stopped.
    pub async fn run_wide(&self, name: &str, steps: &[Step]) -> bool {
        if steps.is_empty() {
            return true;
        }
        let started = Instant::now();
        let mut vars = Vars::default();
        self.load_shared(&mut vars);
        let mut run = self.fresh(RUN_WIDE, vars, self.plan.seed);
        // Teardown undoes what setup made: after a Ctrl-C too, like cleanups.
        run.undoing = name == "teardown";
        let result = self.run_steps(&mut run, steps, u16::MAX, None).await;
        let failed = match result {
            Ok(()) => None,
            Err(Halt::Interrupted) => Some("stopped by Ctrl-C".to_owned()),
            Err(Halt::Failed { step, reason }) => Some(format!("step `{step}`: {reason}")),
        };
        if failed.is_none() {
            *self.shared.write().expect("shared vars lock") = run.vars.0;
        }
        let ok = failed.is_none();
        self.recorder
            .record(Record::Stage {
                name: name.into(),
                took: started.elapsed(),
                failed,
            })
            .await;
        ok
    }

    /// Ends the flow of an order that waited at a barrier the run never got past.
    pub async fn end_waiting(&self, run: &OrderRun, end: FlowEnd) {
        self.recorder
            .record(Record::FlowEnded {
                order: run.index,
                end,
                took: run.started.elapsed(),
            })
            .await;
    }

    /// Runs order `run`'s part `phase` of its flow: the steps between its
    /// barrier `phase - 1` (or the start) and its barrier `phase` (or the
    /// end). `None` when it stopped at a barrier, ready for the next part.
    pub async fn run_part(&self, run: &mut OrderRun, phase: usize) -> Option<FlowEnd> {
        let flow = &self.plan.flows[self.plan.orders[run.index as usize].flow as usize];
        let from = match phase {
            0 => 0,
            k => flow.barriers.get(k - 1).map_or(flow.steps.len(), |b| b + 1),
        };
        if phase > 0 {
            // What the phase's once-steps captured, for the steps after the barrier.
            self.load_shared(&mut run.vars);
        }
        self.run_flow_part(run, from, flow.barriers.get(phase).copied())
            .await
    }
}
