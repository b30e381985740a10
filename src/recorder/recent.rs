//! The last few requests, for the recent-activity lines under the live users
//! panel. Exchanges are moved in once the recorder is done with them, so
//! keeping them adds no work per request; the lines are made once a second.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use super::Exchange;
use crate::plan::Plan;

/// How many requests the lines show.
pub const RECENT: usize = 5;

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
pub struct Recent(VecDeque<Exchange>);

impl Recent {
    /// Keeps `x`, dropping the oldest one kept.
    pub fn push(&mut self, x: Exchange) {
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
                path: x.path.clone(),
                status: x.status,
                latency: x.latency,
            })
            .collect()
    }
}
