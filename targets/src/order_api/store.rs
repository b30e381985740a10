//! The order-api's state (seed 002): orders with items and computed totals,
//! statuses moving only along the legal transitions, and a cursor-paginated
//! list, newest first, whose cursor is the last order's `created_at_id`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use serde::Serialize;

/// The seed's statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Just created.
    Pending,
    /// Being worked on.
    Processing,
    /// Done (terminal).
    Completed,
    /// Called off (terminal).
    Cancelled,
}

impl Status {
    /// The status named `text`, if it is one of the seed's.
    pub fn parse(text: &str) -> Option<Status> {
        Some(match text {
            "pending" => Status::Pending,
            "processing" => Status::Processing,
            "completed" => Status::Completed,
            "cancelled" => Status::Cancelled,
            _ => return None,
        })
    }

    /// Its name in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Processing => "processing",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
        }
    }

    /// Whether an order may move from `self` to `to`: pending → processing or
    /// cancelled; processing → completed or cancelled; nothing else.
    pub fn may_become(self, to: Status) -> bool {
        matches!(
            (self, to),
            (Status::Pending, Status::Processing | Status::Cancelled)
                | (Status::Processing, Status::Completed | Status::Cancelled)
        )
    }
}

/// One line of an order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Item {
    /// Its id.
    pub id: u64,
    /// The order it belongs to.
    pub order_id: u64,
    /// What was bought.
    pub product_name: String,
    /// How many.
    pub quantity: u32,
    /// Price of one.
    pub unit_price: f64,
    /// `quantity × unit_price`, in cents precision.
    pub total_price: f64,
}

/// An order as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Order {
    /// Its id (1, 2, …).
    pub id: u64,
    /// Who ordered.
    pub customer_name: String,
    /// Their email.
    pub customer_email: String,
    /// The sum of the items' totals.
    pub total_amount: f64,
    /// Where it is.
    pub status: Status,
    /// When it was created (RFC 3339, seconds).
    #[serde(serialize_with = "rfc3339")]
    pub created_at: SystemTime,
    /// When its status last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: SystemTime,
    /// Its lines.
    pub items: Vec<Item>,
}

fn rfc3339<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&humantime::format_rfc3339_seconds(*t).to_string())
}

/// A new order's fields, before validation.
#[derive(Debug, Default)]
pub struct NewOrder {
    /// Who orders.
    pub customer_name: String,
    /// Their email.
    pub customer_email: String,
    /// (product name, quantity, unit price) per line.
    pub items: Vec<(String, i64, f64)>,
}

/// Why a request was refused.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 400: the input breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// 404.
    #[error("order {0} not found")]
    NotFound(u64),
    /// 409: not a legal transition.
    #[error("cannot change order {id} from {from} to {to}")]
    Conflict {
        /// The order.
        id: u64,
        /// Its status.
        from: &'static str,
        /// The status asked for.
        to: &'static str,
    },
}

/// A page of the list.
#[derive(Debug, Serialize)]
pub struct Page {
    /// Newest first.
    pub orders: Vec<Order>,
    /// Where the next page starts, `null` on the last page.
    pub next_cursor: Option<String>,
    /// Whether there is a next page.
    pub has_more: bool,
}

/// Requests and transitions as the target counted them, for tests and `/stats`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Orders created.
    pub created: u64,
    /// Orders by status now.
    pub by_status: BTreeMap<&'static str, u64>,
    /// Status changes made.
    pub transitions: u64,
    /// Status changes refused with 409.
    pub refused: u64,
    /// Requests refused with 400.
    pub invalid: u64,
    /// Every request, by `METHOD /route`.
    pub requests: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Book {
    orders: HashMap<u64, Order>,
    /// (created second, id) of every order: the list's order.
    by_time: std::collections::BTreeSet<(u64, u64)>,
    next_id: u64,
    next_item: u64,
    stats: Stats,
}

/// The shared store; clones share it.
#[derive(Clone, Default)]
pub struct OrderApiStore {
    inner: Arc<Mutex<Book>>,
}

/// Money kept to cents.
fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl OrderApiStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks and stores a new order (status pending), computing its totals.
    pub fn create(&self, new: NewOrder, now: SystemTime) -> Result<Order, ApiError> {
        let invalid = |m: &str| Err(ApiError::Invalid(m.to_owned()));
        let name = new.customer_name.trim();
        let email = new.customer_email.trim();
        if name.is_empty() {
            return self.count_invalid(invalid("customer_name is required"));
        }
        let valid_email = email.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.ends_with('.')
        });
        if !valid_email {
            return self.count_invalid(invalid("customer_email must be a valid email address"));
        }
        if new.items.is_empty() {
            return self.count_invalid(invalid("items must hold at least one item"));
        }
        for (i, (product, quantity, price)) in new.items.iter().enumerate() {
            let problem = if product.trim().is_empty() {
                "product_name is required"
            } else if *quantity <= 0 || *quantity > i64::from(u32::MAX) {
                "quantity must be a positive whole number"
            } else if !price.is_finite() || *price < 0.0 {
                "unit_price must be zero or more"
            } else {
                continue;
            };
            return self.count_invalid(Err(ApiError::Invalid(format!("items[{i}]: {problem}"))));
        }
        let mut book = self.book();
        book.next_id += 1;
        let id = book.next_id;
        let mut items = Vec::with_capacity(new.items.len());
        for (product, quantity, price) in new.items {
            book.next_item += 1;
            items.push(Item {
                id: book.next_item,
                order_id: id,
                product_name: product.trim().to_owned(),
                quantity: quantity as u32,
                unit_price: cents(price),
                // From the price as stored, so the order's numbers add up.
                total_price: cents(quantity as f64 * cents(price)),
            });
        }
        let order = Order {
            id,
            customer_name: name.to_owned(),
            customer_email: email.to_owned(),
            total_amount: cents(items.iter().map(|i| i.total_price).sum()),
            status: Status::Pending,
            created_at: now,
            updated_at: now,
            items,
        };
        book.by_time.insert((unix(now), id));
        book.orders.insert(id, order.clone());
        book.stats.created += 1;
        *book
            .stats
            .by_status
            .entry(Status::Pending.name())
            .or_default() += 1;
        Ok(order)
    }

    /// Counts a refusal with 400 (the HTTP layer's own refusals too).
    pub fn count_invalid<T>(&self, result: Result<T, ApiError>) -> Result<T, ApiError> {
        if let Err(ApiError::Invalid(_)) = &result {
            self.book().stats.invalid += 1;
        }
        result
    }

    /// The order `id`.
    pub fn get(&self, id: u64) -> Result<Order, ApiError> {
        self.book()
            .orders
            .get(&id)
            .cloned()
            .ok_or(ApiError::NotFound(id))
    }

    /// Moves order `id` to `to` when the transition is legal.
    pub fn set_status(&self, id: u64, to: Status, now: SystemTime) -> Result<Order, ApiError> {
        let mut book = self.book();
        let Some(order) = book.orders.get_mut(&id) else {
            return Err(ApiError::NotFound(id));
        };
        let from = order.status;
        if !from.may_become(to) {
            book.stats.refused += 1;
            return Err(ApiError::Conflict {
                id,
                from: from.name(),
                to: to.name(),
            });
        }
        order.status = to;
        order.updated_at = now;
        let order = order.clone();
        let counts = &mut book.stats.by_status;
        *counts.entry(from.name()).or_default() -= 1;
        *counts.entry(to.name()).or_default() += 1;
        book.stats.transitions += 1;
        Ok(order)
    }

    /// A page of at most `limit` orders, newest first, after `cursor`.
    pub fn list(&self, limit: usize, cursor: Option<&str>) -> Result<Page, ApiError> {
        // The caller counts a refused cursor (count_invalid).
        let after = match cursor {
            None => None,
            Some(c) => Some(parse_cursor(c).ok_or_else(|| {
                ApiError::Invalid(format!(
                    "cursor {c:?} is not CREATED_AT_ID, e.g. 2025-06-14T17:47:05Z_1"
                ))
            })?),
        };
        let book = self.book();
        // Straight to the cursor's place in the index, not past every newer order.
        let mut keys: Box<dyn Iterator<Item = &(u64, u64)>> = match after {
            Some(a) => Box::new(book.by_time.range(..a).rev()),
            None => Box::new(book.by_time.iter().rev()),
        };
        let page: Vec<(u64, u64)> = keys.by_ref().take(limit).copied().collect();
        let has_more = keys.next().is_some();
        let orders: Vec<Order> = page.iter().map(|(_, id)| book.orders[id].clone()).collect();
        let next_cursor = match (has_more, orders.last()) {
            (true, Some(last)) => Some(cursor_of(last)),
            _ => None,
        };
        Ok(Page {
            orders,
            next_cursor,
            has_more,
        })
    }

    /// The counts so far.
    pub fn stats(&self) -> Stats {
        self.book().stats.clone()
    }
}

/// `2025-06-14T17:47:05Z_1`: the order's creation second and id.
pub fn cursor_of(order: &Order) -> String {
    format!(
        "{}_{}",
        humantime::format_rfc3339_seconds(order.created_at),
        order.id
    )
}

fn parse_cursor(text: &str) -> Option<(u64, u64)> {
    let (time, id) = text.rsplit_once('_')?;
    let at = humantime::parse_rfc3339_weak(time).ok()?;
    Some((unix(at), id.parse().ok()?))
}

impl crate::answer::CountsRequests for OrderApiStore {
    fn note_request(&self, route: String) {
        *self.book().stats.requests.entry(route).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn order(name: &str) -> NewOrder {
        NewOrder {
            customer_name: name.into(),
            customer_email: "ann@example.com".into(),
            items: vec![("Laptop".into(), 2, 999.995), ("Mouse".into(), 1, 10.0)],
        }
    }

    #[test]
    fn totals_are_computed_to_the_cent_and_the_order_starts_pending() {
        let store = OrderApiStore::new();
        let o = store.create(order("Ann"), SystemTime::UNIX_EPOCH).unwrap();
        // 999.995 is stored as 1000.00, and the totals follow the stored price.
        assert_eq!(o.items[0].unit_price, 1000.0);
        assert_eq!(o.items[0].total_price, 2000.0);
        assert_eq!(o.total_amount, 2010.0);
        assert_eq!(o.status, Status::Pending);
        assert_eq!(store.get(o.id).unwrap(), o);
    }

    #[test]
    fn bad_orders_are_refused_with_the_field_named() {
        let store = OrderApiStore::new();
        let mut bad = order("");
        assert!(
            matches!(store.create(bad, SystemTime::now()), Err(ApiError::Invalid(m)) if m.contains("customer_name"))
        );
        bad = order("Ann");
        bad.customer_email = "ann@example".into();
        assert!(
            matches!(store.create(bad, SystemTime::now()), Err(ApiError::Invalid(m)) if m.contains("customer_email"))
        );
        bad = order("Ann");
        bad.items[1].1 = 0;
        assert!(
            matches!(store.create(bad, SystemTime::now()), Err(ApiError::Invalid(m)) if m.starts_with("items[1]: quantity"))
        );
        bad = order("Ann");
        bad.items.clear();
        assert!(store.create(bad, SystemTime::now()).is_err());
        assert_eq!(store.stats().invalid, 4);
        assert_eq!(store.stats().created, 0);
    }

    #[test]
    fn only_legal_transitions_are_made() {
        let store = OrderApiStore::new();
        let id = store.create(order("Ann"), SystemTime::now()).unwrap().id;
        let now = SystemTime::now();
        assert!(matches!(
            store.set_status(id, Status::Completed, now),
            Err(ApiError::Conflict { .. })
        ));
        assert_eq!(
            store
                .set_status(id, Status::Processing, now)
                .unwrap()
                .status,
            Status::Processing
        );
        assert!(matches!(
            store.set_status(id, Status::Pending, now),
            Err(ApiError::Conflict { .. })
        ));
        assert_eq!(
            store.set_status(id, Status::Completed, now).unwrap().status,
            Status::Completed
        );
        assert!(matches!(
            store.set_status(id, Status::Cancelled, now),
            Err(ApiError::Conflict { .. })
        ));
        assert_eq!(
            store.set_status(99, Status::Cancelled, now),
            Err(ApiError::NotFound(99))
        );
        let stats = store.stats();
        assert_eq!((stats.transitions, stats.refused), (2, 3));
        assert_eq!(stats.by_status["completed"], 1);
        assert_eq!(stats.by_status["pending"], 0);
    }

    #[test]
    fn the_list_walks_newest_first_by_cursor_to_the_end() {
        let store = OrderApiStore::new();
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000);
        for i in 0..25 {
            // Several orders share a second: the id breaks the tie.
            store
                .create(order("Ann"), start + Duration::from_secs(i / 3))
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = store.list(10, cursor.as_deref()).unwrap();
            seen.extend(page.orders.iter().map(|o| o.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, (1..=25).rev().collect::<Vec<_>>());
        let first = store.list(2, None).unwrap();
        assert_eq!(
            first.next_cursor.as_deref(),
            Some("2025-06-15T15:06:47Z_24")
        );
        assert!(store.list(10, Some("yesterday_1")).is_err());
    }
}
