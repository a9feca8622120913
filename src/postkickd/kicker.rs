//! One kicker per rule: takes the rule's pending flag and kicks through the
//! core sender, one kick at a time.
//!
//! A trigger that comes while a kick is in flight folds into one kick
//! after it, and rules never wait for each other. For a `watch` rule the
//! kicker then waits out the debounce window and kicks once more if
//! anything arrived meanwhile, so that the first event after a quiet spell
//! kicks at once and no event is left without a kick that starts after it.
//! Each kick ends within the rule's `timeout` (connect, writes and the wait
//! for the server together); a failure is retried per the rule's `retry`
//! with capped exponential backoff, and every outcome is one log line with
//! the rule, its trigger, its target, the outcome and the time taken. A
//! failed kick never stops the daemon.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::pending::Pending;
use super::plan::{PlannedRule, Source};
use super::stop::{self, stopped, Stop};
use crate::postfix::endpoint::{self, PeerOutcome, Timeouts};

/// How a kick ended after all its attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The endpoint took the request.
    Delivered,
    /// `--dry-run`: nothing was sent.
    DryRun,
    /// Every attempt failed.
    Failed,
    /// The daemon is stopping: the retries were abandoned.
    Abandoned,
}

/// Takes `pending` and kicks, one kick at a time, until told to stop.
pub(crate) async fn kicker(
    planned: Arc<PlannedRule>,
    pending: Arc<Pending>,
    dry_run: bool,
    mut stop: watch::Receiver<Stop>,
) {
    let debounce = match &planned.source {
        Source::Watch(watch) => watch.debounce,
        _ => Duration::ZERO,
    };
    loop {
        tokio::select! {
            () = pending.wait() => {}
            () = stopped(&mut stop, |s| s != Stop::Running) => {}
        }
        let mode = stop::current(&stop);
        if mode == Stop::Now || (mode == Stop::Drain && !pending.take()) {
            return;
        }
        if mode == Stop::Drain {
            // Send what was pending, then leave the rest to the new rules.
            let mut shutdown = stop.clone();
            kick(
                &planned,
                dry_run,
                stopped(&mut shutdown, |s| s == Stop::Now),
            )
            .await;
            return;
        }
        while pending.take() {
            let mut shutdown = stop.clone();
            // A reload lets retries finish; only a shutdown abandons them.
            let outcome = kick(
                &planned,
                dry_run,
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

/// Sends the rule's kick, retrying as the rule says; `stopping` resolves
/// when retries must be abandoned.
async fn kick(
    planned: &PlannedRule,
    dry_run: bool,
    stopping: impl std::future::Future<Output = ()>,
) -> Outcome {
    use tracing::Instrument;
    let rule = &planned.rule;
    // Every line of this kick carries the rule, its trigger and its target.
    let span = tracing::info_span!(
        "kick",
        rule = %rule.name,
        trigger = %rule.trigger.kind(),
        target = %rule.target
    );
    attempts(planned, dry_run, stopping).instrument(span).await
}

async fn attempts(
    planned: &PlannedRule,
    dry_run: bool,
    stopping: impl std::future::Future<Output = ()>,
) -> Outcome {
    if dry_run {
        tracing::info!(outcome = %"dry-run");
        return Outcome::DryRun;
    }
    let rule = &planned.rule;
    let request = rule.target.request.as_bytes();
    tokio::pin!(stopping);
    let started = Instant::now();
    let elapsed_ms = || format!("{:.3}", started.elapsed().as_secs_f64() * 1e3);
    for attempt in 1..=rule.retry.attempts {
        let timeouts = Timeouts::within(rule.timeout);
        match endpoint::kick(&planned.endpoint, request, timeouts).await {
            Ok(report) => {
                let peer = match report.peer {
                    PeerOutcome::NotWaited => "fifo",
                    PeerOutcome::Closed(_) => "closed",
                    PeerOutcome::ReadTimeout(_) | PeerOutcome::DrainExpired(_) => {
                        "still open at timeout"
                    }
                };
                tracing::info!(
                    outcome = %"delivered",
                    attempt,
                    bytes = report.bytes_written,
                    server = %peer,
                    elapsed_ms = %elapsed_ms(),
                );
                return Outcome::Delivered;
            }
            Err(err) if attempt < rule.retry.attempts => {
                let delay = rule.retry.delay_before(attempt + 1);
                tracing::warn!(
                    outcome = %"retrying",
                    attempt,
                    error = %err,
                    retry_in_ms = delay.as_millis(),
                );
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = &mut stopping => return Outcome::Abandoned,
                }
            }
            Err(err) => {
                tracing::error!(
                    outcome = %"failed",
                    attempts = attempt,
                    error = %err,
                    hint = %err.hint(),
                    elapsed_ms = %elapsed_ms(),
                );
                return Outcome::Failed;
            }
        }
    }
    Outcome::Failed
}
