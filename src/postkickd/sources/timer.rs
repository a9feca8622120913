//! Timer sources: `every` and `cron` rules raise their pending kick at
//! their fire times.
//!
//! Timers sleep until their next fire time: nothing here polls. `every`
//! counts on the monotonic clock from the daemon's start; `cron` waits on
//! the wall clock (a `timerfd` that a suspend or a clock change wakes), so
//! that a slot passed during a suspend fires once and a clock set back
//! never repeats one. Each fire may be delayed by a random jitter. A timer
//! only raises its rule's [`Pending`]; it never kicks.

use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;

use crate::postkickd::pending::Pending;
use crate::postkickd::stop::{stopped, Stop};
use crate::rules::schedule::{Cron, CronProgress};
use crate::sys::WallTimer;

/// A random duration in `0..=limit`, from the standard library's
/// randomly seeded hasher (no generator crate for a jitter).
fn jitter(limit: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    if limit.is_zero() {
        return Duration::ZERO;
    }
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let nanos = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(random % nanos.saturating_add(1))
}

/// Raises `pending` every `period` (plus jitter) until told to stop.
pub(crate) async fn every(
    period: Duration,
    limit: Duration,
    pending: &Pending,
    mut stop: watch::Receiver<Stop>,
) {
    let fire_times = async {
        let mut next = tokio::time::Instant::now() + period;
        loop {
            tokio::time::sleep_until(next + jitter(limit)).await;
            pending.raise();
            next += period;
            let now = tokio::time::Instant::now();
            if next < now {
                next = now + period;
            }
        }
    };
    tokio::select! {
        () = fire_times => {}
        () = stopped(&mut stop, |s| s != Stop::Running) => {}
    }
}

/// Raises `pending` at each of a cron schedule's fire times (plus jitter)
/// until told to stop.
pub(crate) async fn cron(
    rule: &str,
    schedule: &Cron,
    limit: Duration,
    pending: &Pending,
    mut stop: watch::Receiver<Stop>,
) {
    tokio::select! {
        () = cron_fire_times(rule, schedule, limit, pending) => {}
        () = stopped(&mut stop, |s| s != Stop::Running) => {}
    }
}

/// Waits until a wall-clock instant, following clock changes.
enum WallWait {
    /// A `timerfd`: a suspend or a clock set forward ends the wait at once.
    Timer(tokio::io::unix::AsyncFd<WallTimer>),
    /// Fallback when no `timerfd` can be had: the monotonic clock.
    Sleep,
}

impl WallWait {
    fn new(rule: &str) -> Self {
        match WallTimer::new().and_then(WallTimer::register) {
            Ok(timer) => Self::Timer(timer),
            Err(err) => {
                tracing::warn!(rule, error = %err, "no wall-clock timer; a clock change may delay this rule");
                Self::Sleep
            }
        }
    }

    async fn until(&self, at: Timestamp) {
        let wall = std::time::SystemTime::try_from(at).unwrap_or(std::time::UNIX_EPOCH);
        let Self::Timer(timer) = self else {
            return sleep_until(at).await;
        };
        if timer.get_ref().arm_at(wall).is_err() {
            return sleep_until(at).await;
        }
        loop {
            let Ok(mut ready) = timer.readable().await else {
                return sleep_until(at).await;
            };
            match ready.try_io(|t| t.get_ref().read()) {
                Ok(Ok(_)) => return,
                // The clock was set: the instant may be due now.
                Ok(Err(err)) if err.raw_os_error() == Some(libc::ECANCELED) => {
                    if Timestamp::now() >= at || timer.get_ref().arm_at(wall).is_err() {
                        return;
                    }
                }
                Ok(Err(_)) => return sleep_until(at).await,
                Err(_would_block) => {}
            }
        }
    }
}

async fn sleep_until(at: Timestamp) {
    let wait = Duration::try_from(at.duration_since(Timestamp::now())).unwrap_or(Duration::ZERO);
    tokio::time::sleep(wait).await;
}

async fn cron_fire_times(name: &str, schedule: &Cron, limit: Duration, pending: &Pending) {
    let wait = WallWait::new(name);
    let mut progress = CronProgress::starting(Timestamp::now());
    while let Some(slot) = progress.next(schedule) {
        let at = slot.checked_add(jitter(limit)).unwrap_or(slot);
        tracing::debug!(rule = name, next = %schedule.zone().display(at), "waiting for the next fire time");
        wait.until(at).await;
        pending.raise();
        // A kick that outlasts several slots, a suspend or a clock set
        // forward fires once, not once per slot; a clock set back never
        // repeats a slot.
        progress.fired(slot, Timestamp::now());
    }
    tracing::warn!(rule = name, "cron expression has no future fire time");
}
