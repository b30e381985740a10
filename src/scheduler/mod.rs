//! Decides who runs when: setup first; then, in the open load model, each
//! order starts at its scheduled arrival (see [`arrivals`]); otherwise
//! `parallel` batch workers each take the next batch and run its orders one
//! after another, once per phase when the flows have barriers (every order's part k ends before any order's
//! part k+1 starts, the phase's once-steps in between); each created order's
//! cleanup runs as its own task after its flow; teardown runs once every
//! cleanup has ended.

mod arrivals;

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
use futures_util::future::CatchUnwind;

use tokio::task::JoinSet;
use tokio_util::task::TaskTracker;

use crate::client::HttpClient;
use crate::executor::{Executor, OrderRun, Recovery};
use crate::recorder::{FlowEnd, Record};

/// Runs setup, then every batch once per phase (a phase's once-steps
/// between two), then waits for every cleanup, then runs teardown.
///
/// `carry` is what an earlier, killed run left (`runner resume`).
pub async fn run<C: HttpClient>(executor: Arc<Executor<C>>, carry: Carryover) {
    let plan = executor.plan.clone();
    let cleanups = TaskTracker::new();
    // A failed setup starts no order (they would all fail the same way) and
    // leaves nothing for teardown to undo.
    let set_up = executor.run_wide("setup", &plan.setup).await;
    if set_up {
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
        // Orders waiting at a barrier, by index (only when the flows have phases).
        let parked = Arc::new(Mutex::new(if plan.phases.is_empty() {
            Vec::new()
        } else {
            (0..plan.orders.len()).map(|_| None).collect::<Vec<_>>()
        }));
        let mut phase_reached = 0;
        for phase in 0..=plan.phases.len() {
            phase_reached = phase;
            if phase > 0 {
                let p = &plan.phases[phase - 1];
                let name = format!("phase {}", p.name);
                if executor.stop.is_cancelled() || !executor.run_wide(&name, &p.once).await {
                    break;
                }
            }
            match &plan.arrivals {
                Some(schedule) => arrivals::run(&executor, schedule, &cleanups, &skip).await,
                None => batches(&executor, phase, &cleanups, &skip, &parked).await,
            }
        }
        // Stopped, or a phase's once-steps failed: the waiting orders end
        // there (interrupted or failed) and are cleaned up.
        let left: Vec<OrderRun> = parked
            .lock()
            .expect("parked lock")
            .drain(..)
            .flatten()
            .collect();
        let halted = plan.phases.get(phase_reached.saturating_sub(1));
        for run in left {
            let end = match halted {
                Some(p) if !executor.stop.is_cancelled() => FlowEnd::Failed {
                    step: format!("phase {}", p.name).into(),
                    reason: format!(
                        "the once-steps of phase `{}` failed (see the run-wide stages)",
                        p.name
                    ),
                },
                _ => FlowEnd::Interrupted,
            };
            executor.end_waiting(&run, end).await;
            spawn_cleanup(&executor, run, false, &cleanups);
        }
    }
    executor.recorder.record(Record::FlowsDone).await;
    cleanups.close();
    cleanups.wait().await;
    // After a Ctrl-C too (it undoes what setup made); not after a second one.
    if set_up && !executor.abort.is_cancelled() {
        executor.run_wide("teardown", &plan.teardown).await;
    }
}

type Parked = Mutex<Vec<Option<OrderRun>>>;

/// Runs every batch's part `phase` with `parallel` workers.
async fn batches<C: HttpClient>(
    executor: &Arc<Executor<C>>,
    phase: usize,
    cleanups: &TaskTracker,
    skip: &Arc<Vec<bool>>,
    parked: &Arc<Parked>,
) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    let workers_n = executor.plan.parallel.min(executor.plan.batches.len());
    for i in 0..workers_n {
        // Ramp: worker i joins after i/n of the ramp time, so load grows gradually.
        let delay = if phase == 0 {
            executor.plan.ramp.mul_f64(i as f64 / workers_n as f64)
        } else {
            std::time::Duration::ZERO
        };
        let (executor, next, cleanups, skip, parked) = (
            executor.clone(),
            next.clone(),
            cleanups.clone(),
            skip.clone(),
            parked.clone(),
        );
        // Boxed: a task's future is copied whole at each of its state
        // changes (finished, output taken, dropped), and this one holds an
        // order's whole flow, a few KB; 10,000 workers ending at once paid
        // for that in the last pause's lateness.
        workers.spawn(Box::pin(async move {
            if !delay.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = executor.stop.cancelled() => return,
                }
            }
            worker(executor, phase, next, cleanups, skip, parked).await
        }));
    }
    while let Some(result) = workers.join_next().await {
        if let Err(e) = result {
            tracing::error!(error = %e, "a batch worker died");
        }
    }
}

/// Takes batches until none are left or the run is stopped, running each
/// order's part `phase`: from the start in phase 0, else from its barrier.
async fn worker<C: HttpClient>(
    executor: Arc<Executor<C>>,
    phase: usize,
    next: Arc<AtomicUsize>,
    cleanups: TaskTracker,
    skip: Arc<Vec<bool>>,
    parked: Arc<Parked>,
) {
    let plan = executor.plan.clone();
    loop {
        let b = next.fetch_add(1, Ordering::Relaxed);
        let Some(batch) = plan.batches.get(b) else {
            return;
        };
        tracing::debug!(
            batch = b,
            phase,
            orders = batch.orders.len(),
            "batch started"
        );
        let started = std::time::Instant::now();
        for (i, index) in batch.orders.clone().enumerate() {
            if executor.stop.is_cancelled() {
                return;
            }
            let waiting = if phase == 0 {
                if skip.get(index).copied().unwrap_or(false) {
                    continue;
                }
                None
            } else {
                match parked.lock().expect("parked lock")[index].take() {
                    Some(run) => Some(run),
                    None => continue,
                }
            };
            if i > 0 && !plan.between.is_zero() && !executor.wait_between(plan.between).await {
                return;
            }
            let flow = guarded(async {
                let mut run = waiting.unwrap_or_else(|| executor.start(index as u32));
                let end = executor.run_part(&mut run, phase).await;
                (run, end)
            })
            .await;
            if let Some(run) = settle(&executor, index, flow, &cleanups).await {
                parked.lock().expect("parked lock")[index] = Some(run);
            }
        }
        let took = started.elapsed();
        // A batch's time is its first part's: later parts run after barriers.
        if phase == 0 {
            executor
                .recorder
                .record(Record::BatchDone {
                    batch: b as u32,
                    took,
                })
                .await;
        }
        tracing::debug!(batch = b, phase, ?took, "batch finished");
    }
}

/// After an order's part `phase`: its cleanup starts when the flow ended
/// (a panic fails the order); an order waiting at a barrier is handed back.
async fn settle<C: HttpClient>(
    executor: &Arc<Executor<C>>,
    index: usize,
    flow: Result<(OrderRun, Option<FlowEnd>), Box<dyn Any + Send>>,
    cleanups: &TaskTracker,
) -> Option<OrderRun> {
    match flow {
        Ok((run, None)) => return Some(run),
        Ok((run, Some(end))) => {
            spawn_cleanup(executor, run, matches!(end, FlowEnd::Completed), cleanups);
        }
        Err(panic) => {
            let reason = panic_reason(panic);
            tracing::error!(order = index, reason, "order task failed");
            failed(executor, index as u32, "internal", reason).await;
        }
    }
    None
}

/// Cleans `run` up in a task of its own, only when there is something to
/// clean up: most orders end terminal, and a herd of them ending at once
/// should not wait for as many spawned tasks.
fn spawn_cleanup<C: HttpClient>(
    executor: &Arc<Executor<C>>,
    run: OrderRun,
    wait_first: bool,
    cleanups: &TaskTracker,
) {
    if let Some(run) = executor.skip_cleanup(run) {
        let executor = executor.clone();
        cleanups.spawn(async move { executor.cleanup(run, wait_first).await });
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
            failed(executor, index, "recover", reason).await;
        }
    }
}

/// Records that order `index` failed at `step` before its flow could run or end.
async fn failed<C: HttpClient>(executor: &Executor<C>, index: u32, step: &str, reason: String) {
    let end = FlowEnd::Failed {
        step: step.into(),
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

/// Runs an order's `flow` in the calling task, a panic in it caught there:
/// the order fails (see [`panic_reason`]), not the batch or the run.
pub(super) fn guarded<F: Future>(flow: F) -> CatchUnwind<AssertUnwindSafe<F>> {
    // Not an `async fn`, nor mapped with a combinator: either would copy the
    // flow's few KB of state once more.
    AssertUnwindSafe(flow).catch_unwind()
}

/// Why an order failed, from what its panic carried.
fn panic_reason(payload: Box<dyn Any + Send>) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("internal error while running this order: {text}")
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_panicking_order_is_an_error_and_the_caller_goes_on() {
        assert_eq!(super::guarded(async { 7 }).await.ok(), Some(7));
        let failed = super::guarded(async {
            let items: Vec<u32> = Vec::new();
            items[3]
        })
        .await;
        let reason = super::panic_reason(failed.unwrap_err());
        assert!(
            reason.starts_with("internal error while running this order: index out of bounds"),
            "{reason}"
        );
        assert_eq!(super::guarded(async { "after" }).await.ok(), Some("after"));
    }
}
