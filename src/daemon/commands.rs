//! `postkickd check` and `postkickd next`: the daemon's read-only commands.
//!
//! `check` validates a rules file and lints it against the Postfix queue:
//! every error on stderr as `FILE:LINE:COLUMN: message`, warnings likewise,
//! and a one-line summary on stdout; its exit status is 0 for a usable
//! file and 1 otherwise. `next` prints the coming fire times of the timer
//! rules. Neither sends a kick or changes a file.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;

use crate::config::{self, ConfigWarning};
use crate::rules::{self, Diagnostic, RuleSet, RulesError, Trigger};

/// Exit status of a usable rules file.
const VALID: u8 = 0;
/// Exit status of an unusable one.
const INVALID: u8 = 1;

fn load_or_report(rules_path: &Path) -> Result<RuleSet, u8> {
    match rules::load(rules_path) {
        Ok(rules) => Ok(rules),
        Err(RulesError::Invalid { path, errors }) => {
            for error in &errors {
                eprintln!("{}", error.render(&path));
            }
            let plural = if errors.len() == 1 { "" } else { "s" };
            eprintln!("{path}: {} error{plural}: nothing was loaded", errors.len());
            Err(INVALID)
        }
        Err(err) => {
            eprintln!("{err}");
            Err(INVALID)
        }
    }
}

/// Validates and lints a rules file; returns the exit status.
pub fn check(rules_path: &Path, config_directory: Option<&Path>) -> u8 {
    let shown = rules_path.display().to_string();
    let rules = match load_or_report(rules_path) {
        Ok(rules) => rules,
        Err(status) => return status,
    };
    let options = super::main_cf_options(&rules, config_directory);
    let mut warnings: Vec<Diagnostic> = Vec::new();
    let mut config_warnings = Vec::new();
    let queue = match config::load(&options, &mut |w: ConfigWarning| config_warnings.push(w)) {
        Ok(main_cf) => Some(main_cf.queue_directory),
        Err(err) => {
            warnings.push(Diagnostic {
                position: None,
                message: format!(
                    "cannot read {}/main.cf ({}): endpoints and relative watch directories are not checked",
                    Path::new(&options.config_directory).display(),
                    String::from_utf8_lossy(&err.message())
                ),
            });
            None
        }
    };
    warnings.extend(config_warnings.into_iter().map(|w| Diagnostic {
        position: None,
        message: format!("main.cf: {w}"),
    }));
    warnings.extend(rules::lint(&rules, queue.as_deref()));
    for warning in &warnings {
        let marked = Diagnostic {
            position: warning.position,
            message: format!("warning: {}", warning.message),
        };
        eprintln!("{}", marked.render(&shown));
    }
    let count = |kind: &str| {
        rules
            .rules
            .iter()
            .filter(|r| r.trigger.kind() == kind)
            .count()
    };
    let disabled = rules.rules.iter().filter(|r| !r.enabled).count();
    println!(
        "{shown}: valid: {} rules ({} cron, {} every, {} watch{}), {} warning{}",
        rules.rules.len(),
        count("cron"),
        count("every"),
        count("watch"),
        if disabled > 0 {
            format!("; {disabled} disabled")
        } else {
            String::new()
        },
        warnings.len(),
        if warnings.len() == 1 { "" } else { "s" },
    );
    VALID
}

/// Prints the next `count` fire times of every enabled timer rule.
pub fn next(rules_path: &Path, count: usize) -> u8 {
    let rules = match load_or_report(rules_path) {
        Ok(rules) => rules,
        Err(status) => return status,
    };
    let now = Utc::now();
    let width = rules.rules.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for rule in rules.rules.iter().filter(|r| r.enabled) {
        match &rule.trigger {
            Trigger::Cron {
                schedule,
                expression,
                jitter,
            } => {
                let mut at = now;
                for _ in 0..count {
                    let Some(next) = schedule.next_after(at) else {
                        println!(
                            "{:width$}  cron \"{expression}\": no future fire time",
                            rule.name
                        );
                        break;
                    };
                    println!(
                        "{:width$}  {}{}",
                        rule.name,
                        schedule.zone().display(next),
                        jitter_note(*jitter)
                    );
                    at = next;
                }
            }
            Trigger::Every { period, jitter } => {
                for k in 1..=count {
                    let offset = period.saturating_mul(u32::try_from(k).unwrap_or(u32::MAX));
                    let at = chrono::Duration::from_std(offset)
                        .ok()
                        .and_then(|d| now.checked_add_signed(d));
                    match at {
                        Some(at) => println!(
                            "{:width$}  {} (every {} from a start now){}",
                            rule.name,
                            crate::schedule::Zone::Local.display(at),
                            rules::display_duration(*period),
                            jitter_note(*jitter)
                        ),
                        None => break,
                    }
                }
            }
            Trigger::Watch { .. } => {}
        }
    }
    VALID
}

fn jitter_note(jitter: Duration) -> String {
    if jitter.is_zero() {
        String::new()
    } else {
        format!(" (+ up to {} jitter)", rules::display_duration(jitter))
    }
}
