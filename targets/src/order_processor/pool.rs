//! The order-processor's queue and workers (seed 003): a bounded buffer
//! ordered by priority (1 first, then arrival), N workers taking the most
//! urgent order, the seed's business rules deciding the processing status,
//! and the statistics `/stats` shows, per priority too.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// The seed's limits.
pub const MAX_AMOUNT: f64 = 10_000.0;
/// Most items in one order.
pub const MAX_ITEMS: usize = 50;
/// Above this amount an order gets priority processing.
pub const PRIORITY_AMOUNT: f64 = 1_000.0;

/// An order as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Order {
    /// The client's id, or `order_N`.
    pub id: String,
    /// Its value.
    pub amount: f64,
    /// What.
    pub items: Vec<String>,
    /// Who.
    pub customer: String,
    /// `pending`, `processing`, `priority_processing`, `expedited`, `completed`.
    pub status: &'static str,
    /// When it was accepted.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: SystemTime,
    /// Where to.
    pub address: String,
    /// 1 high, 2 medium, 3 low.
    pub priority: u8,
    /// Free text.
    pub notes: String,
}

fn rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_rfc3339_seconds(*t).to_string())
}

/// Why an order was not queued.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// 400: a rule is broken.
    #[error("{0}")]
    Invalid(String),
    /// 409: the id is taken.
    #[error("order {0} exists already")]
    Duplicate(String),
    /// 503: the buffer is full.
    #[error("the order queue is full ({0} waiting); try again later")]
    Full(usize),
}

/// A new order's fields, before validation.
#[derive(Debug, Default)]
pub struct NewOrder {
    /// The client's id, if it gave one.
    pub id: Option<String>,
    /// Its value.
    pub amount: f64,
    /// What.
    pub items: Vec<String>,
    /// Who.
    pub customer: String,
    /// Where to.
    pub address: String,
    /// 1..3; 2 when not given.
    pub priority: i64,
    /// Free text.
    pub notes: String,
}

#[derive(Default, Clone, Serialize)]
struct PriorityStats {
    processed: u64,
    total_wait_ms: f64,
    max_wait_ms: f64,
}

#[derive(Default)]
struct State {
    queue: BinaryHeap<Reverse<(u8, u64)>>,
    waiting: HashMap<u64, (String, Instant)>,
    orders: HashMap<String, Order>,
    seq: u64,
    accepted: u64,
    rejected_full: u64,
    invalid: u64,
    duplicates: u64,
    processed: u64,
    total_process_ms: f64,
    active: u64,
    by_priority: BTreeMap<u8, PriorityStats>,
    requests: BTreeMap<String, u64>,
}

/// The pool's shared state; clones share it.
#[derive(Clone)]
pub struct Pool {
    state: Arc<Mutex<State>>,
    ready: Arc<Notify>,
    capacity: usize,
    workers: usize,
    started: Instant,
}

impl Pool {
    /// A pool whose buffer holds `capacity` waiting orders, for `workers` workers.
    pub fn new(capacity: usize, workers: usize) -> Self {
        Self {
            state: Arc::default(),
            ready: Arc::new(Notify::new()),
            capacity: capacity.max(1),
            workers: workers.max(1),
            started: Instant::now(),
        }
    }

    /// How many workers the pool runs.
    pub fn workers(&self) -> usize {
        self.workers
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Validates `new` against the seed's rules and queues it.
    pub fn submit(&self, new: NewOrder, now: SystemTime) -> Result<Order, Refusal> {
        let priority = if new.priority == 0 { 2 } else { new.priority };
        let problem = if !new.amount.is_finite() || new.amount <= 0.0 {
            Some("amount must be more than 0".to_owned())
        } else if new.amount > MAX_AMOUNT {
            Some(format!(
                "amount {} is over the limit of {MAX_AMOUNT}",
                new.amount
            ))
        } else if new.items.is_empty() {
            Some("items must hold at least one item".to_owned())
        } else if new.items.len() > MAX_ITEMS {
            Some(format!(
                "{} items is over the limit of {MAX_ITEMS}",
                new.items.len()
            ))
        } else if new.customer.trim().is_empty() {
            Some("customer is required".to_owned())
        } else if !(1..=3).contains(&priority) {
            Some(format!(
                "priority {priority} is not 1 (high), 2 (medium) or 3 (low)"
            ))
        } else {
            None
        };
        let mut state = self.state();
        if let Some(problem) = problem {
            state.invalid += 1;
            return Err(Refusal::Invalid(problem));
        }
        if state.queue.len() >= self.capacity {
            state.rejected_full += 1;
            return Err(Refusal::Full(state.queue.len()));
        }
        state.seq += 1;
        let seq = state.seq;
        let id = match new.id.filter(|i| !i.trim().is_empty()) {
            Some(id) => id,
            // A generated id never takes one a client chose.
            None => (seq..)
                .map(|n| format!("order_{n}"))
                .find(|id| !state.orders.contains_key(id))
                .expect("an unused id"),
        };
        if state.orders.contains_key(&id) {
            state.duplicates += 1;
            return Err(Refusal::Duplicate(id));
        }
        let order = Order {
            id: id.clone(),
            amount: new.amount,
            items: new.items,
            customer: new.customer.trim().to_owned(),
            status: "pending",
            created_at: now,
            address: new.address,
            priority: priority as u8,
            notes: new.notes,
        };
        state.orders.insert(id.clone(), order.clone());
        state.waiting.insert(seq, (id, Instant::now()));
        state.queue.push(Reverse((priority as u8, seq)));
        state.accepted += 1;
        drop(state);
        self.ready.notify_one();
        Ok(order)
    }

    /// Takes the most urgent waiting order (lowest priority number, then the
    /// oldest), setting its processing status by the business rules; waits
    /// for one when none is waiting.
    pub async fn take(&self) -> (String, u8, Duration) {
        loop {
            let notified = self.ready.notified();
            {
                let mut state = self.state();
                if let Some(Reverse((priority, seq))) = state.queue.pop() {
                    let (id, queued) = state.waiting.remove(&seq).expect("queued orders wait");
                    let order = state.orders.get_mut(&id).expect("queued orders exist");
                    order.status = if order.priority == 1 {
                        "expedited"
                    } else if order.amount > PRIORITY_AMOUNT {
                        "priority_processing"
                    } else {
                        "processing"
                    };
                    state.active += 1;
                    return (id, priority, queued.elapsed());
                }
            }
            notified.await;
        }
    }

    /// Marks order `id` (of `priority`, after waiting `wait`) completed in `took`.
    pub fn complete(&self, id: &str, priority: u8, wait: Duration, took: Duration) {
        let mut state = self.state();
        if let Some(o) = state.orders.get_mut(id) {
            o.status = "completed";
        }
        state.active -= 1;
        state.processed += 1;
        state.total_process_ms += took.as_secs_f64() * 1000.0;
        let p = state.by_priority.entry(priority).or_default();
        let wait_ms = wait.as_secs_f64() * 1000.0;
        p.processed += 1;
        p.total_wait_ms += wait_ms;
        p.max_wait_ms = p.max_wait_ms.max(wait_ms);
    }

    /// Order `id`, if known.
    pub fn get(&self, id: &str) -> Option<Order> {
        self.state().orders.get(id).cloned()
    }

    /// Counts a request refused before it reached the pool (a bad body).
    pub fn note_invalid(&self) {
        self.state().invalid += 1;
    }

    /// The seed's statistics, plus per-priority counts and waits and the refusals.
    pub fn stats(&self) -> Value {
        let s = self.state();
        let by_priority: BTreeMap<String, Value> = (1..=3u8)
            .map(|p| {
                let st = s.by_priority.get(&p).cloned().unwrap_or_default();
                let mean = if st.processed > 0 {
                    st.total_wait_ms / st.processed as f64
                } else {
                    0.0
                };
                let v = json!({
                    "processed": st.processed,
                    "mean_wait_ms": mean,
                    "max_wait_ms": st.max_wait_ms,
                });
                (p.to_string(), v)
            })
            .collect();
        json!({
            "total_processed": s.processed,
            "success_count": s.processed,
            "error_count": 0,
            "average_process_time_ms": if s.processed > 0 { s.total_process_ms / s.processed as f64 } else { 0.0 },
            "active_workers": s.active,
            "workers": self.workers,
            "queue_length": s.queue.len(),
            "queue_capacity": self.capacity,
            "uptime_seconds": self.started.elapsed().as_secs(),
            "accepted": s.accepted,
            "rejected_full": s.rejected_full,
            "invalid": s.invalid,
            "duplicates": s.duplicates,
            "by_priority": by_priority,
            "requests": s.requests,
        })
    }

    /// Waiting orders now.
    pub fn queue_length(&self) -> usize {
        self.state().queue.len()
    }
}

impl crate::answer::CountsRequests for Pool {
    fn note_request(&self, route: String) {
        *self.state().requests.entry(route).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(priority: i64, amount: f64) -> NewOrder {
        NewOrder {
            amount,
            items: vec!["laptop".into()],
            customer: "a@b.c".into(),
            priority,
            ..NewOrder::default()
        }
    }

    #[test]
    fn the_business_rules_refuse_what_the_seed_limits() {
        let pool = Pool::new(10, 1);
        let now = SystemTime::now();
        assert!(
            matches!(pool.submit(order(1, 10_000.01), now), Err(Refusal::Invalid(m)) if m.contains("limit"))
        );
        assert!(matches!(
            pool.submit(order(1, 0.0), now),
            Err(Refusal::Invalid(_))
        ));
        assert!(
            matches!(pool.submit(order(4, 10.0), now), Err(Refusal::Invalid(m)) if m.contains("priority 4"))
        );
        let mut many = order(2, 10.0);
        many.items = vec!["x".into(); 51];
        assert!(
            matches!(pool.submit(many, now), Err(Refusal::Invalid(m)) if m.contains("51 items"))
        );
        assert_eq!(
            pool.submit(order(0, 10.0), now).unwrap().priority,
            2,
            "2 by default"
        );
        assert_eq!(pool.stats()["invalid"], 4);
        let mut chosen = order(2, 10.0);
        chosen.id = Some("order_2".into());
        assert_eq!(pool.submit(chosen, now).unwrap().id, "order_2");
        let next = pool.submit(order(2, 10.0), now).unwrap().id;
        assert_eq!(next, "order_3", "order_2 is taken");
    }

    #[tokio::test]
    async fn the_most_urgent_order_goes_first_and_a_full_queue_refuses() {
        let pool = Pool::new(3, 1);
        let now = SystemTime::now();
        let low = pool.submit(order(3, 10.0), now).unwrap().id;
        let big = pool.submit(order(2, 5_000.0), now).unwrap().id;
        let high = pool.submit(order(1, 10.0), now).unwrap().id;
        assert_eq!(pool.submit(order(1, 10.0), now), Err(Refusal::Full(3)));
        let (first, p, _) = pool.take().await;
        assert_eq!((first.as_str(), p), (high.as_str(), 1));
        assert_eq!(pool.get(&high).unwrap().status, "expedited");
        let (second, ..) = pool.take().await;
        assert_eq!(second, big);
        assert_eq!(pool.get(&big).unwrap().status, "priority_processing");
        let (third, ..) = pool.take().await;
        assert_eq!(third, low);
        pool.complete(&high, 1, Duration::from_millis(5), Duration::from_millis(1));
        assert_eq!(pool.get(&high).unwrap().status, "completed");
        let stats = pool.stats();
        assert_eq!(stats["by_priority"]["1"]["processed"], 1);
        assert_eq!(
            (
                stats["rejected_full"].as_u64(),
                stats["active_workers"].as_u64()
            ),
            (Some(1), Some(2))
        );
    }
}
