//! Cleanup: bring a created order to a terminal state after its flow, also
//! when the flow failed or the run was interrupted, or name it as stranded.

use std::time::Instant;

use super::{Executor, OrderRun};
use crate::client::HttpClient;
use crate::plan::{Cleanup, Lookup, Request};
use crate::recorder::journal::Entry;
use crate::recorder::{Record, Wait};

impl<C: HttpClient> Executor<C> {
    /// Runs the order's cleanup rule. `wait_first` is false for failed or
    /// interrupted flows, which are cleaned up at once.
    pub async fn cleanup(&self, run: OrderRun, wait_first: bool) {
        let index = run.index;
        self.cleanup_order(run, wait_first).await;
        self.cleaned(index);
    }

    /// Ends `run` at once when cleanup has nothing to do for it (never
    /// created, terminal, or no cleanup rule); else hands it back for
    /// [`Self::cleanup`], so that only orders with work get a task.
    pub fn skip_cleanup(&self, run: OrderRun) -> Option<OrderRun> {
        if self.cleanup_rule(&run).is_some() {
            return Some(run);
        }
        self.cleaned(run.index);
        None
    }

    fn cleaned(&self, index: u32) {
        self.journal(Entry::Done {
            n: self.plan.orders[index as usize].n,
        });
    }

    fn cleanup_rule(&self, run: &OrderRun) -> Option<&Cleanup> {
        if run.id.is_none() || self.is_terminal(run) {
            return None;
        }
        let flow = &self.plan.flows[self.plan.orders[run.index as usize].flow as usize];
        flow.cleanup.as_ref()
    }

    async fn cleanup_order(&self, mut run: OrderRun, wait_first: bool) {
        let Some(rule) = self.cleanup_rule(&run) else {
            return;
        };
        // Ctrl-C cuts the wait short: cleaning up is exactly what must still happen.
        if wait_first {
            let flow = self.plan.orders[run.index as usize].flow;
            let _ = self
                .wait(Wait::CleanupDelay { flow }, rule.after, &self.stop)
                .await;
        }
        if let Some(reason) = self.cleanup_rounds(&mut run, rule, Instant::now()).await {
            let order = run.index;
            self.recorder
                .record(Record::Stranded { order, reason })
                .await;
        }
        let mut pending = vec![true; rule.finally.len()];
        self.once_each(&mut run, &rule.finally, &mut pending).await;
    }

    /// Sends each of `steps` still `pending` whose variables are all set (not
    /// null); a step is done once it succeeded or had nothing to act on. A
    /// failure is counted, not fatal: the caller may try again.
    async fn once_each(&self, run: &mut OrderRun, steps: &[Request], pending: &mut [bool]) {
        for (step, pending) in steps.iter().zip(pending) {
            if !*pending || self.abort.is_cancelled() {
                continue;
            }
            let set = step
                .vars()
                .all(|v| run.vars.lookup(v).is_some_and(|x| !x.is_null()));
            *pending = set && self.request(run, step, &self.abort).await.is_err();
        }
    }

    /// Tries the rule's steps until the order is terminal; returns why it is not.
    async fn cleanup_rounds(
        &self,
        run: &mut OrderRun,
        rule: &Cleanup,
        started: Instant,
    ) -> Option<String> {
        let mut last = String::from("no attempt made");
        // Undo what the flow left half-done, log in where the steps need it;
        // what failed is sent again each round.
        let mut first = vec![true; rule.first.len()];
        loop {
            self.once_each(run, &rule.first, &mut first).await;
            for step in &rule.steps {
                if self.abort.is_cancelled() {
                    return Some(format!("aborted by a second Ctrl-C; last: {last}"));
                }
                // With several alternatives, a 409 only says "not this one": not an error.
                run.alternative = rule.steps.len() > 1;
                let result = self.request(run, step, &self.abort).await;
                run.alternative = false;
                match result {
                    Ok(_) if self.is_terminal(run) => return None,
                    Ok(_) => {
                        // The step worked but did not say the order is terminal: ask the target.
                        if let Some(verify) = &rule.verify {
                            let _ = self.request(run, verify, &self.abort).await;
                        }
                        if self.is_terminal(run) {
                            return None;
                        }
                        let state = run.state.as_deref().unwrap_or("unknown");
                        return Some(format!(
                            "cleanup step `{}` succeeded but the order's state is {state}, not terminal \
                             (mark it with .marks(\"STATE\") or add a verify step)",
                            step.name
                        ));
                    }
                    Err(f) => last = format!("{}: {}", step.name, f.reason),
                }
            }
            if let Some(verify) = &rule.verify {
                if let Err(f) = self.request(run, verify, &self.abort).await {
                    last = format!("{}: {}", verify.name, f.reason);
                }
                if self.is_terminal(run) {
                    return None;
                }
            }
            if started.elapsed() + rule.every > rule.timeout {
                return Some(format!(
                    "gave up after {:.1?}; last: {last}",
                    started.elapsed()
                ));
            }
            let flow = self.plan.orders[run.index as usize].flow;
            if !self
                .wait(Wait::CleanupInterval { flow }, rule.every, &self.abort)
                .await
            {
                return Some(format!("aborted by a second Ctrl-C; last: {last}"));
            }
        }
    }
}
