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

/// Which mistake, with what the user wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleErrorKind {
    /// The YAML itself does not parse; nothing else is checked.
    YamlSyntax(String),
    /// The file holds nothing.
    EmptyFile,
    /// A key written twice in one mapping.
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// The file has no `rules:` key.
    NoRulesList,
    /// The file is a list: the rules without their `rules:` key.
    ListAtTop,
    /// A value of the wrong type.
    WrongType {
        /// The key or section, as a message names it.
        what: String,
        /// What it should be.
        expected: Expected,
        /// What it is (`a number`, `a list`, ...).
        found: &'static str,
    },
    /// A mapping key that is not a string.
    KeyNotAName {
        /// The mapping.
        what: String,
        /// What the key is.
        found: &'static str,
    },
    /// A key the section does not have.
    UnknownKey {
        /// The key as written.
        key: String,
        /// The section.
        what: String,
        /// The key it most likely meant.
        suggestion: Option<&'static str>,
        /// The keys it has.
        expected: Vec<&'static str>,
    },
    /// A duration that does not parse.
    BadDuration {
        /// The key.
        what: String,
        /// As written.
        text: String,
    },
    /// A duration outside what its key allows.
    DurationOutOfRange {
        /// The key.
        what: String,
        /// As written.
        text: String,
        /// What the key allows.
        range: RangeInclusive<Duration>,
    },
    /// `retry.attempts` outside 1..=100.
    RetryAttempts,
    /// `retry.max_backoff` shorter than `retry.backoff`.
    BackoffOrder,
    /// A class or service that does not name one file below the queue.
    BadNamePart {
        /// `class` or `service`.
        what: &'static str,
        /// As written.
        text: String,
        /// Why not, as the end of a sentence.
        why: &'static str,
    },
    /// A kick string that is not three words.
    KickWords {
        /// As written.
        text: String,
    },
    /// A kick mapping without class, service or request.
    KickIncomplete,
    /// A request longer than a trigger server reads.
    RequestTooLong {
        /// Its length.
        bytes: usize,
    },
    /// A rule name used before.
    DuplicateName {
        /// The name.
        name: String,
        /// Where it was first used.
        first_line: Option<usize>,
    },
    /// A rule without `name:`.
    NoName,
    /// A rule name with characters other than letters, digits, `.`, `_`, `-`.
    BadName {
        /// As written.
        name: String,
    },
    /// A rule without any trigger key.
    NoTrigger {
        /// The rule.
        rule: RuleLabel,
        /// The trigger kinds there are.
        kinds: Vec<&'static str>,
    },
    /// A rule with more than one trigger key.
    ManyTriggers {
        /// The rule.
        rule: RuleLabel,
        /// The trigger keys it has.
        kinds: Vec<&'static str>,
    },
    /// A key that belongs to other trigger kinds.
    KeyNotForKind {
        /// The key.
        key: String,
        /// The kinds it belongs to.
        owners: Vec<&'static str>,
        /// The rule.
        rule: RuleLabel,
        /// The rule's kind.
        kind: &'static str,
    },
    /// A time zone the system does not know.
    UnknownZone {
        /// As written.
        name: String,
    },
    /// A cron expression that does not parse, or never fires.
    BadCron(CronError),
    /// `watch: ""`.
    EmptyWatch,
    /// A glob that does not parse.
    BadPattern {
        /// As written.
        pattern: String,
        /// The glob parser's complaint.
        why: String,
    },
    /// `ready:` other than `any` or `executable`.
    BadReady {
        /// As written.
        text: String,
    },
    /// A `metrics_file` that is not an absolute `.prom` path.
    MetricsFile {
        /// As written.
        file: String,
    },
    /// A rule with neither `kick:` nor `flush:`.
    NoAction {
        /// The rule.
        rule: RuleLabel,
    },
    /// A rule with both `kick` and `flush`.
    TwoActions {
        /// The rule.
        rule: RuleLabel,
    },
    /// `flush:` a word that is not one of its requests.
    FlushWord {
        /// As written.
        text: String,
    },
    /// `flush:` a mapping without exactly one of `site` and `queue_id`.
    FlushMapping,
    /// A site that cannot be a destination domain.
    FlushSite {
        /// As written.
        text: String,
    },
    /// A queue ID that the flush service would answer `bad` to.
    FlushQueueId {
        /// As written.
        text: String,
    },
}

impl fmt::Display for RuleErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::YamlSyntax(why) => write!(f, "YAML syntax: {why}"),
            Self::EmptyFile => f.write_str("the rules file is empty: add a \"rules:\" list"),
            Self::DuplicateKey { key } => write!(
                f,
                "\"{key}\" is written twice in the same mapping: keep one"
            ),
            Self::NoRulesList => {
                f.write_str("no \"rules:\" list: add one with at least one rule")
            }
            Self::ListAtTop => f.write_str(
                "the rules file must be a mapping, not a list: put the rules under a \"rules:\" key (rules:, then the list indented below it)",
            ),
            Self::WrongType {
                what,
                expected,
                found,
            } => write!(f, "{what} must be {expected}, not {found}"),
            Self::KeyNotAName { what, found } => {
                write!(f, "{what} has a key that is {found}, not a name")
            }
            Self::UnknownKey {
                key,
                what,
                suggestion,
                expected,
            } => match suggestion {
                Some(meant) => write!(
                    f,
                    "unknown key \"{key}\" in {what}: did you mean \"{meant}\"? (expected one of: {})",
                    expected.join(", ")
                ),
                None => write!(
                    f,
                    "unknown key \"{key}\" in {what} (expected one of: {})",
                    expected.join(", ")
                ),
            },
            Self::BadDuration { what, text } => write!(
                f,
                "bad duration \"{text}\" for {what}: {}",
                duration::SYNTAX_HINT
            ),
            Self::DurationOutOfRange { what, text, range } => write!(
                f,
                "{what} {text} is out of range: use {} to {}",
                duration::display(*range.start()),
                duration::display(*range.end())
            ),
            Self::RetryAttempts => {
                f.write_str("retry attempts must be a whole number from 1 to 100")
            }
            Self::BackoffOrder => {
                f.write_str("retry max_backoff must not be shorter than backoff")
            }
            Self::BadNamePart { what, text, why } => write!(
                f,
                "{what} \"{}\" {why}: it names a file below the queue directory",
                text.escape_debug()
            ),
            Self::KickWords { text } => write!(
                f,
                "kick \"{text}\" must be \"class service request\" (three words, e.g. \"public qmgr I\"); for an empty or spaced request use {{class: ..., service: ..., request: ...}}"
            ),
            Self::KickIncomplete => {
                f.write_str("kick needs class, service and request (request may be \"\")")
            }
            Self::RequestTooLong { bytes } => write!(
                f,
                "request is {bytes} bytes; Postfix's trigger servers read at most {MAX_REQUEST_BYTES}"
            ),
            Self::DuplicateName { name, first_line } => {
                write!(f, "duplicate rule name \"{name}\"")?;
                if let Some(line) = first_line {
                    write!(f, " (first used at line {line})")?;
                }
                f.write_str(": names must be unique")
            }
            Self::NoName => f.write_str("rule has no name: add \"name: ...\""),
            Self::BadName { name } => write!(
                f,
                "name \"{}\" may use only letters, digits, '.', '_' and '-'",
                name.escape_debug()
            ),
            Self::NoTrigger { rule, kinds } => {
                let (last, first) = kinds.split_last().map_or((&"", &[][..]), |(l, f)| (l, f));
                write!(
                    f,
                    "{rule} has no trigger: add one of {} or {last}",
                    first.join(", ")
                )
            }
            Self::ManyTriggers { rule, kinds } => write!(
                f,
                "{rule} has {} triggers ({}): keep exactly one",
                kinds.len(),
                kinds.join(", ")
            ),
            Self::KeyNotForKind {
                key,
                owners,
                rule,
                kind,
            } => write!(
                f,
                "{key} applies only to {} rules, and {rule} is {} {kind} rule",
                owners.join(" and "),
                if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                }
            ),
            Self::UnknownZone { name } => write!(
                f,
                "unknown time zone \"{name}\": use an IANA name such as Europe/Paris or America/New_York"
            ),
            Self::BadCron(error) => {
                write!(f, "bad cron expression \"{}\": {error}", error.expression)
            }
            Self::EmptyWatch => f.write_str("watch must name a directory"),
            Self::BadPattern { pattern, why } => write!(f, "bad pattern \"{pattern}\": {why}"),
            Self::BadReady { text } => {
                write!(f, "ready \"{text}\" must be \"any\" or \"executable\"")
            }
            Self::MetricsFile { file } => write!(
                f,
                "metrics_file \"{file}\" must be an absolute path ending in .prom (node_exporter's textfile collector reads *.prom), e.g. /var/lib/prometheus/node-exporter/postkickd.prom"
            ),
            Self::NoAction { rule } => write!(
                f,
                "{rule} has no action: add a kick (e.g. \"kick: public qmgr I\") or a flush (e.g. \"flush: {{site: example.com}}\")"
            ),
            Self::TwoActions { rule } => write!(
                f,
                "{rule} has both kick and flush: a rule does one thing; split it into two rules"
            ),
            Self::FlushWord { text } => write!(
                f,
                "flush \"{}\" is not a flush request: write all (as postqueue -f), refresh, purge, {{site: DOMAIN}} (as postqueue -s) or {{queue_id: ID}} (as postqueue -i)",
                text.escape_debug()
            ),
            Self::FlushMapping => f.write_str(
                "flush needs exactly one of site (a destination domain) and queue_id (a message)",
            ),
            Self::FlushSite { text } => write!(
                f,
                "flush site \"{}\" is not a domain name: write the destination domain, e.g. example.com (at most 255 characters, no spaces)",
                text.escape_debug()
            ),
            Self::FlushQueueId { text } => write!(
                f,
                "flush queue_id \"{}\" is not a queue ID (letters, digits and _, at most 255): copy it from mailq or postqueue -p",
                text.escape_debug()
            ),
        }
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
    #[error("{}", render_all(path, errors))]
    Invalid {
        /// The file.
        path: String,
        /// Every mistake found, in file order.
        errors: Vec<RuleError>,
    },
}

fn render_all(path: &str, errors: &[RuleError]) -> String {
    let plural = if errors.len() == 1 { "" } else { "s" };
    let mut lines: Vec<String> = errors.iter().map(|e| e.render(path)).collect();
    lines.push(format!(
        "{path}: {} error{plural}: nothing was loaded",
        errors.len()
    ));
    lines.join("\n")
}
