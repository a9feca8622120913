//! How the engine's tasks are told to stop.
//!
//! A `watch` channel carries a [`Stop`]: each rule's kicker has its own
//! (a rule that leaves the rules file drains alone, while the others run
//! on), and the sources share one. A dropped sender means the daemon is
//! gone, and counts as [`Stop::Now`].

use tokio::sync::watch;

/// What a task is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Keep running.
    Running,
    /// The rule left the rules file (or was disabled) at a reload: send
    /// any pending kick, then end.
    Drain,
    /// Shutdown: start no new kick; an in-flight kick may finish.
    Now,
}

/// Resolves once the stop state satisfies `wanted`, or the daemon is
/// gone.
pub(crate) async fn stopped(stop: &mut watch::Receiver<Stop>, wanted: impl Fn(Stop) -> bool) {
    let _ = stop.wait_for(|s| wanted(*s)).await;
}

/// The current state, [`Stop::Now`] once the daemon is gone.
pub(crate) fn current(stop: &watch::Receiver<Stop>) -> Stop {
    if stop.has_changed().is_err() {
        Stop::Now
    } else {
        *stop.borrow()
    }
}
