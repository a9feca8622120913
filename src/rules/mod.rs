//! The rules file: YAML that pairs triggers (cron, every, watch) with kicks.
//!
//! This module owns the file's contract and turns its text into validated,
//! typed rules ([`RuleSet`]): parsed cron expressions, bounded durations,
//! checked class and service names. Downstream code never re-checks. The
//! file is trusted no further than its syntax: a rules file can be written
//! by an administrator who made ten mistakes, and every one of them is
//! reported with `FILE:LINE:COLUMN` in one run (only broken YAML syntax
//! stops at the first). It reads no other file and touches no endpoint:
//! what the rules mean for a given Postfix (absolute directories, endpoint
//! paths, whether those exist) is resolved by the daemon's plan.
//!
//! The parts: this file is the model; `yaml` reads the text once into
//! nodes that carry their `LINE:COLUMN` (bounded in depth and size),
//! `validate` walks them (its `trigger` is the table of trigger kinds with
//! their keys and readers), `error` words every mistake, `duration` and
//! `schedule` read durations and cron expressions.

mod duration;
mod error;
pub mod schedule;
mod validate;

pub(crate) use validate::closest;
mod yaml;

pub(crate) use duration::display as display_duration;
pub(crate) use error::location;
pub use error::{Expected, RuleError, RuleErrorKind, RuleLabel, RulesError};
pub(crate) use validate::trigger::kind_names;
pub use yaml::Position;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schedule::Cron;

/// The rules file the daemon reads when none is named.
pub const DEFAULT_RULES_PATH: &str = "/etc/postkick/rules.yaml";
/// Larger rules files are refused before parsing.
pub(crate) const MAX_FILE_BYTES: u64 = 1 << 20;
/// A file's mistakes are reported up to this many (the first, in file
/// order), then counted: a file with a mistake on every line must not cost
/// memory and screens in proportion.
pub(crate) const MAX_REPORTED: usize = 1000;
/// Postfix's trigger servers read at most this many bytes of a request.
pub(crate) const MAX_REQUEST_BYTES: usize = 1024;

/// What a rule sends, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `public` or `private` (any directory below the queue directory).
    pub class: String,
    /// The service's endpoint name.
    pub service: String,
    /// The request bytes.
    pub request: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} {:?}", self.class, self.service, self.request)
    }
}

/// A request to Postfix's fast-flush machinery, as `postqueue` makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flush {
    /// Deliver the mail queued for a destination (`postqueue -s`).
    Site(String),
    /// Deliver one message (`postqueue -i`).
    QueueId(String),
    /// Deliver everything now (`postqueue -f`: qmgr `FADI`, pickup `W`).
    All,
    /// Refresh the flush service's per-destination logs.
    Refresh,
    /// Refresh all of them now.
    Purge,
}

/// What a rule does when it fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A raw kick (`kick:`).
    Kick(Target),
    /// A flush (`flush:`), whose outcome is the service's answer.
    Flush(Flush),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Kick(target) => target.fmt(f),
            Self::Flush(Flush::Site(site)) => write!(f, "flush site {site}"),
            Self::Flush(Flush::QueueId(id)) => write!(f, "flush queue_id {id}"),
            Self::Flush(Flush::All) => f.write_str("flush all"),
            Self::Flush(Flush::Refresh) => f.write_str("flush refresh"),
            Self::Flush(Flush::Purge) => f.write_str("flush purge"),
        }
    }
}

/// Retries of a failed kick: `attempts` in all, waiting `backoff`, then
/// twice that, and so on, never more than `max_backoff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (1: no retry).
    pub attempts: u32,
    /// The first wait.
    pub backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 1,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

impl Retry {
    /// The wait before attempt number `attempt` (2 for the first retry).
    pub fn delay_before(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(2).min(31);
        self.backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

/// What makes a rule fire.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// A cron expression.
    Cron {
        /// The expression as the file writes it, for messages and `status`.
        expression: String,
        /// Parsed, with its zone.
        schedule: Cron,
        /// A random delay of up to this much after each fire time.
        jitter: Duration,
        /// Fire once at start when a slot passed while the daemon was down.
        catch_up: bool,
    },
    /// A fixed interval from the daemon's start.
    Every {
        /// The interval.
        period: Duration,
        /// A random delay of up to this much after each fire time.
        jitter: Duration,
    },
    /// Files arriving in a directory.
    Watch {
        /// The directory as the file names it; a relative one is below the
        /// queue directory.
        directory: PathBuf,
        /// Only file names matching this glob count.
        pattern: Option<glob::Pattern>,
        /// The least time between the starts of two kicks (0: none; the
        /// default, since events during a kick already fold into one).
        debounce: Duration,
        /// Also scan the directory this often, for file systems where
        /// inotify is blind.
        poll: Option<Duration>,
        /// When a file counts as arrived; `None`: the default for the
        /// directory, which the daemon's plan decides.
        ready: Option<Readiness>,
        /// How long a ready file may wait before the daemon warns and kicks
        /// again (0: never); `None`: the default for the directory.
        drain_within: Option<Duration>,
    },
}

/// When a file in a watched directory counts as arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// On any arrival event (written and closed, renamed in, new mode).
    Any,
    /// Only once its owner-execute bit is set: how postdrop marks a
    /// finished maildrop file, which pickup skips until then.
    Executable,
}

impl Trigger {
    /// `cron`, `every` or `watch`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Cron { .. } => "cron",
            Self::Every { .. } => "every",
            Self::Watch { .. } => "watch",
        }
    }
}

/// One validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Unique in its file.
    pub name: String,
    /// What fires it.
    pub trigger: Trigger,
    /// What it does.
    pub action: Action,
    /// The longest a kick may take, waits for the server included.
    pub timeout: Duration,
    /// What to do when a kick fails.
    pub retry: Retry,
    /// A disabled rule is checked but never runs.
    pub enabled: bool,
    /// Fire once when the daemon starts.
    pub on_start: bool,
    /// Log delivered kicks at debug level only (failures and state
    /// changes stay visible): for busy rules.
    pub quiet: bool,
    /// How often the rule must succeed at least: exported for the shipped
    /// alert (a dead man's switch), if declared.
    pub expect_success_within: Option<Duration>,
    /// Whom to mail when the rule starts failing or its directory stops
    /// draining, and when it recovers (`notify:`, or the defaults').
    pub notify: Option<String>,
    /// Where the rule starts in its file.
    pub position: Option<Position>,
    /// Where its parts are written, for findings about them.
    pub places: Places,
}

/// Where a rule's trigger and action are written: findings about them
/// point there, not at the rule's first line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Places {
    /// The trigger's value (`cron:`, `every:` or `watch:`).
    pub trigger: Option<Position>,
    /// The action's value (`kick:`), or the flush's site or queue ID.
    pub action: Option<Position>,
}

/// A validated rules file.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// `postfix.config_directory`, if given.
    pub config_directory: Option<PathBuf>,
    /// Where the file gives it.
    pub config_directory_position: Option<Position>,
    /// `metrics_file`: where to write the metrics for node_exporter's
    /// textfile collector, if anywhere.
    pub metrics_file: Option<PathBuf>,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
}

/// How many of `rules` each trigger kind has: `3 cron, 1 every, 2 watch`.
pub(crate) fn count_by_kind<'r>(rules: impl Iterator<Item = &'r Rule>) -> String {
    let kinds: Vec<&str> = rules.map(|r| r.trigger.kind()).collect();
    kind_names()
        .map(|name| format!("{} {name}", kinds.iter().filter(|k| **k == name).count()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads and validates a rules file. Only a regular file is read (a FIFO
/// or a device would hang or never end), and never more than
/// `MAX_FILE_BYTES` of it, whatever its kind.
pub fn load(path: &Path) -> Result<RuleSet, RulesError> {
    let (rules, mistakes) = load_all(path)?;
    if mistakes.errors.is_empty() {
        Ok(rules)
    } else {
        Err(mistakes.into_error(path))
    }
}

/// A file's mistakes: the first [`MAX_REPORTED`] in file order, and how
/// many more there are.
#[derive(Debug, Default)]
pub(crate) struct Mistakes {
    pub(crate) errors: Vec<RuleError>,
    pub(crate) more: usize,
}

impl Mistakes {
    /// The error that refuses the file at `path`.
    pub(crate) fn into_error(self, path: &Path) -> RulesError {
        RulesError::Invalid {
            path: path.display().to_string(),
            errors: self.errors,
            more: self.more,
        }
    }
}

/// Like [`load`], but with the valid rules of an invalid file beside its
/// mistakes, for `check` to say everything it can in one run.
pub(crate) fn load_all(path: &Path) -> Result<(RuleSet, Mistakes), RulesError> {
    let shown = path.display().to_string();
    let read_error = |reason: String| RulesError::Read {
        path: shown.clone(),
        reason,
    };
    let io_error = |e: std::io::Error| {
        let mut reason = crate::sys::io_error_text(&e);
        if e.kind() == std::io::ErrorKind::PermissionDenied {
            reason.push_str(&format!(
                " (reading as user {}): the daemon reads it as User= of its unit (postfix); make it readable, e.g. chmod 644",
                crate::sys::user_name()
            ));
        }
        read_error(reason)
    };
    use crate::files::{read_bounded, Links, ReadError};
    let bytes = read_bounded(path, MAX_FILE_BYTES, Links::Follow).map_err(|e| match e {
        ReadError::Io(e) => io_error(e),
        ReadError::Directory => read_error("it is a directory; name the YAML file".into()),
        ReadError::NotRegular => read_error(
            "it is not a regular file (a FIFO, socket or device): name the YAML file".into(),
        ),
        ReadError::TooLarge { .. } => read_error(format!(
            "{} bytes or more is more than the {MAX_FILE_BYTES} a rules file may have",
            MAX_FILE_BYTES + 1
        )),
    })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| read_error("stream did not contain valid UTF-8".into()))?;
    Ok(parse_all(&text))
}

/// Validates the text of a rules file; on failure, the errors found (the
/// first thousand of them).
pub fn parse(text: &str) -> Result<RuleSet, Vec<RuleError>> {
    let (rules, mistakes) = parse_all(text);
    if mistakes.errors.is_empty() {
        Ok(rules)
    } else {
        Err(mistakes.errors)
    }
}

/// The valid rules of `text`, and its mistakes, in file order.
fn parse_all(text: &str) -> (RuleSet, Mistakes) {
    let document = match yaml::parse(text) {
        Ok(document) => document,
        Err(syntax) => {
            let nothing = RuleSet {
                config_directory: None,
                config_directory_position: None,
                metrics_file: None,
                rules: Vec::new(),
            };
            let error = RuleError {
                position: Some(syntax.position),
                kind: RuleErrorKind::YamlSyntax(syntax.message),
            };
            let mistakes = Mistakes {
                errors: vec![error],
                more: 0,
            };
            return (nothing, mistakes);
        }
    };
    let mut validator = validate::Validator::new(schedule::Zones::from_environment());
    let rule_set = validator.document(document.root.as_ref());
    let found = validator.found + document.duplicates.len();
    let mut errors = validator.errors;
    errors.extend(
        document
            .duplicates
            .into_iter()
            .take(MAX_REPORTED)
            .map(|(key, position)| RuleError {
                position: Some(position),
                kind: RuleErrorKind::DuplicateKey { key },
            }),
    );
    errors.sort_by_key(|d| d.position);
    errors.truncate(MAX_REPORTED);
    let more = found - errors.len();
    (rule_set, Mistakes { errors, more })
}

#[cfg(test)]
mod tests;
