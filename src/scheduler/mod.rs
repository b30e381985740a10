//! Decides who runs when: `parallel` batch workers each take the next batch
//! and run its orders one after another; each created order's cleanup runs
//! as its own task after the flow; the run ends when every cleanup has.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;

use crate::client::HttpClient;
use crate::executor::{Executor, Recovery};
use crate::recorder::{FlowEnd, Record};

/// Runs every batch, then waits for every cleanup.
///
/// `carry` is what an earlier, killed run left (`runner resume`).
pub async fn run<C: HttpClient>(executor: Arc<Executor<C>>, carry: Carryover) {
    let next = Arc::new(AtomicUsize::new(0));
    let cleanups = TaskTracker::new();
    for o in carry.inflight {
        let run = executor.resumed(o.index, Some(&o.id), o.state.as_deref(), o.vars);
        let executor = executor.clone();
        cleanups.spawn(async move {
            match o.next {
                Some(next) => executor.continue_flow(run, next.into()).await,
                None => executor.cleanup(run, false).await,
            }
        });
    }
    for (index, vars) in carry.uncertain {
        let executor = executor.clone();
        cleanups.spawn(async move { recover(&executor, index, vars).await });
    }
    let skip = Arc::new(carry.skip);
    let mut workers = JoinSet::new();
    let workers_n = executor.plan.parallel.min(executor.plan.batches.len());
    for i in 0..workers_n {
        // Ramp: worker i joins after i/n of the ramp time, so load grows gradually.
        let delay = executor.plan.ramp.mul_f64(i as f64 / workers_n as f64);
        let (executor, next, cleanups, skip) = (
            executor.clone(),
            next.clone(),
            cleanups.clone(),
            skip.clone(),
        );
        workers.spawn(async move {
            if !delay.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = executor.stop.cancelled() => return,
                }
            }
            worker(executor, next, cleanups, skip).await
        });
    }
    while let Some(result) = workers.join_next().await {
        if let Err(e) = result {
            tracing::error!(error = %e, "a batch worker died");
        }
    }
    cleanups.close();
    cleanups.wait().await;
}

/// Takes batches until none are left or the run is stopped.
async fn worker<C: HttpClient>(
    executor: Arc<Executor<C>>,
    next: Arc<AtomicUsize>,
    cleanups: TaskTracker,
    skip: Arc<Vec<bool>>,
) {
    let plan = executor.plan.clone();
    loop {
        let b = next.fetch_add(1, Ordering::Relaxed);
        let Some(batch) = plan.batches.get(b) else {
            return;
        };
        tracing::debug!(batch = b, orders = batch.orders.len(), "batch started");
        let started = std::time::Instant::now();
        for (i, index) in batch.orders.clone().enumerate() {
            if executor.stop.is_cancelled() {
                return;
            }
            if skip.get(index).copied().unwrap_or(false) {
                continue;
            }
            if i > 0 && !plan.between.is_zero() && !executor.wait_between(plan.between).await {
                return;
            }
            // Each order runs in its own task: a panic fails that order, not the batch.
            let flow = tokio::spawn({
                let executor = executor.clone();
                async move {
                    let mut run = executor.start(index as u32);
                    let end = executor.run_flow(&mut run).await;
                    (run, end)
                }
            });
            match flow.await {
                Ok((run, end)) => {
                    let wait_first = matches!(end, FlowEnd::Completed);
                    let executor = executor.clone();
                    cleanups.spawn(async move { executor.cleanup(run, wait_first).await });
                }
                Err(e) => {
                    let reason = panic_message(e);
                    tracing::error!(order = index, reason, "order task failed");
                    let end = FlowEnd::Failed {
                        step: "internal".into(),
                        reason,
                    };
                    let took = std::time::Duration::ZERO;
                    executor
                        .recorder
                        .record(Record::FlowEnded {
                            order: index as u32,
                            end,
                            took,
                        })
                        .await;
                }
            }
        }
        let took = started.elapsed();
        executor
            .recorder
            .record(Record::BatchDone {
                batch: b as u32,
                took,
            })
            .await;
        tracing::debug!(batch = b, ?took, "batch finished");
    }
}

/// What an earlier, killed run left to finish (`runner resume`); empty for a fresh run.
#[derive(Debug, Default)]
pub struct Carryover {
    /// Orders (by index) already started: the batch workers pass over them.
    pub skip: Vec<bool>,
    /// Orders with an id that are not terminal: they continue their flow or go to cleanup.
    pub inflight: Vec<Inflight>,
    /// Orders whose create was in flight when the run died: looked up first.
    pub uncertain: Vec<(u32, serde_json::Map<String, serde_json::Value>)>,
}

/// An order an earlier run created and left before a terminal state.
#[derive(Debug)]
pub struct Inflight {
    /// Index in the plan's orders.
    pub index: u32,
    /// Its id on the target.
    pub id: String,
    /// Its last known state.
    pub state: Option<String>,
    /// What its finished steps captured.
    pub vars: serde_json::Map<String, serde_json::Value>,
    /// The flow step to go on from; `None` when the flow ended (only cleanup is left).
    pub next: Option<u16>,
}

/// An order whose create may or may not have happened: look it up by its
/// payload; found → continue its flow after the create; absent → run it now;
/// unknown → report it.
async fn recover<C: HttpClient>(
    executor: &Executor<C>,
    index: u32,
    vars: serde_json::Map<String, serde_json::Value>,
) {
    // What the steps before the create captured (a login's token, say) is kept.
    let mut run = executor.resumed(index, None, None, vars);
    match executor.recover(&mut run).await {
        Recovery::Found => executor.continue_flow(run, 0).await,
        Recovery::Absent => {
            let end = executor.run_flow(&mut run).await;
            executor
                .cleanup(run, matches!(end, FlowEnd::Completed))
                .await;
        }
        Recovery::Unknown(reason) => {
            let reason = format!(
                "the run was killed while this order's create was in flight and it could not be looked up: {reason}"
            );
            let end = FlowEnd::Failed {
                step: "recover".into(),
                reason,
            };
            let took = std::time::Duration::ZERO;
            executor
                .recorder
                .record(Record::FlowEnded {
                    order: index,
                    end,
                    took,
                })
                .await;
        }
    }
}

/// The text of a task's panic, for the report.
fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            format!("internal error while running this order: {text}")
        }
        Err(e) => format!("order task ended: {e}"),
    }
}
