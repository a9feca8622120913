//! What the running daemon shows about itself: one state, three renderings.
//!
//! [`Observed`] is the daemon's view of itself (version, pid, rules file,
//! last reload, queue directory, the last reading of the queue's size) and
//! of every rule (its trigger, target, and the record in `stats`). It
//! renders as JSON for scripts (the `status --json` schema, documented in
//! postkickd(8)), as a table for people (`table`, rendered from that JSON,
//! by `status` and by `SIGUSR1` alike), and as Prometheus' text exposition
//! format (`metrics`). It reads; it never changes a rule.

use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::pending::Pending;
use super::queue::{QueueGauge, Snapshot};
use super::stats::{Answers, LastKick};
use crate::postfix::showq::QUEUES;

mod metrics;
mod table;

pub(crate) use table::{failing, table};

/// One rule as `status` shows it.
#[derive(Debug, Clone)]
pub(crate) struct RuleView {
    pub name: String,
    pub trigger: &'static str,
    pub enabled: bool,
    pub target: String,
    /// The running rule's flag and record; `None` for a disabled rule.
    pub pending: Option<Arc<Pending>>,
}

/// The daemon as `status` shows it.
#[derive(Debug, Clone)]
pub(crate) struct DaemonView {
    pub started: Timestamp,
    pub rules_file: String,
    pub loaded: Timestamp,
    /// When the last reload was asked for, and its error if it was refused.
    pub last_reload: Option<(Timestamp, Option<String>)>,
    /// Reloads since the start.
    pub reloads: Reloads,
    pub queue_directory: String,
}

/// Reloads taken and refused.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(crate) struct Reloads {
    pub ok: u64,
    pub refused: u64,
}

/// What the running daemon knows of itself.
#[derive(Debug)]
pub(crate) struct Observed {
    daemon: Mutex<DaemonView>,
    rules: Mutex<Vec<RuleView>>,
    /// The queue's size, read from showq when asked.
    pub queue: QueueGauge,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One rule in the `status --json` document (schema in postkickd(8)).
#[derive(Serialize)]
struct RuleDocument<'v> {
    name: &'v str,
    trigger: &'static str,
    enabled: bool,
    target: &'v str,
    last_trigger: Option<TriggerDocument>,
    last_kick: Option<KickDocument>,
    consecutive_failures: u64,
    delivered: u64,
    failed: u64,
    answers: Answers,
    retried: u64,
    folded: u64,
    in_flight: bool,
    pending: bool,
    next: Option<String>,
    files_waiting_past_drain: Option<usize>,
}

#[derive(Serialize)]
struct TriggerDocument {
    at: String,
    cause: String,
}

/// A kick as `status --json` and the answer to `kick RULE` show it.
#[derive(Serialize)]
pub(crate) struct KickDocument {
    at: String,
    outcome: &'static str,
    attempts: u32,
    duration_ms: f64,
    error: Option<String>,
}

impl From<LastKick> for KickDocument {
    fn from(kick: LastKick) -> Self {
        KickDocument {
            at: kick.at.to_string(),
            outcome: kick.outcome.as_str(),
            attempts: kick.attempts,
            duration_ms: kick.duration.as_secs_f64() * 1e3,
            error: kick.error,
        }
    }
}

/// One queue in the `status --json` document.
#[derive(Serialize)]
struct QueueCountDocument {
    name: &'static str,
    messages: u64,
    /// Age of its oldest message when read, in seconds.
    oldest_age_seconds: Option<i64>,
}

/// The last reading of the queue in the `status --json` document.
#[derive(Serialize)]
struct QueueDocument {
    read_at: String,
    read_ms: f64,
    /// False when the read stopped at its cap or timeout: counts are lower
    /// bounds.
    complete: bool,
    error: Option<String>,
    messages: Option<u64>,
    queues: Vec<QueueCountDocument>,
}

impl From<&Snapshot> for QueueDocument {
    fn from(snapshot: &Snapshot) -> Self {
        let now = snapshot.at.as_second();
        let (complete, error, messages, queues) = match &snapshot.result {
            Ok(reading) => (
                reading.complete,
                None,
                Some(reading.total()),
                QUEUES
                    .iter()
                    .zip(reading.queues)
                    .map(|(name, count)| QueueCountDocument {
                        name,
                        messages: count.messages,
                        oldest_age_seconds: count.oldest.map(|t| (now - t).max(0)),
                    })
                    .collect(),
            ),
            Err(error) => (false, Some(error.clone()), None, Vec::new()),
        };
        QueueDocument {
            read_at: snapshot.at.to_string(),
            read_ms: snapshot.took.as_secs_f64() * 1e3,
            complete,
            error,
            messages,
            queues,
        }
    }
}

#[derive(Serialize)]
struct ReloadDocument<'v> {
    at: String,
    result: &'static str,
    error: Option<&'v str>,
}

/// The `status --json` document.
#[derive(Serialize)]
struct Document<'v> {
    version: &'static str,
    pid: u32,
    started: String,
    rules_file: &'v str,
    loaded: String,
    last_reload: Option<ReloadDocument<'v>>,
    reloads: Reloads,
    queue_directory: &'v str,
    /// The last reading of showq; absent before the first.
    queue: Option<QueueDocument>,
    rules: Vec<RuleDocument<'v>>,
}

fn rule_document(view: &RuleView) -> RuleDocument<'_> {
    let record = view
        .pending
        .as_ref()
        .map(|p| p.stats().snapshot())
        .unwrap_or_default();
    RuleDocument {
        name: &view.name,
        trigger: view.trigger,
        enabled: view.enabled,
        target: &view.target,
        last_trigger: record.last_trigger.map(|(at, cause)| TriggerDocument {
            at: at.to_string(),
            cause,
        }),
        last_kick: record.last_kick.map(KickDocument::from),
        consecutive_failures: record.consecutive_failures,
        delivered: record.delivered,
        failed: record.failed,
        answers: record.answers,
        retried: record.retried,
        folded: record.folded,
        in_flight: record.in_flight,
        pending: view.pending.as_ref().is_some_and(|p| p.is_raised()),
        next: record.next_fire.map(|t| t.to_string()),
        files_waiting_past_drain: record.waiting_past_drain,
    }
}

/// What `systemctl status` shows: rules, kicks so far, failing rules.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    pub rules: usize,
    pub kicks: u64,
    pub failing: Vec<String>,
}

impl Observed {
    pub(crate) fn new(daemon: DaemonView, rules: Vec<RuleView>, queue: QueueGauge) -> Observed {
        Observed {
            daemon: Mutex::new(daemon),
            rules: Mutex::new(rules),
            queue,
        }
    }

    /// A reload was taken: the new rules, or the reason it was refused.
    pub(crate) fn reloaded(&self, outcome: Result<Vec<RuleView>, String>) {
        let now = Timestamp::now();
        let mut daemon = lock(&self.daemon);
        match outcome {
            Ok(rules) => {
                daemon.loaded = now;
                daemon.last_reload = Some((now, None));
                daemon.reloads.ok += 1;
                *lock(&self.rules) = rules;
            }
            Err(error) => {
                daemon.last_reload = Some((now, Some(error)));
                daemon.reloads.refused += 1;
            }
        }
    }

    /// The running rule named `name`.
    pub(crate) fn rule(&self, name: &str) -> Option<RuleView> {
        lock(&self.rules).iter().find(|r| r.name == name).cloned()
    }

    /// Everything, or one rule, as the `status --json` document, built
    /// straight from the records (no intermediate JSON tree: it must stay
    /// fast with thousands of rules) and handed to `render`.
    fn render<T>(
        &self,
        only: Option<&str>,
        render: impl FnOnce(&Document<'_>) -> serde_json::Result<T>,
    ) -> Result<T, String> {
        let daemon = lock(&self.daemon).clone();
        let rules: Vec<RuleView> = lock(&self.rules)
            .iter()
            .filter(|r| only.is_none_or(|name| r.name == name))
            .cloned()
            .collect();
        if let (Some(name), true) = (only, rules.is_empty()) {
            return Err(format!("no rule \"{name}\" is running"));
        }
        let document = Document {
            version: env!("CARGO_PKG_VERSION"),
            pid: std::process::id(),
            started: daemon.started.to_string(),
            rules_file: &daemon.rules_file,
            loaded: daemon.loaded.to_string(),
            last_reload: daemon
                .last_reload
                .as_ref()
                .map(|(at, error)| ReloadDocument {
                    at: at.to_string(),
                    result: if error.is_some() { "refused" } else { "ok" },
                    error: error.as_deref(),
                }),
            reloads: daemon.reloads,
            queue_directory: &daemon.queue_directory,
            queue: self.queue.last().as_deref().map(QueueDocument::from),
            rules: rules.iter().map(rule_document).collect(),
        };
        render(&document).map_err(|e| e.to_string())
    }

    /// Everything, or one rule, as the `status --json` document's text.
    pub(crate) fn json_text(&self, only: Option<&str>) -> Result<String, String> {
        self.render(only, |document| serde_json::to_string(document))
    }

    /// The whole `status --json` document, for the table.
    pub(crate) fn json(&self) -> Result<Value, String> {
        self.render(None, |document| serde_json::to_value(document))
    }

    /// The one-line summary's numbers.
    pub(crate) fn summary(&self) -> Summary {
        let rules = lock(&self.rules).clone();
        let mut summary = Summary {
            rules: rules.len(),
            ..Summary::default()
        };
        for rule in &rules {
            let Some(pending) = &rule.pending else {
                continue;
            };
            let record = pending.stats().snapshot();
            let answers: u64 = record.answers.by_status().iter().map(|(_, n)| n).sum();
            summary.kicks += record.delivered + record.failed + answers;
            if record.consecutive_failures > 0 {
                summary.failing.push(rule.name.clone());
            }
        }
        summary
    }
}
