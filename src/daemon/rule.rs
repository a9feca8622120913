//! One rule at work: its trigger source feeding a kicker that never piles up.
//!
//! A rule's trigger (cron, every, watch, on_start) only raises the rule's
//! [`Signal`]; one kicker loop per rule takes the signal and kicks, so a
//! trigger that comes while a kick is in flight folds into one kick after
//! it, and rules never wait for each other. For a `watch` rule the kicker
//! then waits out the debounce window and kicks once more if anything
//! arrived meanwhile, so that the first event after a quiet spell kicks at
//! once and no event is left without a kick that starts after it. Timers
//! sleep until their next fire time: nothing here polls.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;

use super::kick::{kick, Outcome};
use super::Context;
use crate::rules::{Rule, Trigger};
use crate::schedule::{Cron, CronProgress};
use crate::sys::WallTimer;
use crate::watch::Signal;

/// How a rule's tasks are asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Keep running.
    Running,
    /// A reload: stop the trigger, then send any pending kick and exit.
    Drain,
    /// Shutdown: start no new kick; an in-flight kick may finish.
    Now,
}

/// A random duration in `0..=limit`, from the standard library's
/// randomly seeded hasher (no generator crate for a jitter).
pub fn jitter(limit: Duration) -> Duration {
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

async fn stopped(stop: &mut watch::Receiver<Stop>, wanted: impl Fn(Stop) -> bool) {
    // A dropped sender means the daemon is gone: treat it as stop.
    let _ = stop.wait_for(|s| wanted(*s)).await;
}

/// Raises `signal` at the rule's fire times until told to stop.
pub async fn timer(rule: Arc<Rule>, signal: Arc<Signal>, mut stop: watch::Receiver<Stop>) {
    let fire_times = async {
        match &rule.trigger {
            Trigger::Cron {
                schedule,
                jitter: limit,
                ..
            } => cron_timer(&rule.name, schedule, *limit, &signal).await,
            Trigger::Every {
                period,
                jitter: limit,
            } => {
                let mut next = tokio::time::Instant::now() + *period;
                loop {
                    tokio::time::sleep_until(next + jitter(*limit)).await;
                    signal.raise();
                    next += *period;
                    let now = tokio::time::Instant::now();
                    if next < now {
                        next = now + *period;
                    }
                }
            }
            Trigger::Watch { .. } => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = fire_times => {}
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

    async fn until(&self, at: chrono::DateTime<Utc>) {
        let wall = std::time::SystemTime::from(at);
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
                    if Utc::now() >= at || timer.get_ref().arm_at(wall).is_err() {
                        return;
                    }
                }
                Ok(Err(_)) => return sleep_until(at).await,
                Err(_would_block) => {}
            }
        }
    }
}

async fn sleep_until(at: chrono::DateTime<Utc>) {
    tokio::time::sleep((at - Utc::now()).to_std().unwrap_or(Duration::ZERO)).await;
}

/// Raises `signal` at each of a cron rule's fire times.
async fn cron_timer(name: &str, schedule: &Cron, limit: Duration, signal: &Signal) {
    let wait = WallWait::new(name);
    let mut progress = CronProgress::starting(Utc::now());
    while let Some(slot) = progress.next(schedule) {
        let at = slot + chrono::Duration::from_std(jitter(limit)).unwrap_or_default();
        tracing::debug!(rule = name, next = %schedule.zone().display(at), "waiting for the next fire time");
        wait.until(at).await;
        signal.raise();
        // A kick that outlasts several slots, a suspend or a clock set
        // forward fires once, not once per slot; a clock set back never
        // repeats a slot.
        progress.fired(slot, Utc::now());
    }
    tracing::warn!(rule = name, "cron expression has no future fire time");
}

/// Takes the rule's signal and kicks, one kick at a time.
pub async fn kicker(
    rule: Arc<Rule>,
    signal: Arc<Signal>,
    context: Arc<Context>,
    mut stop: watch::Receiver<Stop>,
) {
    let debounce = match rule.trigger {
        Trigger::Watch { debounce, .. } => debounce,
        _ => Duration::ZERO,
    };
    loop {
        tokio::select! {
            () = signal.wait() => {}
            () = stopped(&mut stop, |s| s != Stop::Running) => {}
        }
        // A dropped sender means the daemon is gone: stop at once.
        let mode = if stop.has_changed().is_err() {
            Stop::Now
        } else {
            *stop.borrow()
        };
        if mode == Stop::Now || (mode == Stop::Drain && !signal.take()) {
            return;
        }
        if mode == Stop::Drain {
            // Send what was pending, then leave the rest to the new rules.
            let mut shutdown = stop.clone();
            kick(
                &rule,
                &context.queue_directory,
                context.dry_run,
                stopped(&mut shutdown, |s| s == Stop::Now),
            )
            .await;
            return;
        }
        while signal.take() {
            let mut shutdown = stop.clone();
            // A reload lets retries finish; only a shutdown abandons them.
            let outcome = kick(
                &rule,
                &context.queue_directory,
                context.dry_run,
                stopped(&mut shutdown, |s| s == Stop::Now),
            )
            .await;
            if outcome == Outcome::Abandoned || *stop.borrow() != Stop::Running {
                break;
            }
            if !debounce.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(debounce) => {}
                    () = stopped(&mut stop, |s| s != Stop::Running) => break,
                }
            }
        }
    }
}
