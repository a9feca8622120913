//! `postkickd check`: everything `postkickd run` would do before its first
//! kick, without kicking.
//!
//! It reads the rules file and `main.cf` as `run` does (an unreadable or
//! invalid one is an error, as it is for `run`), enters the queue
//! directory, and looks at every endpoint and watched directory as the
//! user it runs as (the unit runs it as `postfix` in `ExecStartPre=`, so a
//! permission problem fails the start with its reason). Errors and
//! warnings go to stderr as `FILE:LINE:COLUMN: ...`, a summary to stdout;
//! with `-v`, how each rule is read (a cron rule's fields and its next
//! fire times). It sends no kick and changes no file.

use std::path::Path;

use jiff::Timestamp;

use crate::files::Links;
use crate::postfix::config::ConfigWarning;
use crate::postfix::master::{running_master, MasterCf};
use crate::postkickd::error::DaemonError;
use crate::postkickd::lint::{self, Finding, Severity};
use crate::postkickd::load::read_main_cf;
use crate::postkickd::logging::priority;
use crate::postkickd::output::outln;
use crate::postkickd::plan::Plan;
use crate::rules::schedule::Cron;
use crate::rules::{self, Action, Rule, Trigger};

/// Validates and lints a rules file; an error if `run` would fail on it.
/// Every finding, error or warning, from the rules, `main.cf` and the
/// queue, is said in one run, in file order.
pub fn check(
    rules_path: &Path,
    config_directory: Option<&Path>,
    verbose: u8,
) -> Result<(), DaemonError> {
    let shown = rules_path.display().to_string();
    let (rules, mistakes) = rules::load_all(rules_path)?;
    // The file again, for the lines under the findings, read as load_all
    // read it (bounded, regular files only) and before the queue
    // directory is entered (the path may be relative).
    let source = crate::files::read_bounded(rules_path, rules::MAX_FILE_BYTES, Links::Follow)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default();
    let mut findings: Vec<Finding> = mistakes
        .errors
        .iter()
        .map(|mistake| Finding {
            position: mistake.position,
            severity: Severity::Error,
            message: mistake.kind.to_string(),
        })
        .collect();
    findings.extend(lint::rules(rules.rules.iter()));
    let mut config_warnings: Vec<ConfigWarning> = Vec::new();
    match read_main_cf(rules_path, &rules, config_directory, |w| {
        config_warnings.push(w);
    }) {
        Ok(main_cf) => {
            let plan = Plan::resolve(&rules, &main_cf);
            let master_cf = match MasterCf::read(&main_cf.config_directory) {
                Ok(master_cf) => master_cf,
                Err(why) => {
                    findings.push(Finding {
                        position: None,
                        severity: Severity::Warning,
                        message: format!(
                            "cannot read master.cf ({why}): the services the rules kick are not checked against it"
                        ),
                    });
                    None
                }
            };
            let services = master_cf.as_ref().map(|master_cf| lint::Services {
                master_cf,
                running: running_master(&plan.queue_directory).is_some(),
            });
            match plan.enter() {
                Ok(()) => {
                    findings.extend(lint::plan(&plan, services.as_ref()));
                    findings.extend(lint::flush(&plan, &main_cf));
                }
                Err(err) => findings.push(file_error(err.to_string())),
            }
            findings.extend(plan.metrics_file.as_deref().and_then(lint::metrics_file));
        }
        Err(DaemonError::Config {
            directory, error, ..
        }) => findings.push(Finding {
            // At the rules file's postfix.config_directory, if that is
            // where the directory comes from.
            position: rules
                .config_directory_position
                .filter(|_| config_directory.is_none()),
            severity: Severity::Error,
            message: DaemonError::Config {
                named_at: None,
                directory,
                error,
            }
            .to_string(),
        }),
        Err(other) => return Err(other),
    }
    findings.extend(config_warnings.into_iter().map(|w| Finding {
        position: None,
        severity: Severity::Warning,
        message: format!("main.cf: {w}"),
    }));
    let findings = print_findings(&shown, &source, findings);
    if verbose > 0 {
        for rule in &rules.rules {
            outln!("{}", reading(rule));
        }
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count()
        + mistakes.more;
    if mistakes.more > 0 {
        print_line(
            tracing::Level::ERROR,
            &format!("{shown}: and {} more mistakes", mistakes.more),
        );
    }
    if errors > 0 {
        return Err(DaemonError::Check {
            path: shown,
            errors,
        });
    }
    let warnings = findings.len();
    let disabled = rules.rules.iter().filter(|r| !r.enabled).count();
    let count = rules.rules.len();
    outln!(
        "{shown}: valid: {count} rule{} ({}{}), {warnings} warning{}",
        plural(count),
        rules::count_by_kind(rules.rules.iter()),
        if disabled > 0 {
            format!("; {disabled} disabled")
        } else {
            String::new()
        },
        plural(warnings),
    );
    Ok(())
}

/// An error about the whole file (the queue directory cannot be
/// entered): said first.
fn file_error(message: String) -> Finding {
    Finding {
        position: None,
        severity: Severity::Error,
        message,
    }
}

/// One line on stderr, with journald's priority when it reads it.
fn print_line(level: tracing::Level, line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{}{line}", priority(level));
}

/// The line a finding is about and a caret under its column, as
/// compilers show them; nothing for a finding that shows its own (a cron
/// expression's) or has no position.
fn under(source: &str, finding: &Finding) -> String {
    let Some(position) = finding.position.filter(|_| !finding.message.contains('\n')) else {
        return String::new();
    };
    let Some(line) = source.lines().nth(position.line.saturating_sub(1)) else {
        return String::new();
    };
    let pad: String = line
        .chars()
        .take(position.column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!("\n    {line}\n    {pad}^")
}

/// Prints findings in file order, each with its line of `source`;
/// returns them.
fn print_findings(shown: &str, source: &str, mut findings: Vec<Finding>) -> Vec<Finding> {
    use std::io::Write as _;
    findings.sort_by_key(|f| f.position);
    let mut stderr = std::io::BufWriter::new(std::io::stderr().lock());
    for f in &findings {
        let (level, priority) = match f.severity {
            Severity::Warning => ("warning: ", priority(tracing::Level::WARN)),
            Severity::Error => ("", priority(tracing::Level::ERROR)),
        };
        let _ = writeln!(
            stderr,
            "{priority}{}: {level}{}{}",
            rules::location(shown, f.position),
            f.message,
            under(source, f)
        );
    }
    let _ = stderr.flush();
    findings
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// How a rule is read: its trigger in words, its next fire times.
fn reading(rule: &Rule) -> String {
    let action = match &rule.action {
        Action::Kick(target) => format!("kick {target}"),
        flush => flush.to_string(),
    };
    let head = format!(
        "rule \"{}\"{}: {action}",
        rule.name,
        if rule.enabled { "" } else { " (disabled)" },
    );
    match &rule.trigger {
        Trigger::Cron {
            expression,
            schedule,
            ..
        } => {
            let mut at = Timestamp::now();
            let next: Vec<String> = (0..3)
                .map_while(|_| {
                    at = schedule.next_after(at)?;
                    Some(schedule.zone().display(at))
                })
                .collect();
            format!(
                "{head} on cron \"{expression}\" = {}; next: {}",
                Cron::reading(expression).unwrap_or_else(|| expression.clone()),
                next.join(", ")
            )
        }
        Trigger::Every { period, .. } => format!(
            "{head} every {} from the daemon's start",
            rules::display_duration(*period)
        ),
        Trigger::Watch { directory, .. } => {
            format!("{head} when a file arrives in {}", directory.display())
        }
    }
}
