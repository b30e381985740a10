//! The last few requests, for the recent-activity lines under the live users
//! panel. Once a thread has [`RECENT`] of them, it keeps another only
//! [`SPACING`] after the newest (copying every request's names would cost
//! every request), so at high rates the lines show requests of the last half
//! second or so, not the very last five; the lines are made once a second.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use super::Exchange;
use crate::plan::Plan;

/// How many requests the lines show.
pub const RECENT: usize = 5;

/// The least time between two requests a thread keeps once it has [`RECENT`].
pub const SPACING: Duration = Duration::from_millis(100);

/// One recent request, ready to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// When it was sent.
    pub at: SystemTime,
    /// Who sent it: `User-045` (the noun, singular, and the member's number).
    pub who: String,
    /// The method.
    pub method: String,
    /// Rendered path and query.
    pub path: String,
    /// The answer's status, if one came.
    pub status: Option<u16>,
    /// How long the answer took.
    pub latency: Duration,
}

/// The last [`RECENT`] exchanges, oldest first.
#[derive(Default)]
pub struct Recent(VecDeque<Exchange<'static>>);

impl Recent {
    /// Whether a request sent at `at` is worth keeping: fewer than
    /// [`RECENT`] are kept, or it came [`SPACING`] after the newest kept.
    pub fn wants(&self, at: SystemTime) -> bool {
        match self.0.back() {
            Some(newest) if self.0.len() == RECENT => at >= newest.at + SPACING,
            _ => true,
        }
    }

    /// Keeps `x`, dropping the oldest one kept.
    pub fn push(&mut self, x: Exchange<'static>) {
        if self.0.len() == RECENT {
            self.0.pop_front();
        }
        self.0.push_back(x);
    }

    /// Keeps the last [`RECENT`] of these and `other`'s, by when they were sent.
    pub fn absorb(&mut self, other: Recent) {
        if other.0.is_empty() {
            return;
        }
        self.0.extend(other.0);
        self.0.make_contiguous().sort_by_key(|x| x.at);
        let extra = self.0.len().saturating_sub(RECENT);
        self.0.drain(..extra);
    }

    /// The kept requests as lines' figures, oldest first.
    pub fn activities(&self, plan: &Plan) -> Vec<Activity> {
        let noun = if plan.noun.is_empty() {
            "orders"
        } else {
            &plan.noun
        };
        let singular = noun.strip_suffix('s').unwrap_or(noun);
        let mut title = singular.chars();
        let title: String = title
            .next()
            .map(|c| c.to_uppercase().chain(title).collect())
            .unwrap_or_default();
        self.0
            .iter()
            .map(|x| Activity {
                at: x.at,
                who: match plan.orders.get(x.order as usize) {
                    Some(o) => format!("{title}-{:03}", o.n),
                    None => "run".to_owned(),
                },
                method: x.method.to_string(),
                path: x.path.to_string(),
                status: x.status,
                latency: x.latency,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::Outcome;

    fn sent(ms: u64) -> Exchange<'static> {
        Exchange {
            at: SystemTime::UNIX_EPOCH + Duration::from_millis(ms),
            path: format!("/{ms}").into(),
            ..Exchange::sample("s", 1000, Outcome::Ok, 200)
        }
    }

    fn paths(r: &Recent) -> Vec<String> {
        r.0.iter().map(|x| x.path.to_string()).collect()
    }

    #[test]
    fn a_full_list_takes_only_requests_spaced_from_its_newest() {
        let mut r = Recent::default();
        for ms in [0, 1, 2, 3, 4] {
            assert!(r.wants(sent(ms).at), "not full yet");
            r.push(sent(ms));
        }
        assert!(!r.wants(sent(50).at));
        assert!(r.wants(sent(4 + SPACING.as_millis() as u64).at));
    }

    #[test]
    fn merged_lists_keep_the_latest_by_send_time_oldest_first() {
        let (mut a, mut b) = (Recent::default(), Recent::default());
        for ms in [10, 30, 50, 70] {
            a.push(sent(ms));
        }
        for ms in [20, 40, 60, 80] {
            b.push(sent(ms));
        }
        a.absorb(b);
        assert_eq!(paths(&a), ["/40", "/50", "/60", "/70", "/80"]);
        a.absorb(Recent::default());
        assert_eq!(paths(&a).len(), RECENT);
    }
}
