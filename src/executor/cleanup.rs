//! Cleanup: bring a created order to a terminal state after its flow, also
//! when the flow failed or the run was interrupted, or name it as stranded.

use std::time::Instant;

use super::{Executor, OrderRun};
use crate::client::HttpClient;
use crate::recorder::Record;

impl<C: HttpClient> Executor<C> {
    /// Runs the order's cleanup rule. `wait_first` is false for failed or
    /// interrupted flows, which are cleaned up at once.
    pub async fn cleanup(&self, mut run: OrderRun, wait_first: bool) {
        if run.id.is_none() || self.is_terminal(&run) {
            return;
        }
        let flow = &self.plan.flows[self.plan.orders[run.index as usize].flow as usize];
        let Some(rule) = &flow.cleanup else {
            return;
        };
        // Ctrl-C cuts the wait short: cleaning up is exactly what must still happen.
        if wait_first {
            let _ = self.sleep(rule.after, &self.stop).await;
        }
        let started = Instant::now();
        let mut last = String::from("no attempt made");
        loop {
            for step in &rule.steps {
                match self.request(&mut run, step, &self.abort).await {
                    Ok(_) => return,
                    Err(f) => last = format!("{}: {}", step.name, f.reason),
                }
                if self.is_terminal(&run) {
                    return;
                }
            }
            if let Some(verify) = &rule.verify {
                if let Err(f) = self.request(&mut run, verify, &self.abort).await {
                    last = format!("{}: {}", verify.name, f.reason);
                }
                if self.is_terminal(&run) {
                    return;
                }
            }
            if started.elapsed() + rule.every > rule.timeout {
                last = format!("gave up after {:.1?}; last: {last}", started.elapsed());
                break;
            }
            if !self.sleep(rule.every, &self.abort).await {
                last = format!("aborted by a second Ctrl-C; last: {last}");
                break;
            }
        }
        self.recorder
            .record(Record::Stranded {
                order: run.index,
                reason: last,
            })
            .await;
    }
}
