//! The clock of the waits a run reports (pauses, think times, poll, retry
//! and cleanup intervals, arrivals), precise to a fraction of a millisecond.
//!
//! tokio's timer rounds a deadline up to the next millisecond and its driver
//! sleeps in whole milliseconds, so its sleeps end 0–2 ms late (a p99 of
//! 2.0 ms on 1 s pauses, which is what the timing table then reports). Here
//! the earliest deadline of the run is set on a Linux `timerfd` (nanosecond
//! resolution) that tokio's I/O driver watches like a socket: when it
//! expires, a task of the run's runtime wakes what is due, on the runtime's
//! own threads. No thread of its own, no wake from a foreign thread; the cost
//! over tokio's timer is about two system calls per expiry, and expiries are
//! at least 1 ms apart, tokio's own rate. The task is spawned at
//! the first wait, so a run without waits has only the descriptor.
//!
//! The same task watches the run's stop and abort tokens and wakes every
//! sleeper when one is cancelled: a wait does not register with a token
//! (a lock on the token's list of waiters, shared by every thread, twice
//! per wait), it reads it when it wakes.

use std::time::Instant;

use tokio_util::sync::CancellationToken;

/// One run's clock for waits; see the module doc.
pub struct Timer {
    /// None where there is no timerfd (not Linux, or none could be made):
    /// then tokio's timer, with its millisecond.
    #[cfg(target_os = "linux")]
    precise: Option<linux::Precise>,
}

impl Timer {
    /// A clock for one run, with its timerfd, interrupted by `tokens` (the
    /// run's stop and abort). Must be called on the run's runtime.
    pub fn open(tokens: [&CancellationToken; 2]) -> Self {
        #[cfg(target_os = "linux")]
        let precise = linux::Precise::new(tokens.map(Clone::clone))
            .inspect_err(|e| {
                tracing::warn!(error = %e, "no timerfd: waits use tokio's 1 ms timer");
            })
            .ok();
        #[cfg(not(target_os = "linux"))]
        let _ = tokens;
        Timer {
            #[cfg(target_os = "linux")]
            precise,
        }
    }

    /// Sleeps until `at`: true then, false as soon as `token` is cancelled.
    /// `token` must be one of those the timer was opened with (another one's
    /// cancel is seen only at `at`). Must be polled on the run's runtime
    /// (the first wait starts the timer's task there).
    pub async fn sleep_until(&self, at: Instant, token: &CancellationToken) -> bool {
        #[cfg(target_os = "linux")]
        if let Some(precise) = &self.precise {
            // A wake before `at` is an interruption, maybe by the other token.
            while !token.is_cancelled() {
                if Instant::now() >= at {
                    return true;
                }
                linux::Sleep::new(precise, at).await;
            }
            return false;
        }
        tokio::select! {
            biased;
            _ = token.cancelled() => false,
            _ = tokio::time::sleep_until(at.into()) => true,
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::BinaryHeap;
    use std::future::Future;
    use std::os::fd::OwnedFd;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
    use std::task::{Context, Poll};
    use std::time::{Duration, Instant};

    use futures_util::task::AtomicWaker;
    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
        timerfd_settime,
    };
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;
    use tokio_util::sync::CancellationToken;

    /// The timerfd's side of a [`super::Timer`].
    pub(super) struct Precise {
        shared: Arc<Shared>,
        /// Cancelling one of these wakes every sleeper.
        tokens: [CancellationToken; 2],
        /// The task that wakes sleepers, spawned at the first wait.
        task: OnceLock<tokio::task::AbortHandle>,
    }

    struct Shared {
        state: Mutex<State>,
        fd: AsyncFd<OwnedFd>,
    }

    #[derive(Default)]
    struct State {
        pending: BinaryHeap<Due>,
        /// The deadline the timerfd is set to, if any.
        armed: Option<Instant>,
        /// When the task last woke sleepers.
        woke: Option<Instant>,
    }

    /// The least time between two expiries. Each wakes the runtime (an idle
    /// one from its sleep), which costs; deadlines closer than this are woken
    /// together, so at most 1/GAP wakes a second, however many sleepers.
    const GAP: Duration = Duration::from_millis(1);

    /// A deadline in the heap, earliest first.
    struct Due {
        at: Instant,
        entry: Arc<Entry>,
    }

    impl PartialEq for Due {
        fn eq(&self, other: &Self) -> bool {
            self.at == other.at
        }
    }

    impl Eq for Due {}

    impl PartialOrd for Due {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }

    impl Ord for Due {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            // BinaryHeap is a max-heap: the earliest deadline must be the greatest.
            other.at.cmp(&self.at)
        }
    }

    /// What a sleeper and the timer share.
    #[derive(Default)]
    struct Entry {
        fired: AtomicBool,
        waker: AtomicWaker,
    }

    impl Shared {
        fn new() -> std::io::Result<Self> {
            let fd = timerfd_create(
                TimerfdClockId::Monotonic,
                TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
            )?;
            // SAFETY: an `OwnedFd` keeps its descriptor open and the same
            // until it is dropped, which the `AsyncFd` owning it does last.
            let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
                .map_err(|e| e.into_parts().1)?;
            Ok(Shared {
                state: Mutex::default(),
                fd,
            })
        }

        fn lock(&self) -> MutexGuard<'_, State> {
            self.state.lock().expect("timer lock")
        }

        /// Sets the timerfd to expire at `at`, or `GAP` after the last
        /// expiry if that is later, unless it is set to expire sooner.
        fn arm(&self, state: &mut State, at: Instant) {
            let at = state.woke.map_or(at, |woke| at.max(woke + GAP));
            if state.armed.is_some_and(|armed| armed <= at) {
                return;
            }
            // Relative: std's Instant is CLOCK_MONOTONIC but does not show
            // its raw value. Never zero, which would disarm it.
            let left = at
                .saturating_duration_since(Instant::now())
                .max(Duration::from_nanos(1));
            let spec = Itimerspec {
                it_interval: Timespec::default(),
                it_value: Timespec::try_from(left).expect("a wait fits a timespec"),
            };
            timerfd_settime(self.fd.get_ref(), TimerfdTimerFlags::empty(), &spec)
                .expect("a timerfd can be set");
            state.armed = Some(at);
        }

        /// The runtime's task: on each expiry, wakes what is due and sets
        /// the timerfd to the next deadline.
        async fn dispatch(self: Arc<Self>, tokens: [CancellationToken; 2]) {
            let mut due = Vec::new();
            let [stop, abort] = tokens.map(CancellationToken::cancelled_owned);
            let (mut stop, mut abort) = (std::pin::pin!(stop), std::pin::pin!(abort));
            let (mut stopped, mut aborted) = (false, false);
            loop {
                let interrupted = tokio::select! {
                    biased;
                    _ = &mut stop, if !stopped => {
                        stopped = true;
                        true
                    }
                    _ = &mut abort, if !aborted => {
                        aborted = true;
                        true
                    }
                    ready = self.fd.readable() => {
                        // An error only when the runtime shuts down, and its
                        // tasks, sleepers included, with it.
                        let Ok(mut ready) = ready else {
                            return;
                        };
                        // Resets the expiry count; the readiness this guard
                        // saw is then spent (a later expiry brings a new one).
                        let _ = rustix::io::read(self.fd.get_ref(), &mut [0u8; 8]);
                        ready.clear_ready();
                        self.take_due(&mut due);
                        false
                    }
                };
                if interrupted {
                    // Every sleeper looks at its token.
                    due.extend(self.lock().pending.drain().map(|d| d.entry));
                }
                for entry in due.drain(..) {
                    entry.fired.store(true, Ordering::Release);
                    entry.waker.wake();
                }
            }
        }

        /// Moves what is due to `due` and sets the timerfd to the next deadline.
        fn take_due(&self, due: &mut Vec<Arc<Entry>>) {
            let mut state = self.lock();
            let now = Instant::now();
            while let Some(top) = state.pending.peek()
                && top.at <= now
            {
                due.push(state.pending.pop().expect("peeked").entry);
            }
            state.armed = None;
            if !due.is_empty() {
                state.woke = Some(now);
            }
            if let Some(next) = state.pending.peek().map(|top| top.at) {
                self.arm(&mut state, next);
            }
        }
    }

    impl Precise {
        pub(super) fn new(tokens: [CancellationToken; 2]) -> std::io::Result<Self> {
            Ok(Precise {
                shared: Arc::new(Shared::new()?),
                tokens,
                task: OnceLock::new(),
            })
        }

        fn insert(&self, at: Instant, entry: Arc<Entry>) {
            self.task.get_or_init(|| {
                let dispatch = self.shared.clone().dispatch(self.tokens.clone());
                tokio::spawn(dispatch).abort_handle()
            });
            let mut state = self.shared.lock();
            state.pending.push(Due { at, entry });
            self.shared.arm(&mut state, at);
        }
    }

    impl Drop for Precise {
        fn drop(&mut self) {
            if let Some(task) = self.task.get() {
                task.abort();
            }
        }
    }

    /// A wait on the timerfd: ready at its deadline, or earlier when the
    /// timer is interrupted. Dropped before either, it leaves its entry in
    /// the heap until then; firing it wakes nobody.
    pub(super) struct Sleep<'a> {
        timer: &'a Precise,
        at: Instant,
        entry: Option<Arc<Entry>>,
    }

    impl<'a> Sleep<'a> {
        pub(super) fn new(timer: &'a Precise, at: Instant) -> Self {
            Sleep {
                timer,
                at,
                entry: None,
            }
        }
    }

    impl Future for Sleep<'_> {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let entry = match &self.entry {
                Some(entry) => entry,
                None => {
                    if Instant::now() >= self.at {
                        return Poll::Ready(());
                    }
                    let entry = Arc::new(Entry::default());
                    entry.waker.register(cx.waker());
                    self.timer.insert(self.at, entry.clone());
                    self.entry = Some(entry);
                    return Poll::Pending;
                }
            };
            entry.waker.register(cx.waker());
            if entry.fired.load(Ordering::Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::executor::Timer;

        /// A timer and its stop and abort tokens.
        fn open() -> (Timer, CancellationToken, CancellationToken) {
            let (stop, abort) = (CancellationToken::new(), CancellationToken::new());
            (Timer::open([&stop, &abort]), stop, abort)
        }

        fn precise(timer: &Timer) -> &Precise {
            timer.precise.as_ref().expect("a timerfd")
        }

        /// A timer whose task has woken one sleeper, and its shared state.
        async fn after_one_wake() -> (Timer, Arc<Shared>) {
            let (timer, stop, _abort) = open();
            let soon = Instant::now() + Duration::from_millis(1);
            assert!(timer.sleep_until(soon, &stop).await);
            let shared = precise(&timer).shared.clone();
            (timer, shared)
        }

        #[tokio::test]
        async fn sleepers_wake_not_before_their_deadline_and_in_deadline_order() {
            let (timer, stop, _abort) = open();
            let timer = Arc::new(timer);
            let start = Instant::now();
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            // Inserted latest first, so each new one is the earliest and
            // sets the timerfd anew.
            for ms in [40u64, 30, 20, 10] {
                let (timer, tx, stop) = (timer.clone(), tx.clone(), stop.clone());
                tokio::spawn(async move {
                    let at = start + Duration::from_millis(ms);
                    let slept = timer.sleep_until(at, &stop).await;
                    tx.send((ms, slept && Instant::now() >= at))
                        .expect("receiver");
                });
            }
            drop(tx);
            let mut woke = vec![];
            while let Some(w) = rx.recv().await {
                woke.push(w);
            }
            assert_eq!(woke, [(10, true), (20, true), (30, true), (40, true)]);
        }

        #[tokio::test]
        async fn a_passed_deadline_is_ready_at_once_and_a_dropped_sleep_wakes_nobody() {
            let (timer, stop, _abort) = open();
            assert!(timer.sleep_until(Instant::now(), &stop).await);
            assert!(
                precise(&timer).task.get().is_none(),
                "no task for a passed deadline"
            );
            let soon = Instant::now() + Duration::from_millis(5);
            tokio::select! {
                _ = timer.sleep_until(soon + Duration::from_secs(3600), &stop) => panic!("an hour passed"),
                _ = timer.sleep_until(soon, &stop) => {}
            }
            assert!(Instant::now() >= soon);
            let pending = precise(&timer).shared.lock().pending.len();
            assert_eq!(pending, 1, "the hour's entry waits");
        }

        #[tokio::test]
        async fn a_cancelled_token_ends_its_sleepers_and_the_others_sleep_on() {
            let (timer, stop, abort) = open();
            let timer = Arc::new(timer);
            let hour = Instant::now() + Duration::from_secs(3600);
            let stopped = tokio::spawn({
                let (timer, stop) = (timer.clone(), stop.clone());
                async move { timer.sleep_until(hour, &stop).await }
            });
            let soon = Instant::now() + Duration::from_millis(50);
            let cleaning = tokio::spawn({
                let timer = timer.clone();
                async move { timer.sleep_until(soon, &abort).await }
            });
            tokio::task::yield_now().await;
            stop.cancel();
            let ended = tokio::time::timeout(Duration::from_secs(10), stopped).await;
            assert!(
                !ended.expect("woken at the stop").expect("no panic"),
                "not slept"
            );
            assert!(
                cleaning.await.expect("no panic"),
                "the abort's sleeper slept"
            );
            assert!(Instant::now() >= soon, "and not less than asked");
            assert!(
                !timer.sleep_until(hour, &stop).await,
                "a stopped wait ends at once"
            );
        }

        #[tokio::test]
        async fn an_expiry_is_set_no_sooner_than_a_gap_after_the_last() {
            let (_timer, shared) = after_one_wake().await;
            let mut state = shared.lock();
            let woke = state.woke.expect("the task woke the first sleeper");
            shared.arm(&mut state, woke + Duration::from_micros(1));
            assert_eq!(state.armed, Some(woke + GAP), "woken with the next batch");
            shared.arm(&mut state, woke + 2 * GAP);
            assert_eq!(
                state.armed,
                Some(woke + GAP),
                "a later deadline waits its turn"
            );
        }

        #[tokio::test]
        async fn dropping_the_timer_ends_its_task() {
            let (timer, shared) = after_one_wake().await;
            drop(timer);
            // The task drops its reference when it ends.
            let ended = async {
                while Arc::strong_count(&shared) > 1 {
                    tokio::task::yield_now().await;
                }
            };
            let ended = tokio::time::timeout(Duration::from_secs(10), ended).await;
            assert!(ended.is_ok(), "the timer's task is still running");
        }
    }
}
