//! How a generation's tasks are told to stop.
//!
//! One `watch` channel per generation of rules carries a [`Stop`]; every
//! source and kicker of that generation holds a receiver. A dropped sender
//! means the daemon is gone, and counts as [`Stop::Now`].

use tokio::sync::watch;

/// What a generation's tasks are asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Keep running.
    Running,
    /// A reload: stop the trigger, then send any pending kick and exit.
    Drain,
    /// Shutdown: start no new kick; an in-flight kick may finish.
    Now,
}

/// Resolves once the generation's stop state satisfies `wanted`, or the
/// daemon is gone.
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
