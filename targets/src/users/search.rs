//! Listing and searching users one page at a time, and the page parameters
//! those listings accept.

use std::collections::BTreeMap;

use super::USERS_READ;
use super::error::StoreError;
use super::model::{Page, User, check, invalid_if_any};
use super::store::{Principal, UserStore};

/// Longest page a listing serves.
pub const MAX_PER_PAGE: usize = 100;
/// Page size when none is asked for.
pub const DEFAULT_PER_PAGE: usize = 20;

/// Checks page numbers from a query: page ≥ 1, per_page 1..=[`MAX_PER_PAGE`].
pub(super) fn page_params(
    page: Option<&str>,
    per_page: Option<&str>,
) -> Result<(usize, usize), StoreError> {
    let mut fields = BTreeMap::new();
    let parse = |raw: Option<&str>, default: usize| match raw {
        None | Some("") => Some(default),
        Some(s) => s.parse::<usize>().ok(),
    };
    let page = parse(page, 1).filter(|p| *p >= 1);
    let per_page = parse(per_page, DEFAULT_PER_PAGE).filter(|p| (1..=MAX_PER_PAGE).contains(p));
    check(
        &mut fields,
        "page",
        page.is_none()
            .then_some("must be a whole number of at least 1"),
    );
    check(
        &mut fields,
        "per_page",
        per_page
            .is_none()
            .then_some("must be a whole number from 1 to 100"),
    );
    invalid_if_any(fields)?;
    Ok((page.unwrap_or(1), per_page.unwrap_or(DEFAULT_PER_PAGE)))
}

impl UserStore {
    /// Users in creation order, one page (needs `users:read`).
    pub fn list_users(
        &self,
        actor: &Principal,
        page: usize,
        per_page: usize,
    ) -> Result<Page<User>, StoreError> {
        let state = self.lock();
        state.require_self_or(actor, None, USERS_READ)?;
        let (page, per_page) = (page.max(1), per_page.clamp(1, MAX_PER_PAGE));
        let total = state.users.len();
        let items = state
            .users
            .keys()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .filter_map(|n| state.view(*n))
            .collect();
        Ok(Page {
            items,
            page,
            per_page,
            total,
        })
    }

    /// Users whose username, email or full name contains `q`, any case (needs `users:read`).
    pub fn search_users(
        &self,
        actor: &Principal,
        q: &str,
        page: usize,
        per_page: usize,
    ) -> Result<Page<User>, StoreError> {
        let q = q.trim().to_lowercase();
        if q.is_empty() {
            return Err(StoreError::invalid("q", "is required"));
        }
        let state = self.lock();
        state.require_self_or(actor, None, USERS_READ)?;
        let (page, per_page) = (page.max(1), per_page.clamp(1, MAX_PER_PAGE));
        let skip = (page - 1).saturating_mul(per_page);
        // Every hit is counted; only the page's are copied out.
        let mut total = 0;
        let mut items = Vec::with_capacity(per_page);
        let finder = memchr::memmem::Finder::new(&q);
        for (n, a) in &state.users {
            if finder.find(&a.lowered).is_some() {
                if total >= skip && items.len() < per_page {
                    items.extend(state.view(*n));
                }
                total += 1;
            }
        }
        Ok(Page {
            items,
            page,
            per_page,
            total,
        })
    }
}
