//! "Something happened since you last looked", for one rule.
//!
//! Every trigger source only raises its rule's [`Pending`] flag; the
//! rule's kicker takes it. A flag, not a queue: any burst of triggers
//! folds into one pending kick by construction, so nothing can pile up or
//! be lost while a kick is in flight. Kicks are numbered as they take the
//! flag, so that whoever raised it can tell which kick carries its
//! trigger (`postkickd kick RULE`). It counts nothing: what a rule did is
//! its record (`stats`), beside the flag in the rule's [`super::live`].

use std::sync::{Mutex, MutexGuard};

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
}

/// What raising the flag found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Raised {
    /// A kick was pending already: this trigger folds into it.
    pub folded: bool,
    /// The number of the last kick that took the flag before: the kick
    /// that carries this trigger has a higher one.
    pub taken: u64,
}

impl Pending {
    fn flag(&self) -> MutexGuard<'_, Flag> {
        lock(&self.flag)
    }

    /// Raises the flag, lets `record` note what it found, then wakes the
    /// kicker (so that the kicker finds the trigger recorded).
    pub(crate) fn raise(&self, record: impl FnOnce(Raised)) -> Raised {
        let raised = {
            let mut flag = self.flag();
            Raised {
                folded: std::mem::replace(&mut flag.raised, true),
                taken: flag.taken,
            }
        };
        record(raised);
        self.wake.notify_one();
        raised
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
