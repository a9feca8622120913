//! What can be wrong with a rules file: where, and which mistake.
//!
//! A [`RuleError`] is a position and a [`RuleErrorKind`]; the kind's one
//! `Display` is the only place a mistake is worded, so tests match kinds
//! and the wording can change in one place. [`RulesError`] is a whole
//! file's failure, rendered the same way wherever it is shown: by `check`,
//! by `run` at start-up and by a refused reload.

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use super::duration;
use super::schedule::CronError;
use super::yaml::Position;
use super::MAX_REQUEST_BYTES;

/// `FILE:LINE:COLUMN` (or `FILE` without a position).
pub(crate) fn location(file: &str, position: Option<Position>) -> String {
    match position {
        Some(p) => format!("{file}:{}:{}", p.line, p.column),
        None => file.to_owned(),
    }
}

/// One mistake in a rules file, at a position when one is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// Where in the file.
    pub position: Option<Position>,
    /// What is wrong.
    pub kind: RuleErrorKind,
}

impl RuleError {
    /// `FILE:LINE:COLUMN: message` (or `FILE: message` without a position).
    pub fn render(&self, file: &str) -> String {
        format!("{}: {}", location(file, self.position), self.kind)
    }
}

/// A rule as a message names it: `rule "name"`, or `rule` before its name
/// is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleLabel(pub Option<String>);

impl fmt::Display for RuleLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(name) => write!(f, "rule \"{name}\""),
            None => f.write_str("rule"),
        }
    }
}

/// What a value should have been.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// A YAML mapping.
    Mapping,
    /// A YAML list.
    List,
    /// A string.
    String,
    /// `true` or `false`.
    Boolean,
    /// A duration such as `30s`.
    Duration,
    /// A kick: three words or a mapping.
    Kick,
    /// A flush: a word or a mapping.
    Flush,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Mapping => "a mapping",
            Self::List => "a list",
            Self::String => "a string",
            Self::Boolean => "true or false",
            Self::Duration => "a duration",
            Self::Kick => "\"class service request\" or a mapping",
            Self::Flush => "all, refresh, purge, {site: DOMAIN} or {queue_id: ID}",
        })
    }
}

/// Which mistake, with what the user wrote. Each variant's message says
/// what its fields are: the key or section (`what`), the text as written
/// (`text`, `name`, `key`), what was allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[allow(missing_docs)]
pub enum RuleErrorKind {
    /// The YAML itself does not parse; nothing else is checked.
    #[error("YAML syntax: {0}")]
    YamlSyntax(String),
    /// The file holds nothing.
    #[error("the rules file is empty: add a \"rules:\" list")]
    EmptyFile,
    /// A key written twice in one mapping.
    #[error("\"{key}\" is written twice in the same mapping: keep one")]
    DuplicateKey { key: String },
    /// The file has no `rules:` key.
    #[error("no \"rules:\" list: add one with at least one rule")]
    NoRulesList,
    /// The file is a list: the rules without their `rules:` key.
    #[error("the rules file must be a mapping, not a list: put the rules under a \"rules:\" key (rules:, then the list indented below it)")]
    ListAtTop,
    /// A value of the wrong type.
    #[error("{what} must be {expected}, not {found}")]
    WrongType {
        what: String,
        expected: Expected,
        found: &'static str,
    },
    /// A mapping key that is not a string.
    #[error("{what} has a key that is {found}, not a name")]
    KeyNotAName { what: String, found: &'static str },
    /// A key the section does not have.
    #[error("unknown key \"{key}\" in {what}{} (expected one of: {})", did_you_mean(*.suggestion), .expected.join(", "))]
    UnknownKey {
        key: String,
        what: String,
        suggestion: Option<&'static str>,
        expected: Vec<&'static str>,
    },
    /// A duration that does not parse.
    #[error("bad duration \"{text}\" for {what}: {}", duration::SYNTAX_HINT)]
    BadDuration { what: String, text: String },
    /// A duration outside what its key allows.
    #[error("{what} {text} is out of range: use {} to {}", duration::display(*.range.start()), duration::display(*.range.end()))]
    DurationOutOfRange {
        what: String,
        text: String,
        range: RangeInclusive<Duration>,
    },
    /// `retry.attempts` outside 1..=100.
    #[error("retry attempts must be a whole number from 1 to 100")]
    RetryAttempts,
    /// `retry.max_backoff` shorter than `retry.backoff`.
    #[error("retry max_backoff must not be shorter than backoff")]
    BackoffOrder,
    /// A class or service that does not name one file below the queue.
    #[error("{what} \"{}\" {why}: it names a file below the queue directory", .text.escape_debug())]
    BadNamePart {
        what: &'static str,
        text: String,
        why: &'static str,
    },
    /// A kick string that is not three words.
    #[error("kick \"{text}\" must be \"class service request\" (three words, e.g. \"public qmgr I\"); for an empty or spaced request use {{class: ..., service: ..., request: ...}}")]
    KickWords { text: String },
    /// A kick mapping without class, service or request.
    #[error("kick needs class, service and request (request may be \"\")")]
    KickIncomplete,
    /// A request longer than a trigger server reads.
    #[error(
        "request is {bytes} bytes; Postfix's trigger servers read at most {MAX_REQUEST_BYTES}"
    )]
    RequestTooLong { bytes: usize },
    /// A rule name used before.
    #[error("duplicate rule name \"{name}\"{}: names must be unique", .first_line.map_or(String::new(), |line| format!(" (first used at line {line})")))]
    DuplicateName {
        name: String,
        first_line: Option<usize>,
    },
    /// A rule without `name:`.
    #[error("rule has no name: add \"name: ...\"")]
    NoName,
    /// A rule name with characters other than letters, digits, `.`, `_`, `-`.
    #[error("name \"{}\" may use only letters, digits, '.', '_' and '-'", .name.escape_debug())]
    BadName { name: String },
    /// A rule without any trigger key.
    #[error("{rule} has no trigger: add one of {}", one_of(.kinds))]
    NoTrigger {
        rule: RuleLabel,
        kinds: Vec<&'static str>,
    },
    /// A rule with more than one trigger key.
    #[error("{rule} has {} triggers ({}): keep exactly one", .kinds.len(), .kinds.join(", "))]
    ManyTriggers {
        rule: RuleLabel,
        kinds: Vec<&'static str>,
    },
    /// A key that belongs to other trigger kinds.
    #[error("{key} applies only to {} rules, and {rule} is {} {kind} rule", .owners.join(" and "), article(.kind))]
    KeyNotForKind {
        key: String,
        owners: Vec<&'static str>,
        rule: RuleLabel,
        kind: &'static str,
    },
    /// A time zone the system does not know.
    #[error(
        "unknown time zone \"{name}\"{}: use an IANA name such as Europe/Paris or America/New_York", did_you_mean(.suggestion.as_deref())
    )]
    UnknownZone {
        name: String,
        suggestion: Option<String>,
    },
    /// A cron expression that does not parse, or never fires.
    #[error("bad cron expression \"{expression}\": {cron}", expression = .0.expression, cron = .0)]
    BadCron(CronError),
    /// `watch: ""`.
    #[error("watch must name a directory")]
    EmptyWatch,
    /// A glob that does not parse.
    #[error("bad pattern \"{pattern}\": {why}")]
    BadPattern { pattern: String, why: String },
    /// `notify:` that is no address.
    #[error("notify \"{}\" must be postmaster or a mail address (user@example.com)", .text.escape_debug())]
    BadNotify { text: String },
    /// `ready:` other than `any` or `executable`.
    #[error("ready \"{text}\" must be \"any\" or \"executable\"")]
    BadReady { text: String },
    /// A `metrics_file` that is not an absolute `.prom` path.
    #[error("metrics_file \"{file}\" must be an absolute path ending in .prom (node_exporter's textfile collector reads *.prom), e.g. /var/lib/prometheus/node-exporter/postkickd.prom")]
    MetricsFile { file: String },
    /// A rule with neither `kick:` nor `flush:`.
    #[error("{rule} has no action: add a kick (e.g. \"kick: public qmgr I\") or a flush (e.g. \"flush: {{site: example.com}}\")")]
    NoAction { rule: RuleLabel },
    /// A rule with both `kick` and `flush`.
    #[error("{rule} has both kick and flush: a rule does one thing; split it into two rules")]
    TwoActions { rule: RuleLabel },
    /// `flush:` a word that is not one of its requests.
    #[error("flush \"{}\" is not a flush request: write all (as postqueue -f), refresh, purge, {{site: DOMAIN}} (as postqueue -s) or {{queue_id: ID}} (as postqueue -i)", .text.escape_debug())]
    FlushWord { text: String },
    /// `flush:` a mapping without exactly one of `site` and `queue_id`.
    #[error("flush needs exactly one of site (a destination domain) and queue_id (a message)")]
    FlushMapping,
    /// A site that cannot be a destination domain.
    #[error("flush site \"{}\" is not a domain name: write the destination domain, e.g. example.com (at most 255 characters, no spaces)", .text.escape_debug())]
    FlushSite { text: String },
    /// A queue ID that the flush service would answer `bad` to.
    #[error("flush queue_id \"{}\" is not a queue ID (letters, digits and _, at most 255): copy it from mailq or postqueue -p", .text.escape_debug())]
    FlushQueueId { text: String },
}

/// ` : did you mean "X"?`, or nothing.
fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or(String::new(), |meant| {
        format!(": did you mean \"{meant}\"?")
    })
}

/// `a, b or c`.
fn one_of(kinds: &[&str]) -> String {
    match kinds.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, first)) => format!("{} or {last}", first.join(", ")),
        None => String::new(),
    }
}

/// `a` or `an`, for a kind's name.
fn article(kind: &str) -> &'static str {
    if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Why a rules file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file could not be read.
    #[error("{path}: cannot read the rules file: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The system's error, or the limit the file is over.
        reason: String,
    },
    /// The file has mistakes: every one, then a count.
    #[error("{}", render_all(path, errors, *more))]
    Invalid {
        /// The file.
        path: String,
        /// The mistakes reported, in file order.
        errors: Vec<RuleError>,
        /// Mistakes found after those, counted only.
        more: usize,
    },
}

fn render_all(path: &str, errors: &[RuleError], more: usize) -> String {
    let total = errors.len() + more;
    let plural = if total == 1 { "" } else { "s" };
    let mut lines: Vec<String> = errors.iter().map(|e| e.render(path)).collect();
    if more > 0 {
        lines.push(format!(
            "{path}: {more} more error{} not shown: fix these first",
            if more == 1 { "" } else { "s" }
        ));
    }
    lines.push(format!("{path}: {total} error{plural}: nothing was loaded"));
    lines.join("\n")
}
