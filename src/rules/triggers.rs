//! The trigger kinds a rule can have, as a table: each kind owns its keys
//! and its reader.
//!
//! A rule names exactly one kind by its key (`cron:`, `every:`, `watch:`);
//! the keys a kind owns (`timezone:` for cron, `pattern:` for watch, ...)
//! are refused on rules of other kinds, with the owners named. Adding a
//! kind is one [`TriggerKind`] entry here and its [`Trigger`] variant; the
//! validator, `check`'s summary and the daemon's counts all read this
//! table.

use std::path::PathBuf;
use std::time::Duration;

use serde_yaml::Value;

use super::error::{RuleErrorKind, RuleLabel};
use super::positions::{NodePath, Step};
use super::schedule::Cron;
use super::validate::{child, Entries, Validator, HOUR};
use super::{Readiness, Trigger};

/// A rule's entries, looked up by key.
pub(super) struct Fields<'v> {
    entries: Entries<'v>,
    path: NodePath,
}

impl<'v> Fields<'v> {
    pub(super) fn new(entries: Entries<'v>, path: &[Step]) -> Self {
        Self {
            entries,
            path: path.to_vec(),
        }
    }

    /// The value of `key`, if the rule has it.
    pub(super) fn get(&self, key: &str) -> Option<&'v Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The path of `key` in this rule.
    pub(super) fn at(&self, key: &str) -> NodePath {
        child(&self.path, key)
    }

    /// The rule itself.
    fn path(&self) -> &[Step] {
        &self.path
    }
}

/// One kind of trigger.
pub(super) struct TriggerKind {
    /// The key that names it, and the name `check` and the logs use.
    pub(super) name: &'static str,
    /// The other keys that belong to it.
    pub(super) keys: &'static [&'static str],
    /// Reads its trigger; `None` after recording a mistake.
    read: fn(&mut Validator, &Fields<'_>) -> Option<Trigger>,
}

/// Every trigger kind, in the order messages list them.
pub(super) const KINDS: &[TriggerKind] = &[
    TriggerKind {
        name: "cron",
        keys: &["timezone", "jitter", "catch_up"],
        read: read_cron,
    },
    TriggerKind {
        name: "every",
        keys: &["jitter"],
        read: read_every,
    },
    TriggerKind {
        name: "watch",
        keys: &["pattern", "debounce", "poll", "ready", "drain_within"],
        read: read_watch,
    },
];

/// The names of every trigger kind, in table order.
pub(crate) fn kind_names() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|k| k.name)
}

/// Reads the one trigger of a rule: exactly one kind, and no key that
/// belongs only to other kinds.
pub(super) fn read(v: &mut Validator, fields: &Fields<'_>, label: &RuleLabel) -> Option<Trigger> {
    let present: Vec<&TriggerKind> = KINDS
        .iter()
        .filter(|k| fields.get(k.name).is_some())
        .collect();
    let kind = match present.as_slice() {
        [] => {
            v.value_error(
                fields.path(),
                RuleErrorKind::NoTrigger {
                    rule: label.clone(),
                    kinds: kind_names().collect(),
                },
            );
            None
        }
        [one] => Some(*one),
        [first, second, ..] => {
            v.key_error(
                &fields.at(second.name),
                RuleErrorKind::ManyTriggers {
                    rule: label.clone(),
                    kinds: present.iter().map(|k| k.name).collect(),
                },
            );
            Some(*first)
        }
    };
    let kind = kind?;
    let foreign: Vec<&str> = KINDS
        .iter()
        .flat_map(|k| k.keys)
        .filter(|key| !kind.keys.contains(key) && fields.get(key).is_some())
        .copied()
        .collect();
    for key in dedup(foreign) {
        let owners = KINDS
            .iter()
            .filter(|k| k.keys.contains(&key))
            .map(|k| k.name)
            .collect();
        v.key_error(
            &fields.at(key),
            RuleErrorKind::KeyNotForKind {
                key: key.to_owned(),
                owners,
                rule: label.clone(),
                kind: kind.name,
            },
        );
    }
    (kind.read)(v, fields)
}

fn dedup(mut keys: Vec<&'static str>) -> Vec<&'static str> {
    let mut seen = Vec::new();
    keys.retain(|k| {
        let first = !seen.contains(k);
        seen.push(*k);
        first
    });
    keys
}

/// An optional key: `Some(None)` when absent, `None` after a mistake.
fn optional<T>(
    fields: &Fields<'_>,
    key: &str,
    read: impl FnOnce(&Value, NodePath) -> Option<T>,
) -> Option<Option<T>> {
    match fields.get(key) {
        Some(value) => read(value, fields.at(key)).map(Some),
        None => Some(None),
    }
}

fn jitter(v: &mut Validator, fields: &Fields<'_>) -> Option<Duration> {
    optional(fields, "jitter", |value, at| {
        v.duration(value, &at, "jitter", Duration::ZERO..=HOUR)
    })
    .map(Option::unwrap_or_default)
}

fn read_cron(v: &mut Validator, fields: &Fields<'_>) -> Option<Trigger> {
    let zone = optional(fields, "timezone", |value, at| {
        let name = v.string(value, &at, "timezone")?;
        let zone = v.zones.named(&name);
        if zone.is_none() {
            v.value_error(&at, RuleErrorKind::UnknownZone { name });
        }
        zone
    })
    .map(|zone| zone.unwrap_or_else(|| v.zones.local()));
    let jitter = jitter(v, fields);
    let at = fields.at("cron");
    let expression = fields
        .get("cron")
        .and_then(|value| v.string(value, &at, "cron"))?;
    let schedule = match Cron::parse(&expression, zone?) {
        Ok(schedule) => schedule,
        Err(error) => {
            v.value_error(&at, RuleErrorKind::BadCron(error));
            return None;
        }
    };
    let catch_up = optional(fields, "catch_up", |value, at| {
        v.boolean(value, &at, "catch_up")
    });
    Some(Trigger::Cron {
        expression,
        schedule,
        jitter: jitter?,
        catch_up: catch_up?.unwrap_or(false),
    })
}

fn read_every(v: &mut Validator, fields: &Fields<'_>) -> Option<Trigger> {
    let jitter = jitter(v, fields);
    let period = fields.get("every").and_then(|value| {
        v.duration(
            value,
            &fields.at("every"),
            "every",
            Duration::from_millis(1)..=Duration::from_secs(366 * 86_400),
        )
    });
    Some(Trigger::Every {
        period: period?,
        jitter: jitter?,
    })
}

fn read_watch(v: &mut Validator, fields: &Fields<'_>) -> Option<Trigger> {
    let at = fields.at("watch");
    let directory = fields
        .get("watch")
        .and_then(|value| v.string(value, &at, "watch"));
    if directory.as_deref() == Some("") {
        v.value_error(&at, RuleErrorKind::EmptyWatch);
    }
    let pattern = optional(fields, "pattern", |value, at| {
        let text = v.string(value, &at, "pattern")?;
        match glob::Pattern::new(&text) {
            Ok(pattern) => Some(pattern),
            Err(e) => {
                let why = e.to_string();
                v.value_error(&at, RuleErrorKind::BadPattern { pattern: text, why });
                None
            }
        }
    });
    let debounce = optional(fields, "debounce", |value, at| {
        v.duration(value, &at, "debounce", Duration::ZERO..=HOUR)
    })
    .map(Option::unwrap_or_default);
    let poll = optional(fields, "poll", |value, at| {
        v.duration(
            value,
            &at,
            "poll",
            Duration::from_millis(100)..=Duration::from_secs(86_400),
        )
    });
    let ready = optional(fields, "ready", |value, at| {
        match v.string(value, &at, "ready")?.as_str() {
            "any" => Some(Readiness::Any),
            "executable" => Some(Readiness::Executable),
            other => {
                let text = other.to_owned();
                v.value_error(&at, RuleErrorKind::BadReady { text });
                None
            }
        }
    });
    let drain_within = optional(fields, "drain_within", |value, at| {
        v.duration(
            value,
            &at,
            "drain_within",
            Duration::ZERO..=Duration::from_secs(86_400),
        )
    });
    let directory = directory.filter(|d| !d.is_empty())?;
    Some(Trigger::Watch {
        directory: PathBuf::from(directory),
        pattern: pattern?,
        debounce: debounce?,
        poll: poll?,
        ready: ready?,
        drain_within: drain_within?,
    })
}
