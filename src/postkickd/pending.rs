//! "Something happened since you last looked", for one rule.
//!
//! Every trigger source only raises its rule's [`Pending`] flag; the
//! rule's kicker takes it. A flag, not a queue: any burst of triggers folds
//! into one pending kick by construction, so nothing can pile up or be
//! lost while a kick is in flight.

use std::sync::atomic::{AtomicBool, Ordering};

/// A rule's pending kick.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    raised: AtomicBool,
    wake: tokio::sync::Notify,
}

impl Pending {
    /// Records a trigger and wakes the kicker.
    pub(super) fn raise(&self) {
        self.raised.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Clears the flag; true if it was raised.
    pub(super) fn take(&self) -> bool {
        self.raised.swap(false, Ordering::SeqCst)
    }

    /// Waits until the flag is raised (returns at once if it is).
    pub(super) async fn wait(&self) {
        while !self.raised.load(Ordering::SeqCst) {
            self.wake.notified().await;
        }
    }
}
