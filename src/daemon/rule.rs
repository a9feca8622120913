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
            } => {
                let mut after = Utc::now();
                while let Some(next) = schedule.next_after(after) {
                    let wait =
                        (next - Utc::now()).to_std().unwrap_or(Duration::ZERO) + jitter(*limit);
                    tokio::time::sleep(wait).await;
                    signal.raise();
                    // A kick that outlasts several fire times folds them;
                    // a clock that jumped fires once, not once per slot.
                    after = next.max(Utc::now());
                }
                tracing::warn!(rule = %rule.name, "cron expression has no future fire time");
            }
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
        let mode = *stop.borrow();
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
