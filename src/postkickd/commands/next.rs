//! `postkickd next`: the coming fire times of every enabled timer rule.
//!
//! Cron rules are computed by the same [`Cron`] the running timers use,
//! from now (or from `--after`); `every` rules from a daemon started then.
//! Watch rules have no fire times. It needs no `main.cf`: timers do not
//! depend on the queue.

use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;

use crate::postkickd::output::outln;
use crate::postkickd::DaemonError;
use crate::rules::schedule::{Cron, Zones};
use crate::rules::{self, Trigger};

/// Prints the next `count` fire times of every enabled timer rule after
/// `after` (default: now).
pub fn next(rules_path: &Path, count: usize, after: Option<Timestamp>) -> Result<(), DaemonError> {
    let rules = rules::load(rules_path)?;
    let now = after.unwrap_or_else(Timestamp::now);
    let local = Zones::from_environment().local();
    if let Some(why) = local.fallback() {
        eprintln!("postkickd: warning: {why}");
    }
    let width = rules.rules.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for rule in rules.rules.iter().filter(|r| r.enabled) {
        let name = format!("{:width$}", rule.name);
        match &rule.trigger {
            Trigger::Cron {
                schedule,
                expression,
                jitter,
                ..
            } => print_cron(&name, expression, schedule, *jitter, now, count),
            Trigger::Every { period, jitter } => {
                for k in 1..=count {
                    let offset = period.saturating_mul(u32::try_from(k).unwrap_or(u32::MAX));
                    let Ok(at) = now.checked_add(offset) else {
                        break;
                    };
                    outln!(
                        "{name}  {} (every {} from a start now){}",
                        local.display(at),
                        rules::display_duration(*period),
                        jitter_note(*jitter)
                    );
                }
            }
            Trigger::Watch { .. } => {}
        }
    }
    Ok(())
}

fn print_cron(
    name: &str,
    expression: &str,
    schedule: &Cron,
    jitter: Duration,
    now: Timestamp,
    count: usize,
) {
    let mut at = now;
    for _ in 0..count {
        let Some(next) = schedule.next_after(at) else {
            outln!("{name}  cron \"{expression}\": no future fire time");
            break;
        };
        outln!(
            "{name}  {}{}",
            schedule.zone().display(next),
            jitter_note(jitter)
        );
        at = next;
    }
}

fn jitter_note(jitter: Duration) -> String {
    if jitter.is_zero() {
        String::new()
    } else {
        format!(" (+ up to {} jitter)", rules::display_duration(jitter))
    }
}
