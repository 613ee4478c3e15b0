//! Small synchronisation helpers shared by the crate.

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, carrying on after a panic elsewhere: the data guarded with this helper
/// (counters, caches of database reads) stays valid when a holder panicked mid-way.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
