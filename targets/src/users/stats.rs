//! Request counting and the `GET /stats` snapshot of what the service holds.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use super::auth::unix_secs;
use super::model::Stats;
use super::store::UserStore;

impl UserStore {
    /// Counts one received request, under `endpoint` (`METHOD /template`) when it matched a route.
    pub(super) fn note_request(&self, endpoint: Option<String>) {
        self.inner.requests_total.fetch_add(1, Ordering::Relaxed);
        if let Some(endpoint) = endpoint {
            let mut map = self
                .inner
                .requests_by_endpoint
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *map.entry(endpoint).or_default() += 1;
        }
    }

    /// What is stored now, and the requests received so far.
    pub fn stats(&self) -> Stats {
        let now = unix_secs(SystemTime::now());
        let mut stats = {
            let state = self.lock();
            Stats {
                users: state.users.len() as u64,
                profiles: state.profiles.len() as u64,
                roles: state.roles.len() as u64,
                permissions: state.permissions.len() as u64,
                sessions: state
                    .sessions
                    .values()
                    .filter(|s| s.refresh_exp > now)
                    .count() as u64,
                simulation_users: state
                    .users
                    .values()
                    .filter(|a| a.user.is_simulation)
                    .count() as u64,
                ..Stats::default()
            }
        };
        stats.requests_by_endpoint = self
            .inner
            .requests_by_endpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        stats.requests_total = self.inner.requests_total.load(Ordering::Relaxed);
        stats
    }
}
