//! Talking to systemd: readiness, reloads, stops, status and the watchdog.
//!
//! Every call is a no-op outside systemd (no `NOTIFY_SOCKET`), and a
//! failure to notify is logged, never fatal: the daemon's job is kicks.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(err) = sd_notify::notify(states) {
        tracing::warn!(error = %err, "cannot notify systemd");
    }
}

/// Rules loaded and every watch in place.
pub(super) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A reload has started.
pub(super) fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

/// True when systemd listens for notifications.
pub(crate) fn listening() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

/// A new one-line status for `systemctl status`.
pub(crate) fn status(line: &str) {
    send(&[NotifyState::Status(line)]);
}

/// The daemon is stopping.
pub(super) fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// How often to pet the watchdog, if systemd asked for one.
pub(super) fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|limit| limit / 2)
}

/// Pets the watchdog.
pub(super) fn watchdog() {
    send(&[NotifyState::Watchdog]);
}
