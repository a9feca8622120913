//! Reading a parsed rules document into typed rules, every mistake kept.
//!
//! The [`Validator`] walks the parsed document, whose nodes carry their
//! positions: each reader returns `None` on a mistake and records a
//! [`RuleError`] at the node's (or its key's) position, so one run reports
//! every mistake of the file.
//! Which keys a section has is a table: the top level, `postfix`,
//! `defaults`, `retry` and `kick` here (`flush` in its own file); a rule's
//! keys are the common ones below plus what each trigger kind owns
//! (`trigger`); a rule has one action, `kick` or `flush`.
//! Nothing here reads a file or looks at the queue.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

mod flush;
mod kick;
pub(super) mod trigger;

use super::error::{Expected, RuleError, RuleErrorKind, RuleLabel};
use super::schedule::Zones;
use super::yaml::{Node, Position, Value};
use super::{duration, Action, Places, Retry, Rule, RuleSet, MAX_REPORTED};

const TOP_KEYS: &[&str] = &["postfix", "defaults", "metrics_file", "rules"];
const POSTFIX_KEYS: &[&str] = &["config_directory"];
const DEFAULT_KEYS: &[&str] = &["timeout", "retry", "quiet", "notify"];
const KICK_KEYS: &[&str] = &["class", "service", "request"];
const RETRY_KEYS: &[&str] = &["attempts", "backoff", "max_backoff"];
/// Keys every rule may have, whatever its trigger.
const COMMON_RULE_KEYS: &[&str] = &[
    "kick",
    "flush",
    "timeout",
    "retry",
    "enabled",
    "on_start",
    "quiet",
    "expect_success_within",
    "notify",
];

/// How long `expect_success_within` may be: a second to a year.
const EXPECTATION: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(366 * 24 * 3600);

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub(super) const HOUR: Duration = Duration::from_secs(3600);
const POSITIVE_UP_TO_AN_HOUR: std::ops::RangeInclusive<Duration> = Duration::from_millis(1)..=HOUR;

/// One entry of a mapping whose key is a name.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry<'v> {
    pub(super) key: &'v str,
    /// Where the key is written.
    pub(super) at: Position,
    pub(super) value: &'v Node,
}

/// The allowed word a misspelling most likely meant: at most two edits
/// away (and fewer than half its letters).
pub(crate) fn closest<'a>(
    word: &str,
    allowed: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    allowed
        .into_iter()
        .map(|candidate| (strsim::osa_distance(word, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= 2 && *distance * 2 < candidate.len())
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Every key a rule may have: its name, each trigger kind with the keys
/// it owns, then the common ones.
fn rule_keys() -> Vec<&'static str> {
    let mut keys = vec!["name"];
    keys.extend(trigger::KINDS.iter().map(|k| k.name));
    for key in trigger::KINDS.iter().flat_map(|k| k.keys) {
        if !keys.contains(key) {
            keys.push(key);
        }
    }
    keys.extend(COMMON_RULE_KEYS);
    keys
}

/// A rule's entries, looked up by key.
pub(super) struct Fields<'v> {
    entries: Vec<Entry<'v>>,
    rule: &'v Node,
}

impl<'v> Fields<'v> {
    pub(super) fn new(entries: Vec<Entry<'v>>, rule: &'v Node) -> Self {
        Self { entries, rule }
    }

    /// The entry of `key`, if the rule has it.
    pub(super) fn entry(&self, key: &str) -> Option<Entry<'v>> {
        self.entries.iter().find(|e| e.key == key).copied()
    }

    /// The value of `key`, if the rule has it.
    pub(super) fn get(&self, key: &str) -> Option<&'v Node> {
        self.entry(key).map(|e| e.value)
    }
}

/// What `defaults:` sets for every rule.
#[derive(Debug, Clone)]
struct Defaults {
    timeout: Duration,
    retry: Retry,
    quiet: bool,
    notify: Option<String>,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            retry: Retry::default(),
            quiet: false,
            notify: None,
        }
    }
}

/// Reads a document, collecting every mistake.
pub(super) struct Validator {
    /// Where cron rules' time zones come from.
    pub(super) zones: Zones,
    /// The first [`MAX_REPORTED`] mistakes.
    pub(super) errors: Vec<RuleError>,
    /// Every mistake found, reported or not.
    pub(super) found: usize,
}

impl Validator {
    pub(super) fn new(zones: Zones) -> Self {
        Self {
            zones,
            errors: Vec::new(),
            found: 0,
        }
    }

    pub(super) fn error_at(&mut self, position: Option<Position>, kind: RuleErrorKind) {
        self.error_with(position, || kind);
    }

    /// A mistake whose words are only made if it will be reported.
    fn error_with(&mut self, position: Option<Position>, kind: impl FnOnce() -> RuleErrorKind) {
        self.found += 1;
        if self.errors.len() < MAX_REPORTED {
            self.errors.push(RuleError {
                position,
                kind: kind(),
            });
        }
    }

    /// A mistake in a value.
    pub(super) fn value_error(&mut self, node: &Node, kind: RuleErrorKind) {
        self.error_at(Some(node.position), kind);
    }

    /// A mistake in the key written at `at`.
    pub(super) fn key_error(&mut self, at: Position, kind: RuleErrorKind) {
        self.error_at(Some(at), kind);
    }

    pub(super) fn wrong_type(&mut self, node: &Node, what: &str, expected: Expected) {
        self.value_error(
            node,
            RuleErrorKind::WrongType {
                what: what.to_owned(),
                expected,
                found: node.describe(),
            },
        );
    }

    /// A mapping's entries, with unknown keys reported.
    pub(super) fn mapping<'v>(
        &mut self,
        node: &'v Node,
        what: &str,
        allowed: &[&'static str],
    ) -> Option<Vec<Entry<'v>>> {
        let Value::Mapping(map) = &node.value else {
            self.wrong_type(node, what, Expected::Mapping);
            return None;
        };
        let mut entries = Vec::new();
        for (key, value) in map {
            let Some(name) = key.as_str() else {
                self.value_error(
                    key,
                    RuleErrorKind::KeyNotAName {
                        what: what.to_owned(),
                        found: key.describe(),
                    },
                );
                continue;
            };
            if allowed.contains(&name) {
                entries.push(Entry {
                    key: name,
                    at: key.position,
                    value,
                });
            } else {
                self.error_with(Some(key.position), || RuleErrorKind::UnknownKey {
                    key: name.to_owned(),
                    what: what.to_owned(),
                    suggestion: closest(name, allowed.iter().copied()),
                    expected: allowed.to_vec(),
                });
            }
        }
        Some(entries)
    }

    pub(super) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match node.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                self.wrong_type(node, what, Expected::String);
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.wrong_type(node, what, Expected::Boolean);
                None
            }
        }
    }

    pub(super) fn duration(
        &mut self,
        node: &Node,
        what: &str,
        range: std::ops::RangeInclusive<Duration>,
    ) -> Option<Duration> {
        let text = match &node.value {
            Value::String(s) | Value::Number(s) => s.clone(),
            _ => {
                self.wrong_type(node, what, Expected::Duration);
                return None;
            }
        };
        let Some(duration) = duration::parse(&text) else {
            self.value_error(
                node,
                RuleErrorKind::BadDuration {
                    what: what.to_owned(),
                    text,
                },
            );
            return None;
        };
        if !range.contains(&duration) {
            self.value_error(
                node,
                RuleErrorKind::DurationOutOfRange {
                    what: what.to_owned(),
                    text,
                    range,
                },
            );
            return None;
        }
        Some(duration)
    }

    fn retry(&mut self, node: &Node, base: Retry) -> Option<Retry> {
        let entries = self.mapping(node, "retry", RETRY_KEYS)?;
        let mut retry = base;
        let mut ok = true;
        for Entry { key, value, .. } in entries {
            match key {
                "attempts" => match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
                    Some(n @ 1..=100) => retry.attempts = n,
                    _ => {
                        self.value_error(value, RuleErrorKind::RetryAttempts);
                        ok = false;
                    }
                },
                "backoff" => match self.duration(value, "retry backoff", POSITIVE_UP_TO_AN_HOUR) {
                    Some(d) => retry.backoff = d,
                    None => ok = false,
                },
                _ => match self.duration(value, "retry max_backoff", POSITIVE_UP_TO_AN_HOUR) {
                    Some(d) => retry.max_backoff = d,
                    None => ok = false,
                },
            }
        }
        if ok && retry.max_backoff < retry.backoff {
            self.value_error(node, RuleErrorKind::BackoffOrder);
            return None;
        }
        ok.then_some(retry)
    }

    /// `notify:`: `postmaster`, or a mail address (a local part and a
    /// domain of letters, digits and `.`, `_`, `%`, `+`, `-`): nothing a
    /// mail header could be forged with.
    fn notify(&mut self, node: &Node) -> Option<String> {
        let text = self.string(node, "notify")?;
        let (local, domain) = text.split_once('@').unwrap_or((&text, "x"));
        let word = |w: &str| {
            !w.is_empty()
                && w.len() <= 254
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c))
                && !w.starts_with('-')
        };
        if word(local) && word(domain) && !domain.contains('@') {
            Some(text)
        } else {
            self.value_error(node, RuleErrorKind::BadNotify { text });
            None
        }
    }

    fn defaults(&mut self, node: &Node) -> Defaults {
        let mut defaults = Defaults::default();
        for Entry { key, value, .. } in self
            .mapping(node, "defaults", DEFAULT_KEYS)
            .unwrap_or_default()
        {
            match key {
                "timeout" => {
                    if let Some(d) = self.duration(value, "timeout", POSITIVE_UP_TO_AN_HOUR) {
                        defaults.timeout = d;
                    }
                }
                "quiet" => {
                    if let Some(q) = self.boolean(value, "quiet") {
                        defaults.quiet = q;
                    }
                }
                "notify" => defaults.notify = self.notify(value),
                _ => {
                    if let Some(r) = self.retry(value, Retry::default()) {
                        defaults.retry = r;
                    }
                }
            }
        }
        defaults
    }

    pub(super) fn document(&mut self, document: Option<&Node>) -> RuleSet {
        let mut rule_set = RuleSet {
            config_directory: None,
            config_directory_position: None,
            metrics_file: None,
            rules: Vec::new(),
        };
        let Some(document) = document.filter(|d| !matches!(d.value, Value::Null)) else {
            self.error_at(None, RuleErrorKind::EmptyFile);
            return rule_set;
        };
        if matches!(document.value, Value::Sequence(_)) {
            self.value_error(document, RuleErrorKind::ListAtTop);
            return rule_set;
        }
        let Some(top) = self.mapping(document, "the rules file", TOP_KEYS) else {
            return rule_set;
        };
        let mut defaults = Defaults::default();
        let mut rules_node = None;
        for Entry { key, value, .. } in top {
            match key {
                "postfix" => {
                    for entry in self
                        .mapping(value, "postfix", POSTFIX_KEYS)
                        .unwrap_or_default()
                    {
                        if let Some(dir) = self.string(entry.value, "postfix config_directory") {
                            rule_set.config_directory = Some(PathBuf::from(dir));
                            rule_set.config_directory_position = Some(entry.value.position);
                        }
                    }
                }
                "defaults" => defaults = self.defaults(value),
                "metrics_file" => {
                    if let Some(file) = self.string(value, "metrics_file") {
                        if file.starts_with('/') && file.ends_with(".prom") {
                            rule_set.metrics_file = Some(PathBuf::from(file));
                        } else {
                            self.value_error(value, RuleErrorKind::MetricsFile { file });
                        }
                    }
                }
                _ => rules_node = Some(value),
            }
        }
        let Some(rules_node) = rules_node else {
            self.value_error(document, RuleErrorKind::NoRulesList);
            return rule_set;
        };
        let items: &[Node] = match &rules_node.value {
            Value::Sequence(items) => items,
            Value::Null => &[],
            _ => {
                self.wrong_type(rules_node, "rules", Expected::List);
                return rule_set;
            }
        };
        let mut first_use: HashMap<&str, Position> = HashMap::new();
        for item in items {
            let mut duplicate = false;
            if let Some((name, text)) = item.get("name").and_then(|n| Some((n, n.as_str()?))) {
                if let Some(first) = first_use.get(text) {
                    let kind = RuleErrorKind::DuplicateName {
                        name: text.to_owned(),
                        first_line: Some(first.line),
                    };
                    self.value_error(name, kind);
                    duplicate = true;
                } else {
                    first_use.insert(text, name.position);
                }
            }
            // A duplicate is still read, so that its other mistakes show.
            if let Some(rule) = self.rule(item, &defaults).filter(|_| !duplicate) {
                rule_set.rules.push(rule);
            }
        }
        rule_set
    }

    fn rule(&mut self, node: &Node, defaults: &Defaults) -> Option<Rule> {
        let entries = self.mapping(node, "a rule", &rule_keys())?;
        let found_before = self.found;
        let fields = Fields::new(entries, node);
        let name = match fields.get("name") {
            Some(v) => self.string(v, "name"),
            None => {
                self.value_error(node, RuleErrorKind::NoName);
                None
            }
        };
        if let (Some(n), Some(at)) = (&name, fields.get("name")) {
            let valid = !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !valid {
                self.value_error(at, RuleErrorKind::BadName { name: n.clone() });
            }
        }
        let label = RuleLabel(name.clone());
        let trigger = trigger::read(self, &fields, &label);
        let action = match (fields.get("kick"), fields.entry("flush")) {
            (Some(v), None) => self.kick(v).map(Action::Kick),
            (None, Some(flush)) => self.flush(flush.value).map(Action::Flush),
            (Some(_), Some(flush)) => {
                self.key_error(flush.at, RuleErrorKind::TwoActions { rule: label });
                None
            }
            (None, None) => {
                self.value_error(node, RuleErrorKind::NoAction { rule: label });
                None
            }
        };
        let timeout = match fields.get("timeout") {
            Some(v) => self.duration(v, "timeout", POSITIVE_UP_TO_AN_HOUR),
            None => Some(defaults.timeout),
        };
        let retry = match fields.get("retry") {
            Some(v) => self.retry(v, defaults.retry),
            None => Some(defaults.retry),
        };
        let mut flag = |key: &str, default: bool| match fields.get(key) {
            Some(v) => self.boolean(v, key),
            None => Some(default),
        };
        let enabled = flag("enabled", true);
        let on_start = flag("on_start", false);
        let quiet = flag("quiet", defaults.quiet);
        let notify = match fields.get("notify") {
            Some(v) => self.notify(v).map(Some),
            None => Some(defaults.notify.clone()),
        };
        let expect_success_within = match fields.get("expect_success_within") {
            Some(v) => self
                .duration(v, "expect_success_within", EXPECTATION)
                .map(Some),
            None => Some(None),
        };
        if self.found != found_before {
            return None;
        }
        let places = Places {
            trigger: ["cron", "every", "watch"]
                .iter()
                .find_map(|key| fields.get(key))
                .map(|node| node.position),
            action: fields.get("kick").map(|node| node.position).or_else(|| {
                fields.get("flush").map(|flush| {
                    flush
                        .get("site")
                        .or_else(|| flush.get("queue_id"))
                        .unwrap_or(flush)
                        .position
                })
            }),
        };
        Some(Rule {
            name: name?,
            trigger: trigger?,
            action: action?,
            timeout: timeout?,
            retry: retry?,
            enabled: enabled?,
            on_start: on_start?,
            quiet: quiet?,
            expect_success_within: expect_success_within?,
            notify: notify?,
            position: Some(node.position),
            places,
        })
    }
}
