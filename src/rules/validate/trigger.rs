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

use super::{Fields, Validator, HOUR};
use crate::rules::error::{RuleErrorKind, RuleLabel};
use crate::rules::schedule::Cron;
use crate::rules::yaml::Node;
use crate::rules::{Readiness, Trigger};

/// One kind of trigger.
pub(crate) struct TriggerKind {
    /// The key that names it, and the name `check` and the logs use.
    pub(crate) name: &'static str,
    /// The other keys that belong to it.
    pub(crate) keys: &'static [&'static str],
    /// Reads its trigger; `None` after recording a mistake.
    read: fn(&mut Validator, &Fields<'_>) -> Option<Trigger>,
}

/// Every trigger kind, in the order messages list them.
pub(crate) const KINDS: &[TriggerKind] = &[
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
                fields.rule,
                RuleErrorKind::NoTrigger {
                    rule: label.clone(),
                    kinds: kind_names().collect(),
                },
            );
            None
        }
        [one] => Some(*one),
        [first, second, ..] => {
            let second = fields.entry(second.name).map(|e| e.at);
            v.error_at(
                second,
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
        let at = fields.entry(key).map(|e| e.at);
        let owners = KINDS
            .iter()
            .filter(|k| k.keys.contains(&key))
            .map(|k| k.name)
            .collect();
        v.error_at(
            at,
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
    read: impl FnOnce(&Node) -> Option<T>,
) -> Option<Option<T>> {
    match fields.get(key) {
        Some(value) => read(value).map(Some),
        None => Some(None),
    }
}

fn jitter(v: &mut Validator, fields: &Fields<'_>) -> Option<Duration> {
    optional(fields, "jitter", |value| {
        v.duration(value, "jitter", Duration::ZERO..=HOUR)
    })
    .map(Option::unwrap_or_default)
}

fn read_cron(v: &mut Validator, fields: &Fields<'_>) -> Option<Trigger> {
    let zone = optional(fields, "timezone", |value| {
        let name = v.string(value, "timezone")?;
        let zone = v.zones.named(&name);
        if zone.is_none() {
            let suggestion = v.zones.suggest(&name);
            v.value_error(value, RuleErrorKind::UnknownZone { name, suggestion });
        }
        zone
    })
    .map(|zone| zone.unwrap_or_else(|| v.zones.local()));
    let jitter = jitter(v, fields);
    let cron = fields.get("cron")?;
    let expression = v.string(cron, "cron")?;
    let schedule = match Cron::parse(&expression, zone?) {
        Ok(schedule) => schedule,
        Err(error) => {
            v.value_error(cron, RuleErrorKind::BadCron(error));
            return None;
        }
    };
    let catch_up = optional(fields, "catch_up", |value| v.boolean(value, "catch_up"));
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
    let watch = fields.get("watch")?;
    let directory = v.string(watch, "watch");
    if directory.as_deref() == Some("") {
        v.value_error(watch, RuleErrorKind::EmptyWatch);
    }
    let pattern = optional(fields, "pattern", |value| {
        let text = v.string(value, "pattern")?;
        match glob::Pattern::new(&text) {
            Ok(pattern) => Some(pattern),
            Err(e) => {
                let why = e.to_string();
                v.value_error(value, RuleErrorKind::BadPattern { pattern: text, why });
                None
            }
        }
    });
    let debounce = optional(fields, "debounce", |value| {
        v.duration(value, "debounce", Duration::ZERO..=HOUR)
    })
    .map(Option::unwrap_or_default);
    let poll = optional(fields, "poll", |value| {
        v.duration(
            value,
            "poll",
            Duration::from_millis(100)..=Duration::from_secs(86_400),
        )
    });
    let ready = optional(fields, "ready", |value| {
        match v.string(value, "ready")?.as_str() {
            "any" => Some(Readiness::Any),
            "executable" => Some(Readiness::Executable),
            other => {
                let text = other.to_owned();
                v.value_error(value, RuleErrorKind::BadReady { text });
                None
            }
        }
    });
    let drain_within = optional(fields, "drain_within", |value| {
        v.duration(
            value,
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
