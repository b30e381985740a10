//! The open load model: the orders (or users), in batch order, start at the
//! times the plan's arrival schedule gives, however slow the target is. An
//! arrival that finds `max_in_flight` flows running is dropped and counted;
//! the schedule does not wait for it. Each flow's time counts from its
//! scheduled start, so a late start is seen, not hidden. Arrivals stop at
//! the end of the stages, at `--duration` or on Ctrl-C.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use super::{guarded, settle};
use crate::client::HttpClient;
use crate::executor::Executor;
use crate::plan::Arrivals;
use crate::recorder::Record;

/// Starts every order on its schedule, then waits for the started flows to end.
pub(super) async fn run<C: HttpClient>(
    executor: &Arc<Executor<C>>,
    schedule: &Arrivals,
    cleanups: &TaskTracker,
    skip: &[bool],
) {
    let plan = executor.plan.clone();
    let in_flight = Arc::new(Semaphore::new(schedule.max_in_flight));
    let flows = TaskTracker::new();
    let start = Instant::now();
    // The plan's orders are in batch order already.
    let orders = (0..plan.orders.len()).filter(|&i| !skip.get(i).copied().unwrap_or(false));
    for (k, index) in orders.enumerate() {
        let Some(offset) = schedule.at(k as u64) else {
            break;
        };
        let due = start + offset;
        if executor.deadline.is_some_and(|end| due >= end.into_std()) {
            break;
        }
        if !executor.timer.sleep_until(due, &executor.stop).await {
            break;
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            let order = index as u32;
            executor.recorder.record(Record::Dropped { order }).await;
            continue;
        };
        let lag = due.elapsed();
        executor.recorder.record(Record::Started { lag }).await;
        let (executor, cleanups) = (executor.clone(), cleanups.clone());
        // Boxed, as batch workers are (see `batches`).
        flows.spawn(Box::pin(async move {
            let flow = guarded(async {
                let mut run = executor.start(index as u32);
                run.scheduled_at(due);
                let end = executor.run_part(&mut run, 0).await;
                (run, end)
            })
            .await;
            // The iteration is its flow; cleanup runs apart and holds no slot.
            drop(permit);
            settle(&executor, index, flow, &cleanups).await;
        }));
    }
    flows.close();
    flows.wait().await;
}
