//! What each rule did: counters, its last trigger and kick, its state.
//!
//! The kicker and the rule's sources record here; `status`, the metrics,
//! `SIGUSR1` and systemd's `STATUS=` read it. A rule's record belongs to
//! its name and lives as long as the name is in the rules file, reloads
//! included. It holds numbers, times and short texts, never file contents.

use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::postfix::flush::FlushStatus;
use crate::postkickd::lock::lock;

/// Upper bounds, in seconds, of the kick-duration histogram's buckets:
/// fine below a second where kicks live, then the default timeout (10 s)
/// and up to the longest timeout a rule may have (an hour).
pub(crate) const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5, 10.0, 60.0, 300.0, 3600.0,
];

/// How a kick ended: one vocabulary for the log, `status`, `kick RULE`
/// and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Outcome {
    /// The endpoint took the request.
    Delivered,
    /// A flush service answered ok.
    Ok,
    /// A flush service found the request malformed.
    Bad,
    /// A flush service refused the site (`fast_flush_domains`).
    Deny,
    /// A flush service failed (or answered a number no Postfix sends).
    Fail,
    /// Every attempt failed to get through.
    Failed,
    /// `--dry-run`: nothing was sent.
    DryRun,
}

impl Outcome {
    /// A flush service's answer.
    pub(crate) fn answered(status: FlushStatus) -> Self {
        match status {
            FlushStatus::Ok => Self::Ok,
            FlushStatus::Bad => Self::Bad,
            FlushStatus::Deny => Self::Deny,
            FlushStatus::Fail | FlushStatus::Other(_) => Self::Fail,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Ok => "ok",
            Self::Bad => "bad",
            Self::Deny => "deny",
            Self::Fail => "fail",
            Self::Failed => "failed",
            Self::DryRun => "dry-run",
        }
    }

    /// The rule did what it is for (or, dry, would have tried): what the
    /// daemon counts as success and what `postkickd kick` exits 0 on.
    pub(crate) fn succeeded(self) -> bool {
        matches!(self, Self::Delivered | Self::Ok | Self::DryRun)
    }

    /// A flush service's answer, not a transport's.
    pub(crate) fn is_answer(self) -> bool {
        matches!(self, Self::Ok | Self::Bad | Self::Deny | Self::Fail)
    }
}

/// A flush rule's answers from the service, by status.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct Answers {
    pub ok: u64,
    pub bad: u64,
    pub deny: u64,
    /// `fail`, and any number no Postfix release sends.
    pub fail: u64,
}

impl Answers {
    /// Each status with its count, as the metrics label them.
    pub(crate) fn by_status(&self) -> [(&'static str, u64); 4] {
        [
            ("ok", self.ok),
            ("bad", self.bad),
            ("deny", self.deny),
            ("fail", self.fail),
        ]
    }
}

/// The last kick of a rule.
#[derive(Debug, Clone)]
pub(crate) struct LastKick {
    /// When it started.
    pub at: Timestamp,
    /// How it ended.
    pub outcome: Outcome,
    /// Attempts it took.
    pub attempts: u32,
    /// Start to end, retries included.
    pub duration: Duration,
    /// The last attempt's error, if it failed.
    pub error: Option<String>,
}

/// A rule's record.
#[derive(Debug, Clone, Default)]
pub(crate) struct Record {
    /// The last trigger: when, and what (a file, a slot, an interval).
    pub last_trigger: Option<(Timestamp, String)>,
    /// The last kick.
    pub last_kick: Option<LastKick>,
    /// What its kicks came to.
    pub counters: Counters,
    /// A kick is being sent.
    pub in_flight: bool,
    /// Counts of kick durations per [`DURATION_BUCKETS`] bound (and above).
    pub durations: [u64; DURATION_BUCKETS.len() + 1],
    /// The sum of kick durations, in seconds.
    pub duration_sum: f64,
    /// When the last delivered kick started.
    pub last_success: Option<Timestamp>,
    /// When a timer rule fires next, as the running daemon will fire it.
    pub next_fire: Option<Timestamp>,
    /// For a rule with `drain_within`: the files that have waited longer.
    pub waiting_past_drain: Option<usize>,
}

/// What a rule's kicks came to, counted: kept in its record, and sent as
/// they are (flattened) in its status document.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct Counters {
    /// Failed kicks since the last delivered one.
    pub consecutive_failures: u64,
    /// Kicks delivered.
    pub delivered: u64,
    /// Kicks failed after all their attempts.
    pub failed: u64,
    /// A flush rule's answers.
    pub answers: Answers,
    /// Attempts retried.
    pub retried: u64,
    /// Triggers that came while a kick was pending and folded into it.
    pub folded: u64,
}

impl Counters {
    /// The last kick failed, and none has succeeded since: what `status`,
    /// its exit, the metrics and systemd's status line call failing.
    pub(crate) fn failing(&self) -> bool {
        self.consecutive_failures > 0
    }

    /// Kicks that did what the rule is for: delivered, or answered ok.
    pub(crate) fn done(&self) -> u64 {
        self.delivered + self.answers.ok
    }

    /// Kicks that ended, whatever their outcome (dry runs aside).
    pub(crate) fn ended(&self) -> u64 {
        let answers: u64 = self.answers.by_status().iter().map(|(_, n)| n).sum();
        self.delivered + self.failed + answers
    }
}

/// A rule's record, shared by its kicker, its sources and the readers.
#[derive(Debug)]
pub(crate) struct RuleStats {
    record: Mutex<Record>,
    /// The number (see `Pending::take`) of the last kick that ended, for
    /// a `kick RULE` request waiting for its kick.
    ended: tokio::sync::watch::Sender<u64>,
}

impl Default for RuleStats {
    fn default() -> Self {
        Self {
            record: Mutex::new(Record::default()),
            ended: tokio::sync::watch::Sender::new(0),
        }
    }
}

impl RuleStats {
    fn with<T>(&self, f: impl FnOnce(&mut Record) -> T) -> T {
        f(&mut lock(&self.record))
    }

    /// The number of the last kick that ended, from now on.
    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.ended.subscribe()
    }

    /// The next fire time, as a timer has computed it.
    pub(crate) fn next_fire(&self, at: Option<Timestamp>) {
        self.with(|r| r.next_fire = at);
    }

    /// `files` have waited past the rule's `drain_within`.
    pub(crate) fn waiting_past_drain(&self, files: usize) {
        self.with(|r| r.waiting_past_drain = Some(files));
    }

    /// What raised the last trigger; empty before the first.
    pub(crate) fn last_cause(&self) -> String {
        self.with(|r| {
            r.last_trigger
                .as_ref()
                .map(|(_, cause)| cause.clone())
                .unwrap_or_default()
        })
    }

    /// A copy of the record.
    pub(crate) fn snapshot(&self) -> Record {
        self.with(|r| r.clone())
    }

    /// A trigger came; `folded` when a kick was already pending.
    pub(crate) fn triggered(&self, cause: String, folded: bool) {
        self.with(|r| {
            r.last_trigger = Some((Timestamp::now(), cause));
            if folded {
                r.counters.folded += 1;
            }
        });
    }

    /// A kick starts.
    pub(crate) fn started(&self) {
        self.with(|r| r.in_flight = true);
    }

    /// A kick was abandoned: the daemon is stopping.
    pub(crate) fn abandoned(&self) {
        self.with(|r| r.in_flight = false);
    }

    /// An attempt failed and will be retried.
    pub(crate) fn retrying(&self) {
        self.with(|r| r.counters.retried += 1);
    }

    /// The kick numbered `number` ended.
    pub(crate) fn ended(&self, number: u64, kick: LastKick) {
        self.with(|r| {
            r.in_flight = false;
            let seconds = kick.duration.as_secs_f64();
            let bucket = DURATION_BUCKETS
                .iter()
                .position(|bound| seconds <= *bound)
                .unwrap_or(DURATION_BUCKETS.len());
            r.durations[bucket] += 1;
            r.duration_sum += seconds;
            let counters = &mut r.counters;
            match kick.outcome {
                Outcome::Delivered => counters.delivered += 1,
                Outcome::Ok => counters.answers.ok += 1,
                Outcome::Bad => counters.answers.bad += 1,
                Outcome::Deny => counters.answers.deny += 1,
                Outcome::Fail => counters.answers.fail += 1,
                Outcome::Failed => counters.failed += 1,
                Outcome::DryRun => {}
            }
            match kick.outcome {
                Outcome::DryRun => {}
                outcome if outcome.succeeded() => {
                    r.counters.consecutive_failures = 0;
                    r.last_success = Some(kick.at);
                }
                _ => r.counters.consecutive_failures += 1,
            }
            r.last_kick = Some(kick);
        });
        self.ended.send_replace(number);
    }
}
