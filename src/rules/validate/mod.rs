//! Reading a parsed rules document into typed rules, every mistake kept.
//!
//! The [`Validator`] walks the YAML value with the [`PositionIndex`] beside
//! it: each reader returns `None` on a mistake and records a [`RuleError`]
//! at the node's position, so one run reports every mistake of the file.
//! Which keys a section has is a table: the top level, `postfix`,
//! `defaults`, `retry` and `kick` here (`flush` in its own file); a rule's
//! keys are the common ones below plus what each trigger kind owns
//! ([`super::triggers`]); a rule has one action, `kick` or `flush`.
//! Nothing here reads a file or looks at the queue.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_yaml::Value;

mod flush;
mod kick;

use super::error::{Expected, RuleError, RuleErrorKind, RuleLabel};
use super::positions::{NodePath, Position, PositionIndex, Step};
use super::schedule::Zones;
use super::triggers::{self, Fields};
use super::{duration, Action, Retry, Rule, RuleSet};

const TOP_KEYS: &[&str] = &["postfix", "defaults", "metrics_file", "rules"];
const POSTFIX_KEYS: &[&str] = &["config_directory"];
const DEFAULT_KEYS: &[&str] = &["timeout", "retry", "quiet"];
const KICK_KEYS: &[&str] = &["class", "service", "request"];
const RETRY_KEYS: &[&str] = &["attempts", "backoff", "max_backoff"];
/// Keys every rule may have, whatever its trigger.
const COMMON_RULE_KEYS: &[&str] = &[
    "kick", "flush", "timeout", "retry", "enabled", "on_start", "quiet",
];

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub(super) const HOUR: Duration = Duration::from_secs(3600);
const POSITIVE_UP_TO_AN_HOUR: std::ops::RangeInclusive<Duration> = Duration::from_millis(1)..=HOUR;

/// A mapping's string keys with their values.
pub(super) type Entries<'v> = Vec<(String, &'v Value)>;

/// The path one key further down.
pub(super) fn child(path: &[Step], key: &str) -> NodePath {
    let mut p = path.to_vec();
    p.push(Step::Key(key.to_owned()));
    p
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// The allowed word a misspelling most likely meant: at most two edits
/// away (and fewer than half its letters).
pub(super) fn closest(word: &str, allowed: &[&'static str]) -> Option<&'static str> {
    allowed
        .iter()
        .map(|candidate| (edit_distance(word, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= 2 && *distance * 2 < candidate.len())
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance with transpositions counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut rows = vec![(0..=b.len()).collect::<Vec<_>>(); a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// Every key a rule may have: its name, each trigger kind with the keys
/// it owns, then the common ones.
fn rule_keys() -> Vec<&'static str> {
    let mut keys = vec!["name"];
    keys.extend(triggers::KINDS.iter().map(|k| k.name));
    for key in triggers::KINDS.iter().flat_map(|k| k.keys) {
        if !keys.contains(key) {
            keys.push(key);
        }
    }
    keys.extend(COMMON_RULE_KEYS);
    keys
}

/// What `defaults:` sets for every rule.
#[derive(Debug, Clone, Copy)]
struct Defaults {
    timeout: Duration,
    retry: Retry,
    quiet: bool,
}

/// Reads a document, collecting every mistake.
pub(super) struct Validator {
    index: PositionIndex,
    /// Where cron rules' time zones come from.
    pub(super) zones: Zones,
    pub(super) errors: Vec<RuleError>,
}

impl Validator {
    pub(super) fn new(index: PositionIndex, zones: Zones) -> Self {
        Self {
            index,
            zones,
            errors: Vec::new(),
        }
    }

    fn error_at(&mut self, position: Option<Position>, kind: RuleErrorKind) {
        self.errors.push(RuleError { position, kind });
    }

    /// A mistake in the value at `path`.
    pub(super) fn value_error(&mut self, path: &[Step], kind: RuleErrorKind) {
        let position = self.index.value(path);
        self.error_at(position, kind);
    }

    /// A mistake in the key that ends `path`.
    pub(super) fn key_error(&mut self, path: &[Step], kind: RuleErrorKind) {
        let position = self.index.key(path);
        self.error_at(position, kind);
    }

    fn wrong_type(&mut self, path: &[Step], what: &str, expected: Expected, found: &Value) {
        self.value_error(
            path,
            RuleErrorKind::WrongType {
                what: what.to_owned(),
                expected,
                found: describe(found),
            },
        );
    }

    /// A mapping's entries, with unknown keys reported.
    fn mapping<'v>(
        &mut self,
        value: &'v Value,
        path: &[Step],
        what: &str,
        allowed: &[&'static str],
    ) -> Option<Entries<'v>> {
        let Value::Mapping(map) = value else {
            self.wrong_type(path, what, Expected::Mapping, value);
            return None;
        };
        let mut entries = Vec::new();
        for (key, item) in map {
            let Value::String(key) = key else {
                self.value_error(
                    path,
                    RuleErrorKind::KeyNotAName {
                        what: what.to_owned(),
                        found: describe(key),
                    },
                );
                continue;
            };
            if allowed.contains(&key.as_str()) {
                entries.push((key.clone(), item));
            } else {
                self.key_error(
                    &child(path, key),
                    RuleErrorKind::UnknownKey {
                        key: key.clone(),
                        what: what.to_owned(),
                        suggestion: closest(key, allowed),
                        expected: allowed.to_vec(),
                    },
                );
            }
        }
        Some(entries)
    }

    pub(super) fn string(&mut self, value: &Value, path: &[Step], what: &str) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            other => {
                self.wrong_type(path, what, Expected::String, other);
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, value: &Value, path: &[Step], what: &str) -> Option<bool> {
        match value {
            Value::Bool(b) => Some(*b),
            other => {
                self.wrong_type(path, what, Expected::Boolean, other);
                None
            }
        }
    }

    pub(super) fn duration(
        &mut self,
        value: &Value,
        path: &[Step],
        what: &str,
        range: std::ops::RangeInclusive<Duration>,
    ) -> Option<Duration> {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                self.wrong_type(path, what, Expected::Duration, other);
                return None;
            }
        };
        let Some(duration) = duration::parse(&text) else {
            self.value_error(
                path,
                RuleErrorKind::BadDuration {
                    what: what.to_owned(),
                    text,
                },
            );
            return None;
        };
        if !range.contains(&duration) {
            self.value_error(
                path,
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

    fn retry(&mut self, value: &Value, path: &[Step], base: Retry) -> Option<Retry> {
        let entries = self.mapping(value, path, "retry", RETRY_KEYS)?;
        let mut retry = base;
        let mut ok = true;
        for (key, item) in entries {
            let at = child(path, &key);
            match key.as_str() {
                "attempts" => match item.as_u64().and_then(|n| u32::try_from(n).ok()) {
                    Some(n @ 1..=100) => retry.attempts = n,
                    _ => {
                        self.value_error(&at, RuleErrorKind::RetryAttempts);
                        ok = false;
                    }
                },
                "backoff" => {
                    match self.duration(item, &at, "retry backoff", POSITIVE_UP_TO_AN_HOUR) {
                        Some(d) => retry.backoff = d,
                        None => ok = false,
                    }
                }
                _ => match self.duration(item, &at, "retry max_backoff", POSITIVE_UP_TO_AN_HOUR) {
                    Some(d) => retry.max_backoff = d,
                    None => ok = false,
                },
            }
        }
        if ok && retry.max_backoff < retry.backoff {
            self.value_error(path, RuleErrorKind::BackoffOrder);
            return None;
        }
        ok.then_some(retry)
    }

    pub(super) fn document(&mut self, document: &Value) -> RuleSet {
        let mut rule_set = RuleSet {
            config_directory: None,
            config_directory_position: None,
            metrics_file: None,
            rules: Vec::new(),
        };
        if document.is_null() {
            self.error_at(None, RuleErrorKind::EmptyFile);
            return rule_set;
        }
        if document.is_sequence() {
            self.value_error(&[], RuleErrorKind::ListAtTop);
            return rule_set;
        }
        let Some(top) = self.mapping(document, &[], "the rules file", TOP_KEYS) else {
            return rule_set;
        };
        let mut defaults = Defaults {
            timeout: DEFAULT_TIMEOUT,
            retry: Retry::default(),
            quiet: false,
        };
        let mut rules_value = None;
        for (key, value) in &top {
            let path = vec![Step::Key(key.clone())];
            match key.as_str() {
                "postfix" => {
                    for (k, v) in self
                        .mapping(value, &path, "postfix", POSTFIX_KEYS)
                        .unwrap_or_default()
                    {
                        let at = child(&path, &k);
                        if let Some(dir) = self.string(v, &at, "postfix config_directory") {
                            rule_set.config_directory = Some(PathBuf::from(dir));
                            rule_set.config_directory_position = self.index.value(&at);
                        }
                    }
                }
                "defaults" => {
                    for (k, v) in self
                        .mapping(value, &path, "defaults", DEFAULT_KEYS)
                        .unwrap_or_default()
                    {
                        let at = child(&path, &k);
                        match k.as_str() {
                            "timeout" => {
                                if let Some(d) =
                                    self.duration(v, &at, "timeout", POSITIVE_UP_TO_AN_HOUR)
                                {
                                    defaults.timeout = d;
                                }
                            }
                            "quiet" => {
                                if let Some(q) = self.boolean(v, &at, "quiet") {
                                    defaults.quiet = q;
                                }
                            }
                            _ => {
                                if let Some(r) = self.retry(v, &at, Retry::default()) {
                                    defaults.retry = r;
                                }
                            }
                        }
                    }
                }
                "metrics_file" => {
                    if let Some(file) = self.string(value, &path, "metrics_file") {
                        if file.starts_with('/') && file.ends_with(".prom") {
                            rule_set.metrics_file = Some(PathBuf::from(file));
                        } else {
                            self.value_error(&path, RuleErrorKind::MetricsFile { file });
                        }
                    }
                }
                _ => rules_value = Some(*value),
            }
        }
        let Some(rules_value) = rules_value else {
            self.error_at(self.index.value(&[]), RuleErrorKind::NoRulesList);
            return rule_set;
        };
        let path = vec![Step::Key("rules".into())];
        let items: &[Value] = match rules_value {
            Value::Sequence(items) => items,
            Value::Null => &[],
            other => {
                self.wrong_type(&path, "rules", Expected::List, other);
                return rule_set;
            }
        };
        let mut first_use: HashMap<String, Option<Position>> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let mut at = path.clone();
            at.push(Step::Index(i));
            let mut duplicate = false;
            if let Some(name) = item.get("name").and_then(Value::as_str) {
                let name_position = self.index.value(&child(&at, "name"));
                if let Some(first) = first_use.get(name) {
                    let kind = RuleErrorKind::DuplicateName {
                        name: name.to_owned(),
                        first_line: first.map(|p| p.line),
                    };
                    self.error_at(name_position, kind);
                    duplicate = true;
                } else {
                    first_use.insert(name.to_owned(), name_position);
                }
            }
            // A duplicate is still read, so that its other mistakes show.
            if let Some(rule) = self.rule(item, &at, defaults).filter(|_| !duplicate) {
                rule_set.rules.push(rule);
            }
        }
        rule_set
    }

    fn rule(&mut self, value: &Value, path: &[Step], defaults: Defaults) -> Option<Rule> {
        let entries = self.mapping(value, path, "a rule", &rule_keys())?;
        let errors_before = self.errors.len();
        let fields = Fields::new(entries, path);
        let name = match fields.get("name") {
            Some(v) => self.string(v, &fields.at("name"), "name"),
            None => {
                self.value_error(path, RuleErrorKind::NoName);
                None
            }
        };
        if let Some(n) = &name {
            let valid = !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !valid {
                self.value_error(
                    &fields.at("name"),
                    RuleErrorKind::BadName { name: n.clone() },
                );
            }
        }
        let label = RuleLabel(name.clone());
        let trigger = triggers::read(self, &fields, &label);
        let action = match (fields.get("kick"), fields.get("flush")) {
            (Some(v), None) => self.kick(v, &fields.at("kick")).map(Action::Kick),
            (None, Some(v)) => self.flush(v, &fields.at("flush")).map(Action::Flush),
            (Some(_), Some(_)) => {
                self.key_error(
                    &fields.at("flush"),
                    RuleErrorKind::TwoActions { rule: label },
                );
                None
            }
            (None, None) => {
                self.value_error(path, RuleErrorKind::NoAction { rule: label });
                None
            }
        };
        let timeout = match fields.get("timeout") {
            Some(v) => self.duration(v, &fields.at("timeout"), "timeout", POSITIVE_UP_TO_AN_HOUR),
            None => Some(defaults.timeout),
        };
        let retry = match fields.get("retry") {
            Some(v) => self.retry(v, &fields.at("retry"), defaults.retry),
            None => Some(defaults.retry),
        };
        let mut flag = |key: &str, default: bool| match fields.get(key) {
            Some(v) => self.boolean(v, &fields.at(key), key),
            None => Some(default),
        };
        let enabled = flag("enabled", true);
        let on_start = flag("on_start", false);
        let quiet = flag("quiet", defaults.quiet);
        if self.errors.len() != errors_before {
            return None;
        }
        Some(Rule {
            name: name?,
            trigger: trigger?,
            action: action?,
            timeout: timeout?,
            retry: retry?,
            enabled: enabled?,
            on_start: on_start?,
            quiet: quiet?,
            position: self.index.value(path),
        })
    }
}
