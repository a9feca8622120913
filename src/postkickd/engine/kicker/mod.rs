//! One kicker per rule: takes the rule's pending flag and carries out the
//! rule's action, one at a time: raw kicks through the core sender, flush
//! requests through the flush client.
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
//! Each attempt ends within the rule's `timeout` (connect, writes and the
//! wait for the server, for all its deliveries together); a failure is
//! retried per the rule's `retry` with capped exponential backoff, and
//! every outcome is one log line with the rule, its trigger, its target,
//! the outcome and the time taken. A flush's outcome is the service's
//! answer: only `fail` is retried (as are connection errors), while `bad`
//! and `deny` end the kick at once. A failed kick never stops the daemon.

use std::sync::Arc;
use tokio::time::Instant;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use super::live::Live;
use super::notify::{Notice, Notifier};
use super::stats::{LastKick, Outcome, RuleStats};
use super::stop::{self, stopped, Stop};
use crate::postfix::attr::AttrError;
use crate::postfix::endpoint::{self, EndpointError, PeerOutcome, Timeouts};
use crate::postfix::flush::{self, FlushStatus};
use crate::postfix::health::Link;
use crate::postkickd::plan::{PlannedRule, Request};

/// What the attempts of one kick came to.
struct Attempts {
    /// `None`: the daemon is stopping, and the retries were abandoned.
    outcome: Option<Outcome>,
    count: u32,
    error: Option<String>,
}

/// What a kicker works with.
pub(crate) struct Kicker {
    /// The rule's current definition.
    pub definition: watch::Receiver<Arc<PlannedRule>>,
    /// The rule's flag, raised by its sources, and its record.
    pub live: Arc<Live>,
    /// Log the kicks instead of sending them.
    pub dry_run: bool,
    /// How the daemon asks it to stop.
    pub stop: watch::Receiver<Stop>,
    /// One permit per kick in flight, daemon-wide.
    pub descriptors: Arc<Semaphore>,
    /// A previous kicker of the same rule name, still finishing.
    pub handover: Option<JoinHandle<()>>,
    /// Where the rule's notices go (when it has `notify:`).
    pub notifier: Notifier,
}

/// Takes the pending flag and kicks, one kick at a time, until told to stop.
pub(crate) async fn kicker(kicker: Kicker) {
    let Kicker {
        definition,
        live,
        dry_run,
        mut stop,
        descriptors,
        handover,
        notifier,
    } = kicker;
    // Whether the rule was failing after its last kick: a change is told.
    let mut was_failing = false;
    if let Some(previous) = handover {
        let _ = previous.await;
    }
    let send = |number: u64, planned: Arc<PlannedRule>, stop: watch::Receiver<Stop>| {
        let descriptors = Arc::clone(&descriptors);
        let live = Arc::clone(&live);
        async move {
            let mut shutdown = stop.clone();
            let permit = tokio::select! {
                permit = descriptors.acquire_owned() => permit.ok(),
                () = stopped(&mut shutdown, |s| s == Stop::Now) => None,
            };
            let _permit = permit?;
            let mut shutdown = stop;
            // A reload lets retries finish; only a shutdown abandons them.
            kick(
                number,
                &planned,
                dry_run,
                live.stats(),
                stopped(&mut shutdown, |s| s == Stop::Now),
            )
            .await
        }
    };
    loop {
        tokio::select! {
            () = live.pending().wait() => {}
            () = stopped(&mut stop, |s| s != Stop::Running) => {}
        }
        match stop::current(&stop) {
            Stop::Now => return,
            Stop::Drain => {
                // The rule is gone from the file: send what was pending, then end.
                if let Some(number) = live.pending().take() {
                    let planned = Arc::clone(&definition.borrow());
                    send(number, planned, stop.clone()).await;
                }
                return;
            }
            Stop::Running => {}
        }
        while let Some(number) = live.pending().take() {
            let planned = Arc::clone(&definition.borrow());
            let started = tokio::time::Instant::now();
            let outcome = send(number, Arc::clone(&planned), stop.clone()).await;
            // Only a rule that asks for notices pays for the record's copy.
            if let (Some(to), Some(_)) = (&planned.rule.notify, outcome) {
                let record = live.stats().snapshot();
                let failing = record.counters.failing();
                if failing != was_failing {
                    was_failing = failing;
                    notifier.tell(rule_notice(&planned, to, failing, &record));
                }
            }
            if outcome.is_none() || *stop.borrow() != Stop::Running {
                break;
            }
            let debounce = planned.debounce;
            if !debounce.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep_until(started + debounce) => {}
                    () = stopped(&mut stop, |s| s != Stop::Running) => break,
                }
            }
        }
    }
}

/// The notice of a rule that started failing (or recovered), from its
/// record: since when, the error with the broken link, the fix.
fn rule_notice(
    planned: &PlannedRule,
    to: &str,
    failing: bool,
    record: &super::stats::Record,
) -> Notice {
    let rule = &planned.rule;
    let last = record.last_kick.as_ref();
    let at = last.map_or_else(|| "now".to_owned(), |k| k.at.to_string());
    let (subject, body) = if failing {
        (
            format!("postkickd: rule {} is failing", rule.name),
            format!(
                "Rule {} ({}) has been failing since {at}.\n\nError and fix: {}\n\npostkickd status {} shows it; postkickd doctor judges Postfix's whole path.",
                rule.name,
                rule.action,
                last.and_then(|k| k.error.as_deref()).unwrap_or("-"),
                rule.name
            ),
        )
    } else {
        (
            format!("postkickd: rule {} works again", rule.name),
            format!(
                "Rule {} ({}) succeeded again at {at}.",
                rule.name, rule.action
            ),
        )
    };
    Notice {
        to: to.to_owned(),
        cause: format!("rule {}", rule.name),
        broke: failing,
        subject,
        body,
    }
}

/// Sends the rule's kick numbered `number`, retrying as the rule says, and
/// records it in `stats`; `stopping` resolves when retries must be
/// abandoned (then `None`).
async fn kick(
    number: u64,
    planned: &PlannedRule,
    dry_run: bool,
    stats: &RuleStats,
    stopping: impl std::future::Future<Output = ()>,
) -> Option<Outcome> {
    use tracing::Instrument;
    let rule = &planned.rule;
    // Every line of this kick carries the rule, its trigger, its action and
    // what raised it, as fields for queries; its words say them too.
    // (`action`, not `target`: journald's own TARGET is the log's source.)
    let cause = stats.last_cause();
    let span = tracing::info_span!(
        "kick",
        rule = %rule.name,
        trigger = %rule.trigger.kind(),
        action = %rule.action,
        cause = %cause
    );
    let at = jiff::Timestamp::now();
    let started = Instant::now();
    stats.started();
    let done = attempts(planned, &cause, dry_run, stats, stopping)
        .instrument(span)
        .await;
    match done.outcome {
        Some(outcome) => stats.ended(
            number,
            LastKick {
                at,
                outcome,
                attempts: done.count,
                duration: started.elapsed(),
                error: done.error,
            },
        ),
        None => stats.abandoned(),
    }
    done.outcome
}

/// Why an attempt failed; every one is retried while attempts remain.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    /// A raw kick did not get through.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The exchange with an answering service broke off.
    #[error(transparent)]
    Service(#[from] AttrError),
    /// The service answered that it failed.
    #[error("{} answered {status}", .endpoint.display())]
    Failed {
        endpoint: std::path::PathBuf,
        status: FlushStatus,
    },
}

impl AttemptError {
    /// Whether nothing served the endpoint, so that the cause lies in
    /// Postfix's path (master, master.cf, the endpoint) and is worth
    /// naming.
    fn is_absence(&self) -> bool {
        match self {
            Self::Endpoint(e) => e.is_absence(),
            Self::Service(AttrError::Connect { source, .. }) => matches!(
                source.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ),
            _ => false,
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::Endpoint(e) => e.hint(),
            Self::Service(e) => e.hint(),
            Self::Failed { .. } => "the flush service's own error is in the mail log",
        }
    }
}

/// What one attempt's deliveries came to.
struct Delivered {
    outcome: Outcome,
    /// Bytes the raw kicks wrote.
    bytes: usize,
    /// How each raw kick's server left.
    servers: Vec<&'static str>,
}

/// Sends the rule's deliveries once, in order, all within its timeout.
async fn attempt(planned: &PlannedRule) -> Result<Delivered, AttemptError> {
    let deadline = tokio::time::Instant::now() + planned.rule.timeout;
    let mut done = Delivered {
        outcome: Outcome::Delivered,
        bytes: 0,
        servers: Vec::new(),
    };
    for delivery in &planned.deliveries {
        match &delivery.request {
            Request::Raw(request) => {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                let report = endpoint::kick(
                    &delivery.connect,
                    request.as_bytes(),
                    Timeouts::within(left),
                )
                .await?;
                // The request did not get through (a full FIFO, a write
                // that timed out): a failed attempt, retried; only a peer
                // that read the request and closed before the NUL took it.
                if let Some(failure) = &report.write_failure {
                    if !failure.is_peer_closed_after_request() {
                        return Err(AttemptError::Endpoint(EndpointError::Write {
                            path: delivery.connect.clone(),
                            source: std::io::Error::new(
                                failure.error.kind(),
                                crate::sys::io_error_text(&failure.error),
                            ),
                        }));
                    }
                }
                done.bytes += report.bytes_written;
                done.servers.push(match report.peer {
                    PeerOutcome::NotWaited => "fifo",
                    PeerOutcome::Closed(_) => "closed",
                    PeerOutcome::ReadTimeout(_) | PeerOutcome::DrainExpired(_) => {
                        "still open at timeout"
                    }
                });
            }
            Request::Flush(request) => {
                let status = flush::request(&delivery.connect, request, deadline).await?;
                if matches!(status, FlushStatus::Fail | FlushStatus::Other(_)) {
                    return Err(AttemptError::Failed {
                        endpoint: delivery.connect.clone(),
                        status,
                    });
                }
                done.outcome = Outcome::answered(status);
            }
        }
    }
    Ok(done)
}

/// What an administrator should do about a final answer that is not ok.
fn answer_hint(outcome: Outcome) -> Option<&'static str> {
    match outcome {
        Outcome::Deny => Some(
            "fast_flush_domains does not cover this site: add it in main.cf (fast_flush_domains, by default $relay_domains), then postfix reload",
        ),
        Outcome::Bad => Some("the flush service found the request malformed: see the mail log"),
        _ => None,
    }
}

/// The first broken link of Postfix's path along the rule's deliveries
/// (master, the service's master.cf entry, its endpoint), judged off the
/// runtime's threads; `None` when they all hold (the failure is the
/// server's own, or passing).
async fn broken_link(planned: &PlannedRule) -> Option<Link> {
    let site = Arc::clone(&planned.site);
    let services: Vec<(String, String)> = planned
        .deliveries
        .iter()
        .filter_map(crate::postkickd::plan::Delivery::endpoint)
        .collect();
    tokio::task::spawn_blocking(move || {
        services
            .iter()
            .find_map(|(class, service)| site.diagnose(class, service))
    })
    .await
    .ok()
    .flatten()
}

/// A duration in milliseconds, to the microsecond, as a JSON number.
fn milliseconds(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

async fn attempts(
    planned: &PlannedRule,
    cause: &str,
    dry_run: bool,
    stats: &RuleStats,
    stopping: impl std::future::Future<Output = ()>,
) -> Attempts {
    let what = format!("{}: {}", planned.rule.name, planned.rule.action);
    if dry_run {
        tracing::info!(outcome = %"dry-run", "{what} not sent (dry run; cause: {cause})");
        return Attempts {
            outcome: Some(Outcome::DryRun),
            count: 0,
            error: None,
        };
    }
    let rule = &planned.rule;
    tokio::pin!(stopping);
    let started = Instant::now();
    let elapsed_ms = || milliseconds(started.elapsed());
    let mut attempt_number = 0;
    loop {
        attempt_number += 1;
        match attempt(planned).await {
            Ok(done) => {
                let outcome = done.outcome.as_str();
                let server = done.servers.join(", ");
                let answered = done.outcome.is_answer();
                let (verb, hint) = if answered {
                    ("answered ", answer_hint(done.outcome))
                } else {
                    ("", None)
                };
                let ms = elapsed_ms();
                let message = format!("{what} {verb}{outcome} in {ms} ms (cause: {cause})");
                let bytes = done.bytes as u64;
                if let Some(hint) = hint {
                    tracing::error!(
                        outcome,
                        attempt = attempt_number,
                        hint,
                        elapsed_ms = ms,
                        "{what} answered {outcome}: {hint} (cause: {cause})"
                    );
                } else if answered && rule.quiet {
                    tracing::debug!(
                        outcome,
                        attempt = attempt_number,
                        elapsed_ms = ms,
                        "{message}"
                    );
                } else if answered {
                    tracing::info!(
                        outcome,
                        attempt = attempt_number,
                        elapsed_ms = ms,
                        "{message}"
                    );
                } else if rule.quiet {
                    tracing::debug!(outcome, attempt = attempt_number, bytes, server = %server, elapsed_ms = ms, "{message}");
                } else {
                    tracing::info!(outcome, attempt = attempt_number, bytes, server = %server, elapsed_ms = ms, "{message}");
                }
                return Attempts {
                    outcome: Some(done.outcome),
                    count: attempt_number,
                    error: hint.map(|hint| format!("answered {outcome}: {hint}")),
                };
            }
            Err(err) if attempt_number < rule.retry.attempts => {
                let delay = rule.retry.delay_before(attempt_number + 1);
                tracing::warn!(
                    outcome = %"retrying",
                    attempt = attempt_number,
                    error = %err,
                    retry_in_ms = milliseconds(delay),
                    "{what} failed: {err}; retrying in {} (attempt {attempt_number} of {}; cause: {cause})",
                    crate::rules::display_duration(delay),
                    rule.retry.attempts
                );
                stats.retrying();
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = &mut stopping => {
                        return Attempts {
                            outcome: None,
                            count: attempt_number,
                            error: Some(err.to_string()),
                        }
                    }
                }
            }
            Err(err) => {
                let outcome = match &err {
                    AttemptError::Failed { status, .. } => Outcome::answered(*status),
                    _ => Outcome::Failed,
                };
                crate::postkickd::control::health::failure_seen();
                // The broken link of Postfix's path, when one is: named
                // instead of the guesses an error alone allows.
                let broken = if err.is_absence() {
                    broken_link(planned).await
                } else {
                    None
                };
                let hint = broken.map_or_else(|| err.hint().to_owned(), |link| link.said());
                tracing::error!(
                    outcome = %outcome.as_str(),
                    attempts = attempt_number,
                    error = %err,
                    hint = %hint,
                    elapsed_ms = elapsed_ms(),
                    "{what} failed{}: {err}: {} (cause: {cause})",
                    if attempt_number > 1 {
                        format!(" after {attempt_number} attempts")
                    } else {
                        String::new()
                    },
                    hint
                );
                return Attempts {
                    outcome: Some(outcome),
                    count: attempt_number,
                    error: Some(format!("{err}: {hint}")),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests;
