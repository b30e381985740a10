//! Locking shared by the modules whose locked state is consistent between
//! calls (the connection pool's lists, the recording tallies).

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, ignoring poison: the state is consistent between calls, so a
/// panic elsewhere (in one order's flow) leaves it usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
