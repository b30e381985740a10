//! Resume: an order that a killed run left mid-flow goes on from its last
//! journaled step and then through its cleanup, so it ends the way its flow
//! says (an order of type activate is activated, then ended), not just cleaned up.

use super::{Executor, OrderRun};
use crate::client::HttpClient;
use crate::plan::Step;
use crate::recorder::FlowEnd;

impl<C: HttpClient> Executor<C> {
    /// Continues `run` at flow step `next` (never before the step after its
    /// create), then cleans it up.
    pub async fn continue_flow(&self, mut run: OrderRun, next: usize) {
        let flow = &self.plan.flows[self.plan.orders[run.index as usize].flow as usize];
        let mut next = next.max(self.after_create(&flow.steps));
        // Ask where the order is: the step cut off by the kill may have taken effect.
        if let Some(verify) = flow.cleanup.as_ref().and_then(|c| c.verify.as_ref()) {
            let _ = self.request(&mut run, verify, &self.stop).await;
        }
        if self.is_terminal(&run) {
            return self.cleanup(run, false).await;
        }
        // A step whose mark is the state the order is in already happened
        // (pauses are not journaled, so look past them).
        let first = (next..flow.steps.len())
            .find(|i| !matches!(flow.steps[*i], Step::Pause { .. }))
            .unwrap_or(next);
        if let Some(Step::Request(r)) = flow.steps.get(first)
            && r.marks.is_some()
            && r.marks == run.state
        {
            next = first + 1;
        }
        let end = self.run_flow_from(&mut run, next).await;
        self.cleanup(run, matches!(end, FlowEnd::Completed)).await;
    }

    /// The index of the step after the one that captures the order's id (or
    /// holds, at any depth, the request that does).
    fn after_create(&self, steps: &[Step]) -> usize {
        steps
            .iter()
            .position(|s| self.creates(s))
            .map_or(0, |i| i + 1)
    }

    fn creates(&self, step: &Step) -> bool {
        match step {
            Step::Control(c) => c.bodies().into_iter().flatten().any(|s| self.creates(s)),
            Step::Journey(j) => j
                .actions
                .iter()
                .chain(&j.errors)
                .flat_map(|a| &a.steps)
                .any(|s| self.creates(s)),
            _ => step
                .captures()
                .iter()
                .any(|(v, _)| *v == self.plan.track_id),
        }
    }
}
