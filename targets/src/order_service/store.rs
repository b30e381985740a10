//! The order-service's state (seed 001): in-memory orders behind one mutex,
//! submitted pending, moved to processing by `process` and shipped by a task
//! of their own after a delay; deleted only while pending, cancelled (the
//! seed's bonus) unless shipped.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use serde::Serialize;

/// A line of an order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Item {
    /// What.
    pub name: String,
    /// How many.
    pub quantity: u32,
}

/// The seed's statuses, plus `cancelled` (its bonus).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Submitted.
    Pending,
    /// Taken by `POST /orders/process`.
    Processing,
    /// Done (terminal).
    Shipped,
    /// Called off before shipping (terminal).
    Cancelled,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Processing => "processing",
            Status::Shipped => "shipped",
            Status::Cancelled => "cancelled",
        }
    }
}

/// An order as the API shows it (the seed's data model).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Order {
    /// `order_1`, `order_2`, …
    pub id: String,
    /// Who ordered.
    pub customer: String,
    /// What.
    pub items: Vec<Item>,
    /// When it was submitted (RFC 3339 with microseconds).
    #[serde(serialize_with = "rfc3339")]
    pub timestamp: SystemTime,
    /// Where it is.
    pub status: Status,
}

fn rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_rfc3339_micros(*t).to_string())
}

/// Why a request was refused.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ServiceError {
    /// 400.
    #[error("{0}")]
    Invalid(String),
    /// 404.
    #[error("order {0} not found")]
    NotFound(String),
    /// 409.
    #[error("order {id} is {status}: {why}")]
    Conflict {
        /// The order.
        id: String,
        /// Its status.
        status: &'static str,
        /// What cannot be done.
        why: &'static str,
    },
}

/// What the target counted, for `/stats` and tests.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Orders submitted.
    pub submitted: u64,
    /// Orders deleted.
    pub deleted: u64,
    /// Orders by status now (deleted ones are gone).
    pub by_status: BTreeMap<&'static str, u64>,
    /// `POST /orders/process` calls, and the orders they took.
    pub process_calls: u64,
    /// Orders taken into processing.
    pub processed: u64,
    /// Requests refused with 400.
    pub invalid: u64,
    /// Requests refused with 409.
    pub conflicts: u64,
    /// Every request, by `METHOD /route`.
    pub requests: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Book {
    orders: HashMap<String, Order>,
    next: u64,
    stats: Stats,
}

/// The shared store; clones share it.
#[derive(Clone, Default)]
pub struct OrderServiceStore {
    inner: Arc<Mutex<Book>>,
}

impl OrderServiceStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a refusal (400 or 409) and passes it on.
    pub fn count_refusal<T>(&self, result: Result<T, ServiceError>) -> Result<T, ServiceError> {
        match &result {
            Err(ServiceError::Invalid(_)) => self.book().stats.invalid += 1,
            Err(ServiceError::Conflict { .. }) => self.book().stats.conflicts += 1,
            _ => {}
        }
        result
    }

    /// Checks and stores a new pending order.
    pub fn submit(
        &self,
        customer: &str,
        items: Vec<(String, i64)>,
        now: SystemTime,
    ) -> Result<Order, ServiceError> {
        let invalid = |m: String| self.count_refusal(Err(ServiceError::Invalid(m)));
        if customer.trim().is_empty() {
            return invalid("customer is required".into());
        }
        if items.is_empty() {
            return invalid("items must hold at least one item".into());
        }
        let mut lines = Vec::with_capacity(items.len());
        for (i, (name, quantity)) in items.into_iter().enumerate() {
            if name.trim().is_empty() {
                return invalid(format!("items[{i}]: name is required"));
            }
            let Ok(quantity) = u32::try_from(quantity) else {
                return invalid(format!(
                    "items[{i}]: quantity must be a positive whole number"
                ));
            };
            if quantity == 0 {
                return invalid(format!(
                    "items[{i}]: quantity must be a positive whole number"
                ));
            }
            lines.push(Item {
                name: name.trim().to_owned(),
                quantity,
            });
        }
        // Kept to the microsecond it is shown with, so `from`/`to` of a shown time match it.
        let since = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let now =
            SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(since.as_micros() as u64);
        let mut book = self.book();
        book.next += 1;
        let order = Order {
            id: format!("order_{}", book.next),
            customer: customer.trim().to_owned(),
            items: lines,
            timestamp: now,
            status: Status::Pending,
        };
        book.orders.insert(order.id.clone(), order.clone());
        book.stats.submitted += 1;
        *book.stats.by_status.entry("pending").or_default() += 1;
        Ok(order)
    }

    /// The order `id`.
    pub fn get(&self, id: &str) -> Result<Order, ServiceError> {
        let found = self.book().orders.get(id).cloned();
        found.ok_or_else(|| ServiceError::NotFound(id.to_owned()))
    }

    /// Orders submitted between `from` and `to` (both inclusive, either open), oldest first.
    pub fn list(&self, from: Option<SystemTime>, to: Option<SystemTime>) -> Vec<Order> {
        let mut orders: Vec<Order> = self
            .book()
            .orders
            .values()
            .filter(|o| {
                from.is_none_or(|f| o.timestamp >= f) && to.is_none_or(|t| o.timestamp <= t)
            })
            .cloned()
            .collect();
        orders.sort_by_cached_key(|o| (o.timestamp, seq(&o.id)));
        orders
    }

    /// Deletes order `id` if it is pending.
    pub fn delete(&self, id: &str) -> Result<(), ServiceError> {
        let result = {
            let mut book = self.book();
            match book.orders.get(id).map(|o| o.status) {
                None => Err(ServiceError::NotFound(id.to_owned())),
                Some(Status::Pending) => {
                    book.orders.remove(id);
                    book.stats.deleted += 1;
                    *book.stats.by_status.entry("pending").or_default() -= 1;
                    Ok(())
                }
                Some(status) => Err(ServiceError::Conflict {
                    id: id.to_owned(),
                    status: status.name(),
                    why: "only a pending order can be deleted",
                }),
            }
        };
        self.count_refusal(result)
    }

    /// Cancels order `id` unless it has shipped (or is cancelled already).
    pub fn cancel(&self, id: &str) -> Result<Order, ServiceError> {
        let result = {
            let mut book = self.book();
            match book.orders.get_mut(id) {
                None => Err(ServiceError::NotFound(id.to_owned())),
                Some(o) if matches!(o.status, Status::Pending | Status::Processing) => {
                    let from = o.status.name();
                    o.status = Status::Cancelled;
                    let order = o.clone();
                    move_count(&mut book.stats, from, "cancelled");
                    Ok(order)
                }
                Some(o) => Err(ServiceError::Conflict {
                    id: id.to_owned(),
                    status: o.status.name(),
                    why: "a shipped or cancelled order cannot be cancelled",
                }),
            }
        };
        self.count_refusal(result)
    }

    /// Takes every pending order into processing; returns their ids.
    pub fn take_pending(&self) -> Vec<String> {
        let mut book = self.book();
        let mut taken = Vec::new();
        for o in book.orders.values_mut() {
            if o.status == Status::Pending {
                o.status = Status::Processing;
                taken.push(o.id.clone());
            }
        }
        let n = taken.len() as u64;
        let stats = &mut book.stats;
        stats.process_calls += 1;
        stats.processed += n;
        *stats.by_status.entry("pending").or_default() -= n;
        *stats.by_status.entry("processing").or_default() += n;
        taken.sort_by_key(|id| seq(id));
        taken
    }

    /// Ships order `id` if it is still processing (a cancelled one stays cancelled).
    pub fn ship(&self, id: &str) -> bool {
        let mut book = self.book();
        match book.orders.get_mut(id) {
            Some(o) if o.status == Status::Processing => {
                o.status = Status::Shipped;
                move_count(&mut book.stats, "processing", "shipped");
                true
            }
            _ => false,
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> Stats {
        self.book().stats.clone()
    }
}

fn move_count(stats: &mut Stats, from: &'static str, to: &'static str) {
    *stats.by_status.entry(from).or_default() -= 1;
    *stats.by_status.entry(to).or_default() += 1;
}

/// The number in `order_N`, for ordering.
fn seq(id: &str) -> u64 {
    id.strip_prefix("order_")
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

impl crate::answer::CountsRequests for OrderServiceStore {
    fn note_request(&self, route: String) {
        *self.book().stats.requests.entry(route).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn two_items() -> Vec<(String, i64)> {
        vec![("Monster Energy".into(), 2), ("Protein Bar".into(), 1)]
    }

    #[test]
    fn an_order_goes_pending_processing_shipped() {
        let s = OrderServiceStore::new();
        let o = s
            .submit("John Doe", two_items(), SystemTime::now())
            .unwrap();
        assert_eq!((o.id.as_str(), o.status), ("order_1", Status::Pending));
        assert_eq!(s.take_pending(), ["order_1"]);
        assert_eq!(s.get("order_1").unwrap().status, Status::Processing);
        assert!(s.ship("order_1"));
        assert!(!s.ship("order_1"), "shipped once");
        let stats = s.stats();
        assert_eq!(stats.by_status["shipped"], 1);
        assert_eq!((stats.process_calls, stats.processed), (1, 1));
    }

    #[test]
    fn delete_only_while_pending_and_cancel_only_before_shipping() {
        let s = OrderServiceStore::new();
        for _ in 0..3 {
            s.submit("Ann", two_items(), SystemTime::now()).unwrap();
        }
        s.delete("order_1").unwrap();
        assert!(matches!(s.get("order_1"), Err(ServiceError::NotFound(_))));
        s.take_pending();
        assert!(matches!(
            s.delete("order_2"),
            Err(ServiceError::Conflict { .. })
        ));
        assert_eq!(s.cancel("order_2").unwrap().status, Status::Cancelled);
        assert!(!s.ship("order_2"), "a cancelled order is not shipped");
        assert!(s.ship("order_3"));
        assert!(matches!(
            s.cancel("order_3"),
            Err(ServiceError::Conflict { .. })
        ));
        let stats = s.stats();
        assert_eq!((stats.deleted, stats.conflicts), (1, 2));
        assert_eq!(stats.by_status["cancelled"] + stats.by_status["shipped"], 2);
    }

    #[test]
    fn the_time_range_is_inclusive_and_bad_orders_are_refused() {
        let s = OrderServiceStore::new();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        for i in 0..5 {
            s.submit("Ann", two_items(), t0 + Duration::from_secs(i))
                .unwrap();
        }
        let ids = |v: Vec<Order>| v.into_iter().map(|o| o.id).collect::<Vec<_>>();
        let from = Some(t0 + Duration::from_secs(1));
        let to = Some(t0 + Duration::from_secs(3));
        assert_eq!(ids(s.list(from, to)), ["order_2", "order_3", "order_4"]);
        assert_eq!(s.list(None, None).len(), 5);
        assert!(s.submit(" ", two_items(), t0).is_err());
        assert!(s.submit("Ann", vec![("x".into(), 0)], t0).is_err());
        assert!(s.submit("Ann", Vec::new(), t0).is_err());
        assert_eq!(s.stats().invalid, 3);
    }
}
