//! `postkickd next`: the coming fire times of every enabled timer rule,
//! as one timeline.
//!
//! Cron rules are computed by the same [`Cron`] the running timers use,
//! from now (or from `--after`); `every` rules from a daemon started then.
//! Watch rules have no fire times. It needs no `main.cf`: timers do not
//! depend on the queue.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;

use crate::postkickd::output::outln;
use crate::postkickd::DaemonError;
use crate::rules::schedule::Zones;
use crate::rules::{self, Trigger};

/// One coming fire: when, and its line.
struct Fire {
    at: Option<Timestamp>,
    line: String,
}

/// Prints the next `count` fire times of every enabled timer rule after
/// `after` (default: now), as one timeline: every rule's fires merged in
/// time order, each line the time, the rule and how it was computed.
pub fn next(rules_path: &Path, count: usize, after: Option<Timestamp>) -> Result<(), DaemonError> {
    let rules = rules::load(rules_path)?;
    let now = after.unwrap_or_else(Timestamp::now);
    let local = Zones::from_environment().local();
    if let Some(why) = local.fallback() {
        // A closed stderr must not end the command with a panic.
        let _ = writeln!(std::io::stderr(), "postkickd: warning: {why}");
    }
    let mut fires = Vec::new();
    for rule in rules.rules.iter().filter(|r| r.enabled) {
        let name = &rule.name;
        match &rule.trigger {
            Trigger::Cron {
                schedule,
                expression,
                jitter,
                ..
            } => {
                let mut at = now;
                for _ in 0..count {
                    let Some(next) = schedule.next_after(at) else {
                        fires.push(Fire {
                            at: None,
                            line: format!(
                                "never{:>23}  {name}  cron \"{expression}\": no future fire time",
                                ""
                            ),
                        });
                        break;
                    };
                    fires.push(Fire {
                        at: Some(next),
                        line: format!(
                            "{}  {name}{}",
                            schedule.zone().display(next),
                            jitter_note(*jitter)
                        ),
                    });
                    at = next;
                }
            }
            Trigger::Every { period, jitter } => {
                for k in 1..=count {
                    let offset = period.saturating_mul(u32::try_from(k).unwrap_or(u32::MAX));
                    let Ok(at) = now.checked_add(offset) else {
                        break;
                    };
                    fires.push(Fire {
                        at: Some(at),
                        line: format!(
                            "{}  {name}  (every {} from a start now){}",
                            local.display(at),
                            rules::display_duration(*period),
                            jitter_note(*jitter)
                        ),
                    });
                }
            }
            Trigger::Watch { .. } => {}
        }
    }
    // In time order; a rule that never fires again last. The sort is
    // stable: simultaneous fires keep the file's order.
    fires.sort_by_key(|fire| fire.at.map_or((1, Timestamp::MAX), |at| (0, at)));
    for fire in fires {
        outln!("{}", fire.line);
    }
    Ok(())
}

fn jitter_note(jitter: Duration) -> String {
    if jitter.is_zero() {
        String::new()
    } else {
        format!(" (+ up to {} jitter)", rules::display_duration(jitter))
    }
}
