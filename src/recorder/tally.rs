//! Exchange and wait statistics kept per worker thread and merged by the
//! aggregator on its one-second tick. A request costs one uncontended lock on its thread's
//! own [`Tally`], not a trip through a channel to the one task every core
//! would otherwise wait on; histograms merge exactly, so the report is the
//! same as if one place had seen every exchange.

use std::cell::RefCell;
use std::mem;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

use hdrhistogram::Histogram;

use super::Exchange;
use super::metrics::{StepMetrics, latency_histogram, record_us, sum_by};
use super::recent::Recent;
use super::timing::Waits;

use crate::sync::lock;

/// Everything counted per exchange and per wait: latency histograms, error
/// and retry counts, the request mix, the last few requests and the
/// lateness of waits.
pub struct Tally {
    /// Every attempt's latency (µs). A thread's tally is emptied every
    /// second, so it is also the second's, for the timeline.
    pub overall: Histogram<u64>,
    /// Failed attempts.
    pub errors: u64,
    /// Requests that succeeded after at least one retry.
    pub requests_retried: u64,
    /// Requests whose last attempt failed.
    pub requests_failed: u64,
    /// First attempts per journey category, in first-seen order.
    pub mix: Vec<(Arc<str>, u64)>,
    /// Per step name.
    pub steps: StepMetrics,
    /// Per endpoint.
    pub endpoints: StepMetrics,
    /// Per step name, per flow (indexed as the plan's flows).
    pub by_flow: Vec<StepMetrics>,
    /// The last few exchanges.
    pub recent: Recent,
    /// How far waits were from what they were asked to be.
    pub waits: Waits,
}

impl Tally {
    /// An empty tally for a plan with `flows` flows.
    pub fn new(flows: usize) -> Self {
        Tally {
            overall: latency_histogram(),
            errors: 0,
            requests_retried: 0,
            requests_failed: 0,
            mix: Vec::new(),
            steps: StepMetrics::default(),
            endpoints: StepMetrics::default(),
            by_flow: (0..flows).map(|_| StepMetrics::default()).collect(),
            recent: Recent::default(),
            waits: Waits::default(),
        }
    }

    /// Counts one exchange of an order of flow `flow` (None: a run-wide stage).
    pub fn observe(&mut self, x: &Exchange, flow: Option<usize>) {
        record_us(&mut self.overall, x.latency.as_micros() as u64);
        let failed = x.outcome.error_class(x.status).is_some();
        if failed {
            self.errors += 1;
        }
        if x.last {
            if failed {
                self.requests_failed += 1;
            } else if x.attempt > 1 {
                self.requests_retried += 1;
            }
        }
        if let Some(category) = &x.category
            && x.attempt == 1
        {
            add_one(&mut self.mix, category);
        }
        self.steps.observe(&x.step, x);
        self.endpoints.observe(&x.endpoint, x);
        if let Some(m) = flow.and_then(|f| self.by_flow.get_mut(f)) {
            m.observe(&x.step, x);
        }
    }

    /// Adds `other`'s counts to these (keys in first-seen order).
    pub fn absorb(&mut self, other: Tally) {
        // Both grow their range as needed, so adding cannot fail for want of range.
        let _ = self.overall.add(&other.overall);
        self.errors += other.errors;
        self.requests_retried += other.requests_retried;
        self.requests_failed += other.requests_failed;
        sum_by(
            &mut self.mix,
            other.mix,
            |(c, _)| c.clone(),
            |a, b| a.1 += b.1,
        );
        self.steps.absorb(other.steps);
        self.endpoints.absorb(other.endpoints);
        for (mine, theirs) in self.by_flow.iter_mut().zip(other.by_flow) {
            mine.absorb(theirs);
        }
        self.recent.absorb(other.recent);
        self.waits.absorb(other.waits);
    }
}

fn add_one(counts: &mut Vec<(Arc<str>, u64)>, key: &str) {
    match counts.iter_mut().find(|(k, _)| **k == *key) {
        Some((_, c)) => *c += 1,
        None => counts.push((key.into(), 1)),
    }
}

/// One [`Tally`] per thread that records, for one run.
pub struct Tallies {
    /// Tells this run's tallies from another's in a thread's slot.
    id: u64,
    /// The plan's flow count, for each new tally's per-flow figures.
    flows: usize,
    all: Mutex<Vec<(ThreadId, Arc<Mutex<Tally>>)>>,
}

/// Numbers runs apart (tests run several in one process).
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's tally for the run it last recorded for.
    static MINE: RefCell<Option<(u64, Arc<Mutex<Tally>>)>> = const { RefCell::new(None) };
}

impl Tallies {
    /// No tallies yet: each thread makes its own when it first records.
    pub fn new(flows: usize) -> Self {
        Tallies {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            flows,
            all: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` on the calling thread's tally (made on its first call).
    pub fn with<R>(&self, f: impl FnOnce(&mut Tally) -> R) -> R {
        MINE.with(|mine| {
            let mut mine = mine.borrow_mut();
            let tally = match &*mine {
                Some((id, tally)) if *id == self.id => tally,
                _ => &mine.insert((self.id, self.register())).1,
            };
            f(&mut lock(tally))
        })
    }

    /// The calling thread's tally, made and listed if it has none yet.
    fn register(&self) -> Arc<Mutex<Tally>> {
        let me = thread::current().id();
        let mut all = lock(&self.all);
        if let Some((_, tally)) = all.iter().find(|(t, _)| *t == me) {
            return tally.clone();
        }
        let tally = Arc::new(Mutex::new(Tally::new(self.flows)));
        all.push((me, tally.clone()));
        tally
    }

    /// Hands every thread's counts to `take`, leaving their tallies empty.
    pub fn drain(&self, mut take: impl FnMut(Tally)) {
        let all = lock(&self.all);
        for (_, tally) in all.iter() {
            let fresh = Tally::new(self.flows);
            take(mem::replace(&mut *lock(tally), fresh));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::Outcome;

    fn exchange(step: &str, us: u64, outcome: Outcome, attempt: u32) -> Exchange<'static> {
        Exchange {
            attempt,
            category: Some("read".into()),
            ..Exchange::sample(step, us, outcome, 200)
        }
    }

    #[test]
    fn tallies_of_several_threads_add_up_to_one_that_saw_everything() {
        let tallies = Tallies::new(1);
        let mut whole = Tally::new(1);
        let xs: Vec<Exchange> = (0..4000u64)
            .map(|i| {
                let outcome = if i % 7 == 0 {
                    Outcome::Timeout
                } else {
                    Outcome::Ok
                };
                exchange(
                    ["a", "b"][i as usize % 2],
                    50 + i * 13,
                    outcome,
                    1 + (i % 3) as u32,
                )
            })
            .collect();
        for x in &xs {
            whole.observe(x, Some(0));
        }
        thread::scope(|s| {
            for part in xs.chunks(1000) {
                let tallies = &tallies;
                s.spawn(move || {
                    part.iter()
                        .for_each(|x| tallies.with(|t| t.observe(x, Some(0))))
                });
            }
        });
        assert_eq!(lock(&tallies.all).len(), 4, "one tally per thread");
        let mut merged = Tally::new(1);
        tallies.drain(|t| merged.absorb(t));
        assert_eq!(merged.overall.len(), 4000);
        assert_eq!(merged.errors, whole.errors);
        assert_eq!(merged.requests_retried, whole.requests_retried);
        assert_eq!(merged.requests_failed, whole.requests_failed);
        assert_eq!(merged.mix, whole.mix);
        for q in [0.5, 0.99, 1.0] {
            assert_eq!(
                merged.overall.value_at_quantile(q),
                whole.overall.value_at_quantile(q)
            );
        }
        let names = |t: &Tally| {
            let mut s: Vec<_> = t
                .steps
                .stats()
                .into_iter()
                .map(|s| (s.name, s.count, s.errors))
                .collect();
            s.sort();
            s
        };
        assert_eq!(names(&merged), names(&whole));
        assert_eq!(merged.by_flow[0].stats().len(), 2);
        // Drained: a second drain adds nothing.
        let mut again = Tally::new(1);
        tallies.drain(|t| again.absorb(t));
        assert_eq!(again.overall.len(), 0);
    }

    #[test]
    fn two_runs_on_one_thread_keep_their_counts_apart() {
        let (a, b) = (Tallies::new(1), Tallies::new(1));
        let x = exchange("a", 10, Outcome::Ok, 1);
        a.with(|t| t.observe(&x, Some(0)));
        b.with(|t| t.observe(&x, Some(0)));
        a.with(|t| t.observe(&x, Some(0)));
        assert_eq!(
            lock(&a.all).len(),
            1,
            "the thread's tally is found again, not made twice"
        );
        let (mut ta, mut tb) = (Tally::new(1), Tally::new(1));
        a.drain(|t| ta.absorb(t));
        b.drain(|t| tb.absorb(t));
        assert_eq!((ta.overall.len(), tb.overall.len()), (2, 1));
    }
}
