//! The rules file: YAML that pairs triggers (cron, every, watch) with kicks.
//!
//! This module owns the file's contract and turns its text into validated,
//! typed rules ([`RuleSet`]): parsed cron expressions, bounded durations,
//! checked class and service names. Downstream code never re-checks. The
//! file is trusted no further than its syntax: a rules file can be written
//! by an administrator who made ten mistakes, and every one of them is
//! reported with `FILE:LINE:COLUMN` in one run (only broken YAML syntax
//! stops at the first). It reads no other file and touches no endpoint;
//! checks that need the Postfix queue live in [`lint`].

mod duration;
mod lint;
mod positions;

pub use duration::{display as display_duration, parse as parse_duration};
pub use lint::lint;
pub use positions::Position;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_yaml::Value;

use crate::schedule::{Cron, Zone};
use positions::{PositionIndex, Step};

/// The rules file the daemon reads when none is named.
pub const DEFAULT_RULES_PATH: &str = "/etc/postkick/rules.yaml";
/// Larger rules files are refused before parsing.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Postfix's trigger servers read at most this many bytes of a request.
pub const MAX_REQUEST_BYTES: usize = 1024;

/// One problem in a rules file, at a position when one is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where in the file.
    pub position: Option<Position>,
    /// What is wrong and what to do.
    pub message: String,
}

impl Diagnostic {
    /// `FILE:LINE:COLUMN: message` (or `FILE: message` without a position).
    pub fn render(&self, file: &str) -> String {
        match self.position {
            Some(p) => format!("{file}:{}:{}: {}", p.line, p.column, self.message),
            None => format!("{file}: {}", self.message),
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
        /// Why.
        reason: String,
    },
    /// The file has errors; all of them are listed.
    #[error("{}", render_all(path, errors))]
    Invalid {
        /// The file.
        path: String,
        /// Every error found.
        errors: Vec<Diagnostic>,
    },
}

fn render_all(path: &str, diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| d.render(path))
        .collect::<Vec<_>>()
        .join("\n")
}

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
        /// As written.
        expression: String,
        /// Parsed, with its zone.
        schedule: Cron,
        /// A random delay of up to this much after each fire time.
        jitter: Duration,
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
        /// As written; relative paths are below the queue directory.
        directory: PathBuf,
        /// Only file names matching this glob count.
        pattern: Option<glob::Pattern>,
        /// Events within this window after a kick fold into one more kick.
        debounce: Duration,
        /// Also scan the directory this often, for file systems where
        /// inotify is blind.
        poll: Option<Duration>,
        /// When a file counts as arrived; `None`: the default for the
        /// directory (see [`Readiness::default_for`]).
        ready: Option<Readiness>,
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

impl Readiness {
    /// `executable` for the queue's own `maildrop`, `any` elsewhere.
    pub fn default_for(directory: &Path, queue_directory: &Path) -> Self {
        if queue_directory.join(directory) == queue_directory.join("maildrop") {
            Self::Executable
        } else {
            Self::Any
        }
    }
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
    /// What it sends.
    pub target: Target,
    /// The longest a kick may take, waits for the server included.
    pub timeout: Duration,
    /// What to do when a kick fails.
    pub retry: Retry,
    /// A disabled rule is checked but never runs.
    pub enabled: bool,
    /// Fire once when the daemon starts.
    pub on_start: bool,
    /// Where the rule starts in its file.
    pub position: Option<Position>,
}

/// A validated rules file.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// `postfix.config_directory`, if given.
    pub config_directory: Option<PathBuf>,
    /// The rules, in file order.
    pub rules: Vec<Rule>,
}

/// Reads and validates a rules file.
pub fn load(path: &Path) -> Result<RuleSet, RulesError> {
    let shown = path.display().to_string();
    let read_error = |reason: String| RulesError::Read {
        path: shown.clone(),
        reason,
    };
    let metadata =
        std::fs::metadata(path).map_err(|e| read_error(crate::sys::io_error_text(&e)))?;
    if metadata.is_dir() {
        return Err(read_error("it is a directory; name the YAML file".into()));
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(read_error(format!(
            "{} bytes is more than the {MAX_FILE_BYTES} a rules file may have",
            metadata.len()
        )));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| read_error(crate::sys::io_error_text(&e)))?;
    parse(&text).map_err(|errors| RulesError::Invalid {
        path: shown,
        errors,
    })
}

/// Validates the text of a rules file; on failure, every error found.
pub fn parse(text: &str) -> Result<RuleSet, Vec<Diagnostic>> {
    let document: Value = serde_yaml::from_str(text).map_err(|e| {
        vec![Diagnostic {
            position: e.location().map(|l| Position {
                line: l.line(),
                column: l.column(),
            }),
            message: format!("YAML syntax: {e}"),
        }]
    })?;
    let mut validator = Validator {
        index: PositionIndex::build(text),
        errors: Vec::new(),
    };
    let rule_set = validator.document(&document);
    let mut errors = validator.errors;
    if errors.is_empty() {
        Ok(rule_set)
    } else {
        errors.sort_by_key(|d| d.position);
        Err(errors)
    }
}

const TOP_KEYS: &[&str] = &["postfix", "defaults", "rules"];
const POSTFIX_KEYS: &[&str] = &["config_directory"];
const DEFAULT_KEYS: &[&str] = &["timeout", "retry"];
const RULE_KEYS: &[&str] = &[
    "name", "cron", "every", "watch", "timezone", "jitter", "pattern", "debounce", "poll", "ready",
    "kick", "timeout", "retry", "enabled", "on_start",
];
const KICK_KEYS: &[&str] = &["class", "service", "request"];
const RETRY_KEYS: &[&str] = &["attempts", "backoff", "max_backoff"];
const TRIGGERS: &[&str] = &["cron", "every", "watch"];

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(50);
const HOUR: Duration = Duration::from_secs(3600);

struct Validator {
    index: PositionIndex,
    errors: Vec<Diagnostic>,
}

fn child(path: &[Step], key: &str) -> Vec<Step> {
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

/// A mapping's string keys with their values.
type Entries<'v> = Vec<(String, &'v Value)>;

impl Validator {
    fn error_at(&mut self, position: Option<Position>, message: String) {
        self.errors.push(Diagnostic { position, message });
    }

    fn value_error(&mut self, path: &[Step], message: String) {
        let position = self.index.value(path);
        self.error_at(position, message);
    }

    fn key_error(&mut self, path: &[Step], message: String) {
        let position = self.index.key(path);
        self.error_at(position, message);
    }

    /// A mapping's entries, with unknown keys reported.
    fn mapping<'v>(
        &mut self,
        value: &'v Value,
        path: &[Step],
        what: &str,
        allowed: &[&str],
    ) -> Option<Entries<'v>> {
        let Value::Mapping(map) = value else {
            self.value_error(
                path,
                format!("{what} must be a mapping, not {}", describe(value)),
            );
            return None;
        };
        let mut entries = Vec::new();
        for (key, item) in map {
            let Value::String(key) = key else {
                self.value_error(
                    path,
                    format!("{what} has a key that is {}, not a name", describe(key)),
                );
                continue;
            };
            if allowed.contains(&key.as_str()) {
                entries.push((key.clone(), item));
            } else {
                self.key_error(
                    &child(path, key),
                    format!(
                        "unknown key \"{key}\" in {what} (expected one of: {})",
                        allowed.join(", ")
                    ),
                );
            }
        }
        Some(entries)
    }

    fn string(&mut self, value: &Value, path: &[Step], what: &str) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            other => {
                self.value_error(
                    path,
                    format!("{what} must be a string, not {}", describe(other)),
                );
                None
            }
        }
    }

    fn boolean(&mut self, value: &Value, path: &[Step], what: &str) -> Option<bool> {
        match value {
            Value::Bool(b) => Some(*b),
            other => {
                self.value_error(
                    path,
                    format!("{what} must be true or false, not {}", describe(other)),
                );
                None
            }
        }
    }

    fn duration(
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
                self.value_error(
                    path,
                    format!("{what} must be a duration, not {}", describe(other)),
                );
                return None;
            }
        };
        let Some(duration) = duration::parse(&text) else {
            self.value_error(
                path,
                format!(
                    "bad duration \"{text}\" for {what}: {}",
                    duration::SYNTAX_HINT
                ),
            );
            return None;
        };
        if !range.contains(&duration) {
            self.value_error(
                path,
                format!(
                    "{what} {text} is out of range: use {} to {}",
                    duration::display(*range.start()),
                    duration::display(*range.end())
                ),
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
                        self.value_error(
                            &at,
                            "retry attempts must be a whole number from 1 to 100".into(),
                        );
                        ok = false;
                    }
                },
                "backoff" => {
                    match self.duration(item, &at, "retry backoff", Duration::from_millis(1)..=HOUR)
                    {
                        Some(d) => retry.backoff = d,
                        None => ok = false,
                    }
                }
                _ => match self.duration(
                    item,
                    &at,
                    "retry max_backoff",
                    Duration::from_millis(1)..=HOUR,
                ) {
                    Some(d) => retry.max_backoff = d,
                    None => ok = false,
                },
            }
        }
        if ok && retry.max_backoff < retry.backoff {
            self.value_error(
                path,
                "retry max_backoff must not be shorter than backoff".into(),
            );
            return None;
        }
        ok.then_some(retry)
    }

    fn name_part(&mut self, text: &str, path: &[Step], what: &str) -> bool {
        let bad = if text.is_empty() {
            Some("must not be empty")
        } else if text.contains('/') {
            Some("must not contain \"/\"")
        } else if text == "." || text == ".." {
            Some("must not be \".\" or \"..\"")
        } else if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            Some("must not contain spaces or control characters")
        } else {
            None
        };
        if let Some(bad) = bad {
            self.value_error(
                path,
                format!(
                    "{what} \"{}\" {bad}: it names a file below the queue directory",
                    text.escape_debug()
                ),
            );
        }
        bad.is_none()
    }

    fn kick(&mut self, value: &Value, path: &[Step]) -> Option<Target> {
        let (class, service, request, paths) = match value {
            Value::String(text) => {
                let words: Vec<&str> = text.split_whitespace().collect();
                if words.len() != 3 {
                    self.value_error(
                        path,
                        format!(
                            "kick \"{text}\" must be \"class service request\" (three words, e.g. \"public qmgr I\"); for an empty or spaced request use {{class: ..., service: ..., request: ...}}"
                        ),
                    );
                    return None;
                }
                let p = path.to_vec();
                (
                    words[0].to_owned(),
                    words[1].to_owned(),
                    words[2].to_owned(),
                    [p.clone(), p.clone(), p],
                )
            }
            Value::Mapping(_) => {
                let entries = self.mapping(value, path, "kick", KICK_KEYS)?;
                let mut found: HashMap<String, String> = HashMap::new();
                for (key, item) in entries {
                    let at = child(path, &key);
                    if let Some(s) = self.string(item, &at, &format!("kick {key}")) {
                        found.insert(key, s);
                    }
                }
                let mut take = |key: &str| found.remove(key);
                let (class, service, request) = (take("class"), take("service"), take("request"));
                let (Some(class), Some(service), Some(request)) = (class, service, request) else {
                    self.value_error(
                        path,
                        "kick needs class, service and request (request may be \"\")".into(),
                    );
                    return None;
                };
                (
                    class,
                    service,
                    request,
                    [
                        child(path, "class"),
                        child(path, "service"),
                        child(path, "request"),
                    ],
                )
            }
            other => {
                self.value_error(
                    path,
                    format!(
                        "kick must be \"class service request\" or a mapping, not {}",
                        describe(other)
                    ),
                );
                return None;
            }
        };
        let class_ok = self.name_part(&class, &paths[0], "class");
        let service_ok = self.name_part(&service, &paths[1], "service");
        let request_ok = request.len() <= MAX_REQUEST_BYTES;
        if !request_ok {
            self.value_error(
                &paths[2],
                format!("request is {} bytes; Postfix's trigger servers read at most {MAX_REQUEST_BYTES}", request.len()),
            );
        }
        (class_ok && service_ok && request_ok).then_some(Target {
            class,
            service,
            request,
        })
    }

    fn document(&mut self, document: &Value) -> RuleSet {
        let mut rule_set = RuleSet {
            config_directory: None,
            rules: Vec::new(),
        };
        if document.is_null() {
            self.error_at(
                None,
                "the rules file is empty: add a \"rules:\" list".into(),
            );
            return rule_set;
        }
        let Some(top) = self.mapping(document, &[], "the rules file", TOP_KEYS) else {
            return rule_set;
        };
        let mut defaults = (DEFAULT_TIMEOUT, Retry::default());
        let mut rules_value = None;
        for (key, value) in &top {
            let path = vec![Step::Key(key.clone())];
            match key.as_str() {
                "postfix" => {
                    for (k, v) in self
                        .mapping(value, &path, "postfix", POSTFIX_KEYS)
                        .unwrap_or_default()
                    {
                        if let Some(dir) =
                            self.string(v, &child(&path, &k), "postfix config_directory")
                        {
                            rule_set.config_directory = Some(PathBuf::from(dir));
                        }
                    }
                }
                "defaults" => {
                    for (k, v) in self
                        .mapping(value, &path, "defaults", DEFAULT_KEYS)
                        .unwrap_or_default()
                    {
                        let at = child(&path, &k);
                        if k == "timeout" {
                            if let Some(d) =
                                self.duration(v, &at, "timeout", Duration::from_millis(1)..=HOUR)
                            {
                                defaults.0 = d;
                            }
                        } else if let Some(r) = self.retry(v, &at, Retry::default()) {
                            defaults.1 = r;
                        }
                    }
                }
                _ => rules_value = Some(*value),
            }
        }
        let Some(rules_value) = rules_value else {
            self.error_at(
                self.index.value(&[]),
                "no \"rules:\" list: add one with at least one rule".into(),
            );
            return rule_set;
        };
        let path = vec![Step::Key("rules".into())];
        let items: &[Value] = match rules_value {
            Value::Sequence(items) => items,
            Value::Null => &[],
            other => {
                self.value_error(
                    &path,
                    format!("rules must be a list, not {}", describe(other)),
                );
                return rule_set;
            }
        };
        let mut first_use: HashMap<String, Option<Position>> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let mut at = path.clone();
            at.push(Step::Index(i));
            let name = item.get("name").and_then(Value::as_str);
            if let Some(name) = name {
                let name_position = self.index.value(&child(&at, "name"));
                if let Some(first) = first_use.get(name) {
                    let where_first = first.map_or(String::new(), |p| {
                        format!(" (first used at line {})", p.line)
                    });
                    self.error_at(
                        name_position,
                        format!(
                            "duplicate rule name \"{name}\"{where_first}: names must be unique"
                        ),
                    );
                    continue;
                }
                first_use.insert(name.to_owned(), name_position);
            }
            if let Some(rule) = self.rule(item, &at, defaults) {
                rule_set.rules.push(rule);
            }
        }
        rule_set
    }

    fn rule(&mut self, value: &Value, path: &[Step], defaults: (Duration, Retry)) -> Option<Rule> {
        let entries = self.mapping(value, path, "a rule", RULE_KEYS)?;
        let errors_before = self.errors.len();
        let get = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
        let name = match get("name") {
            Some(v) => self.string(v, &child(path, "name"), "name"),
            None => {
                self.value_error(path, "rule has no name: add \"name: ...\"".into());
                None
            }
        };
        let label = name
            .as_deref()
            .map_or_else(|| "rule".to_owned(), |n| format!("rule \"{n}\""));
        if let Some(n) = &name {
            let valid = !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !valid {
                self.value_error(
                    &child(path, "name"),
                    format!(
                        "name \"{}\" may use only letters, digits, '.', '_' and '-'",
                        n.escape_debug()
                    ),
                );
            }
        }
        let triggers: Vec<&str> = TRIGGERS
            .iter()
            .copied()
            .filter(|t| get(t).is_some())
            .collect();
        match triggers.len() {
            0 => self.value_error(
                path,
                format!("{label} has no trigger: add one of cron, every or watch"),
            ),
            1 => {}
            _ => self.key_error(
                &child(path, triggers[1]),
                format!(
                    "{label} has {} triggers ({}): keep exactly one",
                    triggers.len(),
                    triggers.join(", ")
                ),
            ),
        }
        let kind = triggers.first().copied();
        for (key, only) in [
            ("timezone", &["cron"][..]),
            ("jitter", &["cron", "every"][..]),
            ("pattern", &["watch"][..]),
            ("debounce", &["watch"][..]),
            ("poll", &["watch"][..]),
            ("ready", &["watch"][..]),
        ] {
            if get(key).is_some() && kind.is_some_and(|k| !only.contains(&k)) {
                self.key_error(
                    &child(path, key),
                    format!(
                        "{key} applies only to {} rules, and {label} is a {} rule",
                        only.join(" and "),
                        kind.unwrap_or("")
                    ),
                );
            }
        }
        let jitter = match get("jitter") {
            Some(v) => self.duration(v, &child(path, "jitter"), "jitter", Duration::ZERO..=HOUR),
            None => Some(Duration::ZERO),
        };
        let trigger = match kind {
            Some("cron") => {
                let zone = match get("timezone") {
                    Some(v) => self.string(v, &child(path, "timezone"), "timezone").and_then(|name| {
                        let zone = Zone::named(&name);
                        if zone.is_none() {
                            self.value_error(&child(path, "timezone"), format!("unknown time zone \"{name}\": use an IANA name such as Europe/Paris or America/New_York"));
                        }
                        zone
                    }),
                    None => Some(Zone::Local),
                };
                let at = child(path, "cron");
                let expression = get("cron").and_then(|v| self.string(v, &at, "cron"));
                match (expression, zone) {
                    (Some(expression), Some(zone)) => match Cron::parse(&expression, zone) {
                        Ok(schedule) => jitter.map(|jitter| Trigger::Cron {
                            expression,
                            schedule,
                            jitter,
                        }),
                        Err(why) => {
                            self.value_error(
                                &at,
                                format!("bad cron expression \"{expression}\": {why}"),
                            );
                            None
                        }
                    },
                    _ => None,
                }
            }
            Some("every") => {
                let period = get("every").and_then(|v| {
                    self.duration(
                        v,
                        &child(path, "every"),
                        "every",
                        Duration::from_millis(1)..=Duration::from_secs(366 * 86_400),
                    )
                });
                match (period, jitter) {
                    (Some(period), Some(jitter)) => Some(Trigger::Every { period, jitter }),
                    _ => None,
                }
            }
            Some(_) => {
                let at = child(path, "watch");
                let directory = get("watch").and_then(|v| self.string(v, &at, "watch"));
                if directory.as_deref() == Some("") {
                    self.value_error(&at, "watch must name a directory".into());
                }
                let pattern = match get("pattern") {
                    Some(v) => {
                        let at = child(path, "pattern");
                        self.string(v, &at, "pattern")
                            .and_then(|p| match glob::Pattern::new(&p) {
                                Ok(pattern) => Some(Some(pattern)),
                                Err(e) => {
                                    self.value_error(&at, format!("bad pattern \"{p}\": {e}"));
                                    None
                                }
                            })
                    }
                    None => Some(None),
                };
                let debounce = match get("debounce") {
                    Some(v) => self.duration(
                        v,
                        &child(path, "debounce"),
                        "debounce",
                        Duration::ZERO..=HOUR,
                    ),
                    None => Some(DEFAULT_DEBOUNCE),
                };
                let poll = match get("poll") {
                    Some(v) => self
                        .duration(
                            v,
                            &child(path, "poll"),
                            "poll",
                            Duration::from_millis(100)..=Duration::from_secs(86_400),
                        )
                        .map(Some),
                    None => Some(None),
                };
                let ready = match get("ready") {
                    Some(v) => {
                        let at = child(path, "ready");
                        match self.string(v, &at, "ready").as_deref() {
                            Some("any") => Some(Some(Readiness::Any)),
                            Some("executable") => Some(Some(Readiness::Executable)),
                            Some(other) => {
                                self.value_error(
                                    &at,
                                    format!("ready \"{other}\" must be \"any\" or \"executable\""),
                                );
                                None
                            }
                            None => None,
                        }
                    }
                    None => Some(None),
                };
                match (directory, pattern, debounce, poll, ready) {
                    (Some(directory), Some(pattern), Some(debounce), Some(poll), Some(ready))
                        if !directory.is_empty() =>
                    {
                        Some(Trigger::Watch {
                            directory: PathBuf::from(directory),
                            pattern,
                            debounce,
                            poll,
                            ready,
                        })
                    }
                    _ => None,
                }
            }
            None => None,
        };
        let target = match get("kick") {
            Some(v) => self.kick(v, &child(path, "kick")),
            None => {
                self.value_error(
                    path,
                    format!("{label} has no kick: add e.g. \"kick: public qmgr I\""),
                );
                None
            }
        };
        let timeout = match get("timeout") {
            Some(v) => self.duration(
                v,
                &child(path, "timeout"),
                "timeout",
                Duration::from_millis(1)..=HOUR,
            ),
            None => Some(defaults.0),
        };
        let retry = match get("retry") {
            Some(v) => self.retry(v, &child(path, "retry"), defaults.1),
            None => Some(defaults.1),
        };
        let mut flag = |key: &str, default: bool| match get(key) {
            Some(v) => self.boolean(v, &child(path, key), key),
            None => Some(default),
        };
        let enabled = flag("enabled", true);
        let on_start = flag("on_start", false);
        if self.errors.len() != errors_before {
            return None;
        }
        Some(Rule {
            name: name?,
            trigger: trigger?,
            target: target?,
            timeout: timeout?,
            retry: retry?,
            enabled: enabled?,
            on_start: on_start?,
            position: self.index.value(path),
        })
    }
}

#[cfg(test)]
mod tests;
