//! "Something happened since you last looked", for one rule.
//!
//! Every trigger source only raises its rule's [`Pending`] flag, saying
//! why; the rule's kicker takes it. A flag, not a queue: any burst of
//! triggers folds into one pending kick by construction, so nothing can
//! pile up or be lost while a kick is in flight. The flag carries the
//! rule's [`RuleStats`], where each trigger (and each fold) is counted.
//! Kicks are numbered as they take the flag, so that whoever raised it
//! can tell which kick carries its trigger (`postkickd kick RULE`).

use std::sync::{Arc, Mutex, MutexGuard};

use super::stats::RuleStats;
use crate::postkickd::lock::lock;

/// The flag, and how many kicks have taken it.
#[derive(Debug, Default)]
struct Flag {
    raised: bool,
    taken: u64,
}

/// A rule's pending kick.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    flag: Mutex<Flag>,
    wake: tokio::sync::Notify,
    stats: Arc<RuleStats>,
}

impl Pending {
    /// The rule's record.
    pub(crate) fn stats(&self) -> &Arc<RuleStats> {
        &self.stats
    }

    fn flag(&self) -> MutexGuard<'_, Flag> {
        lock(&self.flag)
    }

    /// Records a trigger (`cause`: a file, a slot, `start`) and wakes the
    /// kicker. Returns the number of the last kick that took the flag
    /// before: the kick that carries this trigger has a higher one.
    pub(crate) fn raise(&self, cause: impl FnOnce() -> String) -> u64 {
        let (folded, taken) = {
            let mut flag = self.flag();
            let folded = std::mem::replace(&mut flag.raised, true);
            (folded, flag.taken)
        };
        self.stats.triggered(cause(), folded);
        self.wake.notify_one();
        taken
    }

    /// True while a kick is pending.
    pub(crate) fn is_raised(&self) -> bool {
        self.flag().raised
    }

    /// Clears the flag; if it was raised, the number of the kick that
    /// takes it (1, 2, ...).
    pub(crate) fn take(&self) -> Option<u64> {
        let mut flag = self.flag();
        if !std::mem::replace(&mut flag.raised, false) {
            return None;
        }
        flag.taken += 1;
        Some(flag.taken)
    }

    /// Waits until the flag is raised (returns at once if it is).
    pub(crate) async fn wait(&self) {
        while !self.is_raised() {
            self.wake.notified().await;
        }
    }
}
