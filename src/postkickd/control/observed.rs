//! What the running daemon shows about itself.
//!
//! [`Observed`] is the daemon's view of itself (version, pid, rules file,
//! last reload, queue directory, the last reading of the queue's size) and
//! of every rule (its trigger, target, and the record in `stats`). It
//! builds the protocol's [`StatusDocument`], which the control socket
//! sends, `SIGUSR1` and clients render as a table, and hands the records
//! to the metrics renderer. It reads; it never changes a rule.

use std::sync::{Arc, Mutex};

use jiff::Timestamp;

use super::health::HealthGauge;
use super::protocol::{
    KickDocument, LinkDocument, QueueCountDocument, QueueDocument, ReloadDocument, ReloadResult,
    Reloads, RuleDocument, StatusDocument, TriggerDocument,
};
use super::queue::{QueueGauge, Snapshot};
use crate::postfix::showq::QUEUES;
use crate::postkickd::engine::live::Live;
use crate::postkickd::engine::stats::{LastKick, Record};
use crate::postkickd::lock::lock;

/// One rule as `status` shows it.
#[derive(Debug, Clone)]
pub(crate) struct RuleView {
    pub name: String,
    pub trigger: &'static str,
    pub enabled: bool,
    pub target: String,
    /// A flush rule: its kicks are answered (ok, bad, deny, fail).
    pub answered: bool,
    /// `expect_success_within`, if the rule declares it.
    pub expect_success_within: Option<std::time::Duration>,
    /// The running rule's flag and record; `None` for a disabled rule.
    pub live: Option<Arc<Live>>,
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

/// What the running daemon knows of itself.
#[derive(Debug)]
pub(crate) struct Observed {
    daemon: Mutex<DaemonView>,
    rules: Mutex<Vec<RuleView>>,
    /// The queue's size, read from showq when asked.
    pub queue: QueueGauge,
    /// The health of Postfix's path, judged when asked.
    pub health: HealthGauge,
}

impl From<&crate::postfix::health::Link> for LinkDocument {
    fn from(link: &crate::postfix::health::Link) -> Self {
        LinkDocument {
            name: link.name.clone(),
            state: link.state.as_str().to_owned(),
            cause: link.cause.clone(),
            fix: link.fix.clone(),
        }
    }
}

impl From<LastKick> for KickDocument {
    fn from(kick: LastKick) -> Self {
        KickDocument {
            at: kick.at,
            outcome: kick.outcome,
            attempts: kick.attempts,
            duration_ms: kick.duration.as_secs_f64() * 1e3,
            error: kick.error,
        }
    }
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
                        name: (*name).to_owned(),
                        messages: count.messages,
                        oldest_age_seconds: count.oldest.map(|t| (now - t).max(0)),
                    })
                    .collect(),
            ),
            Err(error) => (false, Some(error.clone()), None, Vec::new()),
        };
        QueueDocument {
            read_at: snapshot.at,
            read_ms: snapshot.took.as_secs_f64() * 1e3,
            complete,
            error,
            messages,
            queues,
        }
    }
}

fn rule_document(view: &RuleView) -> RuleDocument {
    let record = view
        .live
        .as_ref()
        .map(|p| p.stats().snapshot())
        .unwrap_or_default();
    RuleDocument {
        name: view.name.clone(),
        trigger: view.trigger.to_owned(),
        enabled: view.enabled,
        target: view.target.clone(),
        last_trigger: record
            .last_trigger
            .map(|(at, cause)| TriggerDocument { at, cause }),
        last_kick: record.last_kick.map(KickDocument::from),
        counters: record.counters,
        in_flight: record.in_flight,
        pending: view.live.as_ref().is_some_and(|l| l.pending().is_raised()),
        next: record.next_fire,
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
    pub(crate) fn new(
        daemon: DaemonView,
        rules: Vec<RuleView>,
        queue: QueueGauge,
        health: HealthGauge,
    ) -> Observed {
        Observed {
            daemon: Mutex::new(daemon),
            rules: Mutex::new(rules),
            queue,
            health,
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

    /// Everything, or one rule, as the `status --json` document.
    pub(crate) fn document(&self, only: Option<&str>) -> Result<StatusDocument, String> {
        let daemon = lock(&self.daemon).clone();
        let rules: Vec<RuleDocument> = lock(&self.rules)
            .iter()
            .filter(|r| only.is_none_or(|name| r.name == name))
            .map(rule_document)
            .collect();
        if let (Some(name), true) = (only, rules.is_empty()) {
            return Err(format!("no rule \"{name}\" is running"));
        }
        Ok(StatusDocument {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            started: daemon.started,
            rules_file: daemon.rules_file,
            loaded: daemon.loaded,
            last_reload: daemon.last_reload.map(|(at, error)| ReloadDocument {
                at,
                result: if error.is_some() {
                    ReloadResult::Refused
                } else {
                    ReloadResult::Ok
                },
                error,
            }),
            reloads: daemon.reloads,
            queue_directory: daemon.queue_directory,
            queue: self.queue.last().as_deref().map(QueueDocument::from),
            health: self
                .health
                .last()
                .map(|links| links.iter().map(LinkDocument::from).collect())
                .unwrap_or_default(),
            rules,
        })
    }

    /// The rules' names with their records, for the metrics.
    pub(crate) fn records(&self) -> Vec<(String, Record)> {
        lock(&self.rules)
            .iter()
            .filter_map(|r| Some((r.name.clone(), r.live.as_ref()?.stats().snapshot())))
            .collect()
    }

    /// The names of the running rules whose kicks are answered (flush).
    pub(crate) fn answered(&self) -> std::collections::HashSet<String> {
        lock(&self.rules)
            .iter()
            .filter(|r| r.answered && r.live.is_some())
            .map(|r| r.name.clone())
            .collect()
    }

    /// The running rules that declare how often they must succeed.
    pub(crate) fn expectations(&self) -> Vec<(String, std::time::Duration)> {
        lock(&self.rules)
            .iter()
            .filter(|r| r.live.is_some())
            .filter_map(|r| Some((r.name.clone(), r.expect_success_within?)))
            .collect()
    }

    /// When the daemon started.
    pub(crate) fn started(&self) -> Timestamp {
        lock(&self.daemon).started
    }

    /// Reloads taken and refused.
    pub(crate) fn reloads(&self) -> Reloads {
        lock(&self.daemon).reloads
    }

    /// The last reload was refused: the previous rules run on.
    pub(crate) fn last_reload_refused(&self) -> bool {
        lock(&self.daemon)
            .last_reload
            .as_ref()
            .is_some_and(|(_, error)| error.is_some())
    }

    /// The one-line summary's numbers.
    pub(crate) fn summary(&self) -> Summary {
        let mut summary = Summary {
            rules: lock(&self.rules).len(),
            ..Summary::default()
        };
        for (name, record) in self.records() {
            summary.kicks += record.counters.ended();
            if record.counters.failing() {
                summary.failing.push(name);
            }
        }
        summary
    }
}
