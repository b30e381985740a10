//! Poll-until: repeat a request with a growing wait until its condition holds
//! or the timeout passes.

use std::time::Instant;

use super::{Executor, OrderRun, StepFailure};
use crate::client::HttpClient;
use crate::plan::Poll;
use crate::recorder::Wait;

impl<C: HttpClient> Executor<C> {
    /// Polls; `at` is (flow, step) for timing accuracy.
    pub(super) async fn poll(
        &self,
        run: &mut OrderRun,
        p: &Poll,
        at: (u16, u16),
    ) -> Result<(), StepFailure> {
        let started = Instant::now();
        for attempt in 0u32.. {
            let last = match self
                .request_until(run, &p.request, Some(&p.until), self.stopper(run))
                .await
            {
                Ok(true) => return Ok(()),
                Ok(false) => match &run.state {
                    Some(s) => format!("condition not met (state {s})"),
                    None => "condition not met".into(),
                },
                // A 404 before the order is visible, a 5xx or a dropped connection is not
                // final: keep polling until the timeout. A malformed answer is.
                Err(f) if f.transient => f.reason,
                Err(f) => return Err(f),
            };
            let wait = p.wait(attempt);
            if started.elapsed() + wait > p.timeout {
                return Err(StepFailure {
                    reason: format!(
                        "gave up after {} polls in {:.1?}: {last}",
                        attempt + 1,
                        started.elapsed()
                    ),
                    transient: false,
                    status: None,
                });
            }
            let interval = Wait::PollInterval {
                flow: at.0,
                step: at.1,
            };
            if !self.idle(run, interval, wait, self.stopper(run)).await {
                return Err(StepFailure::interrupted());
            }
        }
        unreachable!("the poll loop only ends by returning")
    }
}
