//! "Something happened since you last looked", for one rule.
//!
//! Every trigger source only raises its rule's [`Pending`] flag, saying
//! why; the rule's kicker takes it. A flag, not a queue: any burst of
//! triggers folds into one pending kick by construction, so nothing can
//! pile up or be lost while a kick is in flight. The flag carries the
//! rule's [`RuleStats`], where each trigger (and each fold) is counted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::stats::RuleStats;

/// A rule's pending kick.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    raised: AtomicBool,
    wake: tokio::sync::Notify,
    stats: Arc<RuleStats>,
}

impl Pending {
    /// The rule's record.
    pub(super) fn stats(&self) -> &Arc<RuleStats> {
        &self.stats
    }

    /// Records a trigger (`cause`: a file, a slot, `start`) and wakes the
    /// kicker.
    pub(super) fn raise(&self, cause: impl FnOnce() -> String) {
        let folded = self.raised.swap(true, Ordering::SeqCst);
        self.stats.triggered(cause(), folded);
        self.wake.notify_one();
    }

    /// True while a kick is pending.
    pub(super) fn is_raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
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
