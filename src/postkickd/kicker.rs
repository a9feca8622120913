//! One kicker per rule: takes the rule's pending flag and kicks through the
//! core sender, one kick at a time.
//!
//! A rule has one kicker for as long as its name is in the rules file: a
//! reload hands it the new definition, which its next kick uses, so two
//! kicks of one rule are never in flight, reloads or not. A kicker that
//! takes over a name whose old kicker is still finishing waits for it. A
//! trigger that comes while a kick is in flight folds into one kick sent as
//! soon as that one completes (the server closed, or the timeout; for a
//! FIFO, the write returned): the first event after a quiet spell kicks at
//! once, and no event is left without a kick that starts after it. A
//! `watch` rule's `debounce` is an opt-in least time between kick starts.
//! Rules never wait for each other, except for a descriptor: the kicks in
//! flight at once are capped to fit the process's file limit.
//! Each kick ends within the rule's `timeout` (connect, writes and the wait
//! for the server together); a failure is retried per the rule's `retry`
//! with capped exponential backoff, and every outcome is one log line with
//! the rule, its trigger, its target, the outcome and the time taken. A
//! failed kick never stops the daemon.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use super::pending::Pending;
use super::plan::{PlannedRule, Source};
use super::stats::{self, LastKick, RuleStats};
use super::stop::{self, stopped, Stop};
use crate::postfix::endpoint::{self, EndpointError, PeerOutcome, Timeouts};

/// How a kick ended after all its attempts: recorded, or abandoned
/// because the daemon is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Recorded in the rule's stats.
    Ended(stats::Outcome),
    /// The daemon is stopping: the retries were abandoned.
    Abandoned,
}

/// What the attempts of one kick came to.
struct Attempts {
    outcome: Outcome,
    count: u32,
    error: Option<String>,
}

/// What a kicker works with.
pub(crate) struct Kicker {
    /// The rule's current definition.
    pub definition: watch::Receiver<Arc<PlannedRule>>,
    /// Raised by the rule's sources.
    pub pending: Arc<Pending>,
    /// Log the kicks instead of sending them.
    pub dry_run: bool,
    /// How the daemon asks it to stop.
    pub stop: watch::Receiver<Stop>,
    /// One permit per kick in flight, daemon-wide.
    pub descriptors: Arc<Semaphore>,
    /// A previous kicker of the same rule name, still finishing.
    pub handover: Option<JoinHandle<()>>,
}

/// Takes the pending flag and kicks, one kick at a time, until told to stop.
pub(crate) async fn kicker(kicker: Kicker) {
    let Kicker {
        definition,
        pending,
        dry_run,
        mut stop,
        descriptors,
        handover,
    } = kicker;
    if let Some(previous) = handover {
        let _ = previous.await;
    }
    let send = |number: u64, planned: Arc<PlannedRule>, stop: watch::Receiver<Stop>| {
        let descriptors = Arc::clone(&descriptors);
        let stats = Arc::clone(pending.stats());
        async move {
            let mut shutdown = stop.clone();
            let permit = tokio::select! {
                permit = descriptors.acquire_owned() => permit.ok(),
                () = stopped(&mut shutdown, |s| s == Stop::Now) => None,
            };
            let Some(_permit) = permit else {
                return Outcome::Abandoned;
            };
            let mut shutdown = stop;
            // A reload lets retries finish; only a shutdown abandons them.
            kick(
                number,
                &planned,
                dry_run,
                &stats,
                stopped(&mut shutdown, |s| s == Stop::Now),
            )
            .await
        }
    };
    loop {
        tokio::select! {
            () = pending.wait() => {}
            () = stopped(&mut stop, |s| s != Stop::Running) => {}
        }
        match stop::current(&stop) {
            Stop::Now => return,
            Stop::Drain => {
                // The rule is gone from the file: send what was pending, then end.
                if let Some(number) = pending.take() {
                    let planned = Arc::clone(&definition.borrow());
                    send(number, planned, stop.clone()).await;
                }
                return;
            }
            Stop::Running => {}
        }
        while let Some(number) = pending.take() {
            let planned = Arc::clone(&definition.borrow());
            let started = tokio::time::Instant::now();
            let outcome = send(number, Arc::clone(&planned), stop.clone()).await;
            if outcome == Outcome::Abandoned || *stop.borrow() != Stop::Running {
                break;
            }
            let debounce = match &planned.source {
                Source::Watch(watch) => watch.debounce,
                _ => Duration::ZERO,
            };
            if !debounce.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep_until(started + debounce) => {}
                    () = stopped(&mut stop, |s| s != Stop::Running) => break,
                }
            }
        }
    }
}

/// Sends the rule's kick numbered `number`, retrying as the rule says, and
/// records it in `stats`; `stopping` resolves when retries must be
/// abandoned.
async fn kick(
    number: u64,
    planned: &PlannedRule,
    dry_run: bool,
    stats: &RuleStats,
    stopping: impl std::future::Future<Output = ()>,
) -> Outcome {
    use tracing::Instrument;
    let rule = &planned.rule;
    // Every line of this kick carries the rule, its trigger, its target and
    // what raised it.
    let cause = stats.last_cause();
    let span = tracing::info_span!(
        "kick",
        rule = %rule.name,
        trigger = %rule.trigger.kind(),
        target = %rule.target,
        cause = %cause
    );
    let at = jiff::Timestamp::now();
    let started = Instant::now();
    stats.started();
    let done = attempts(planned, dry_run, stats, stopping)
        .instrument(span)
        .await;
    match done.outcome {
        Outcome::Ended(outcome) => stats.ended(
            number,
            LastKick {
                at,
                outcome,
                attempts: done.count,
                duration: started.elapsed(),
                error: done.error,
            },
        ),
        Outcome::Abandoned => stats.abandoned(),
    }
    done.outcome
}

async fn attempts(
    planned: &PlannedRule,
    dry_run: bool,
    stats: &RuleStats,
    stopping: impl std::future::Future<Output = ()>,
) -> Attempts {
    if dry_run {
        tracing::info!(outcome = %"dry-run", "kick not sent (dry run)");
        return Attempts {
            outcome: Outcome::Ended(stats::Outcome::DryRun),
            count: 0,
            error: None,
        };
    }
    let rule = &planned.rule;
    let request = rule.target.request.as_bytes();
    tokio::pin!(stopping);
    let started = Instant::now();
    let elapsed_ms = || format!("{:.3}", started.elapsed().as_secs_f64() * 1e3);
    for attempt in 1..=rule.retry.attempts {
        let timeouts = Timeouts::within(rule.timeout);
        let result = endpoint::kick(&planned.connect, request, timeouts)
            .await
            .and_then(|report| match &report.write_failure {
                // The request did not get through (a full FIFO, a write
                // that timed out): a failed attempt, retried; only a peer
                // that read the request and closed before the NUL took it.
                Some(failure) if !failure.is_peer_closed_after_request() => {
                    Err(EndpointError::Write {
                        path: planned.connect.clone(),
                        source: std::io::Error::new(
                            failure.error.kind(),
                            crate::sys::io_error_text(&failure.error),
                        ),
                    })
                }
                _ => Ok(report),
            });
        match result {
            Ok(report) => {
                let peer = match report.peer {
                    PeerOutcome::NotWaited => "fifo",
                    PeerOutcome::Closed(_) => "closed",
                    PeerOutcome::ReadTimeout(_) | PeerOutcome::DrainExpired(_) => {
                        "still open at timeout"
                    }
                };
                if rule.quiet {
                    tracing::debug!(outcome = %"delivered", attempt, bytes = report.bytes_written, server = %peer, elapsed_ms = %elapsed_ms(), "kick delivered");
                } else {
                    tracing::info!(outcome = %"delivered", attempt, bytes = report.bytes_written, server = %peer, elapsed_ms = %elapsed_ms(), "kick delivered");
                }
                return Attempts {
                    outcome: Outcome::Ended(stats::Outcome::Delivered),
                    count: attempt,
                    error: None,
                };
            }
            Err(err) if attempt < rule.retry.attempts => {
                let delay = rule.retry.delay_before(attempt + 1);
                tracing::warn!(
                    outcome = %"retrying",
                    attempt,
                    error = %err,
                    retry_in_ms = delay.as_millis(),
                    "kick failed: {err}; retrying"
                );
                stats.retrying();
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = &mut stopping => {
                        return Attempts {
                            outcome: Outcome::Abandoned,
                            count: attempt,
                            error: Some(err.to_string()),
                        }
                    }
                }
            }
            Err(err) => {
                tracing::error!(
                    outcome = %"failed",
                    attempts = attempt,
                    error = %err,
                    hint = %err.hint(),
                    elapsed_ms = %elapsed_ms(),
                    "kick failed: {err}: {}",
                    err.hint()
                );
                return Attempts {
                    outcome: Outcome::Ended(stats::Outcome::Failed),
                    count: attempt,
                    error: Some(format!("{err}: {}", err.hint())),
                };
            }
        }
    }
    Attempts {
        outcome: Outcome::Ended(stats::Outcome::Failed),
        count: rule.retry.attempts,
        error: None,
    }
}
