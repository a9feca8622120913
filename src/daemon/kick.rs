//! One rule's kick: the core sender, retries, and the line in the log.
//!
//! Each kick ends within the rule's `timeout` (connect, writes and the wait
//! for the server together); a failure is retried per the rule's `retry`
//! with capped exponential backoff, and every outcome is one log line:
//! rule, trigger, target, outcome, time taken. A failed kick never stops
//! the daemon; it is logged and the rule waits for its next trigger.

use std::path::Path;
use std::time::Instant;

use crate::rules::Rule;
use crate::trigger::{self, FifoRefusal, PeerOutcome, Timeouts, TriggerError};

/// What an administrator can do about a failed kick.
fn hint(err: &TriggerError) -> &'static str {
    let io_kind = match err {
        TriggerError::Lookup { source, .. } | TriggerError::Connect { source, .. } => {
            Some(source.kind())
        }
        TriggerError::FifoOpen {
            why: FifoRefusal::Open(source),
            ..
        } => Some(source.kind()),
        _ => None,
    };
    match (err, io_kind) {
        (_, Some(std::io::ErrorKind::PermissionDenied)) => {
            "run postkickd as the postfix user (User=postfix in the unit), which owns public/ and private/"
        }
        (TriggerError::Lookup { .. }, Some(std::io::ErrorKind::NotFound)) => {
            "is Postfix running, and is the service in master.cf? (postconf -M)"
        }
        (TriggerError::Connect { .. }, Some(std::io::ErrorKind::ConnectionRefused)) => {
            "a stale socket: Postfix is down or the service is not running"
        }
        (TriggerError::FifoOpen { .. }, _) => "no process reads this FIFO: is Postfix running?",
        (TriggerError::NotSocketOrFifo { .. }, _) => {
            "the endpoint is neither socket nor FIFO: check class and service"
        }
        (TriggerError::NameTooLong { .. }, _) => "shorten queue_directory: socket paths must stay below 108 bytes",
        _ => "see the error",
    }
}

/// How a kick ended after all its attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint took the request.
    Delivered,
    /// `--dry-run`: nothing was sent.
    DryRun,
    /// Every attempt failed.
    Failed,
    /// The daemon is stopping: the retries were abandoned.
    Abandoned,
}

/// Sends `rule`'s kick to its endpoint below `queue_directory`, retrying as
/// the rule says; `stopping` resolves when retries must be abandoned.
pub async fn kick(
    rule: &Rule,
    queue_directory: &Path,
    dry_run: bool,
    stopping: impl std::future::Future<Output = ()>,
) -> Outcome {
    use tracing::Instrument;
    // Every line of this kick carries the rule, its trigger and its target.
    let span = tracing::info_span!(
        "kick",
        rule = %rule.name,
        trigger = %rule.trigger.kind(),
        target = %rule.target
    );
    attempts(rule, queue_directory, dry_run, stopping)
        .instrument(span)
        .await
}

async fn attempts(
    rule: &Rule,
    queue_directory: &Path,
    dry_run: bool,
    stopping: impl std::future::Future<Output = ()>,
) -> Outcome {
    if dry_run {
        tracing::info!(outcome = %"dry-run");
        return Outcome::DryRun;
    }
    let target = &rule.target;
    let path = trigger::endpoint_path(
        queue_directory,
        target.class.as_bytes(),
        target.service.as_bytes(),
    );
    tokio::pin!(stopping);
    let started = Instant::now();
    let elapsed_ms = || format!("{:.3}", started.elapsed().as_secs_f64() * 1e3);
    for attempt in 1..=rule.retry.attempts {
        let timeouts = Timeouts::within(rule.timeout);
        match trigger::kick(&path, target.request.as_bytes(), timeouts).await {
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
                    hint = %hint(&err),
                    elapsed_ms = %elapsed_ms(),
                );
                return Outcome::Failed;
            }
        }
    }
    Outcome::Failed
}
