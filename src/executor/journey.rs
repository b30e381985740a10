//! Journeys: a virtual user picks weighted actions one after another, with
//! think time between them, until its request budget is spent or the run's
//! duration is up.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use super::{Executor, Halt, OrderRun};
use crate::client::HttpClient;
use crate::plan::{Action, Journey};
use crate::recorder::Wait;

impl<C: HttpClient> Executor<C> {
    pub(super) async fn journey(
        &self,
        run: &mut OrderRun,
        c: &Journey,
        flow: u16,
    ) -> Result<(), Halt> {
        let budget = run.rng.random_range(c.requests.0..=c.requests.1);
        let start = run.sent;
        while run.sent - start < budget && !self.past_deadline() {
            if self.stopper(run).is_cancelled() {
                return Err(Halt::Interrupted);
            }
            let action = pick(c, &mut run.rng);
            run.category = Some(action.category.clone());
            let result = self.run_steps(run, &action.steps, flow, None).await;
            run.category = None;
            match result {
                Err(Halt::Interrupted) => return Err(Halt::Interrupted),
                // A failed action is counted (its requests are errors); the user carries on.
                Err(Halt::Failed { step, reason }) => {
                    tracing::debug!(
                        action = &*action.name,
                        step = &*step,
                        reason,
                        "action failed"
                    );
                }
                Ok(()) => {}
            }
            if run.sent - start >= budget {
                break;
            }
            let (lo, hi) = action.think.unwrap_or(c.think);
            let mut think = if hi > lo {
                run.rng.random_range(lo..=hi)
            } else {
                lo
            };
            if let Some(deadline) = self.deadline {
                think = think.min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            }
            if !self
                .idle(run, Wait::Think { flow }, think, self.stopper(run))
                .await
            {
                return Err(Halt::Interrupted);
            }
        }
        Ok(())
    }

    pub(super) fn past_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|d| tokio::time::Instant::now() >= d)
    }
}

/// A deliberate bad request at the error rate, else a category by the mix and
/// an action of that category by weight.
fn pick<'a>(c: &'a Journey, rng: &mut ChaCha8Rng) -> &'a Action {
    if !c.errors.is_empty() && c.error_rate > 0.0 && rng.random_bool(c.error_rate) {
        let all: Vec<usize> = (0..c.errors.len()).collect();
        return &c.errors[weighted(&c.errors, &all, rng)];
    }
    let mut roll = rng.random_range(0.0..1.0);
    let mut members = &c.mix[c.mix.len() - 1].2;
    for ((_, _, m), p) in c.mix.iter().zip(&c.pick) {
        if roll < *p {
            members = m;
            break;
        }
        roll -= p;
    }
    &c.actions[weighted(&c.actions, members, rng)]
}

/// An index from `members` chosen by the actions' weights.
fn weighted(actions: &[Action], members: &[usize], rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = members.iter().map(|&i| actions[i].weight).sum();
    if total <= 0.0 {
        return members[rng.random_range(0..members.len())];
    }
    let mut roll = rng.random_range(0.0..total);
    for &i in members {
        if roll < actions[i].weight {
            return i;
        }
        roll -= actions[i].weight;
    }
    *members.last().expect("a category has actions")
}
