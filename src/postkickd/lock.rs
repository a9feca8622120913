//! The daemon's shared records are behind plain mutexes held for a copy
//! or an increment; a panic while one is held leaves numbers, never a
//! broken invariant, so a poisoned lock is taken as it is rather than
//! taking the daemon down with it.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, poisoned or not.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
