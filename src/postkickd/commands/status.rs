//! `postkickd status`: asking the running daemon how its rules are doing.
//!
//! It prints a table for people, the JSON document for scripts (`--json`)
//! or Prometheus' text format (`--metrics`), all from the control socket's
//! answer, and exits as monitoring-plugins' checks do, so that Nagios,
//! Icinga or a timer can call it as it is: 0 when all is well; 2
//! (critical) while a rule is failing, a watched directory holds files
//! past its `drain_within`, a link of Postfix's path has failed, or the
//! daemon cannot be reached or does not answer; 1 (warning) when the last
//! reload was refused (the old rules still run) or a link needs a look;
//! 3 (unknown) when its answer cannot be read, or `-c`'s main.cf cannot
//! be read to find it. Each reason is one line on stderr.

use std::path::Path;

use crate::postkickd::control::client::{ask, ask_for};
use crate::postkickd::control::protocol::{ReloadResult, Request, StatusDocument};
use crate::postkickd::error::{Attention, DaemonError};
use crate::postkickd::output::out;
use crate::postkickd::render::table;

/// How `status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusForm {
    /// A table.
    Table,
    /// The JSON document.
    Json,
    /// Prometheus' text exposition format.
    Metrics,
}

/// A failure to ask, as monitoring reads it: no daemon, or a silent one,
/// is critical (no kick goes out); an answer not understood is unknown.
fn unreachable(err: DaemonError) -> DaemonError {
    let level = match err {
        DaemonError::Answer(_) => Attention::Unknown,
        _ => Attention::Critical,
    };
    DaemonError::Attention {
        level,
        reasons: vec![(level, err.to_string())],
    }
}

/// What in `status` needs attention, worst first.
fn findings(status: &StatusDocument) -> Vec<(Attention, String)> {
    let mut found = Vec::new();
    for rule in &status.rules {
        if rule.counters.failing() {
            let last = rule.last_kick.as_ref().map_or(String::new(), |kick| {
                format!(
                    "; last {} at {}{}",
                    kick.outcome.as_str(),
                    kick.at,
                    kick.error
                        .as_ref()
                        .map_or(String::new(), |error| format!(": {error}"))
                )
            });
            found.push((
                Attention::Critical,
                format!(
                    "rule {} is failing ({} kick{} in a row){last}",
                    rule.name,
                    rule.counters.consecutive_failures,
                    if rule.counters.consecutive_failures == 1 {
                        ""
                    } else {
                        "s"
                    }
                ),
            ));
        }
        if let Some(waiting) = rule.files_waiting_past_drain.filter(|n| *n > 0) {
            found.push((
                Attention::Critical,
                format!(
                    "rule {}: {waiting} file{} waiting past drain_within in its directory: is pickup running (postfix status), and can it read the directory? (journalctl -u postkickd for the oldest file)",
                    rule.name,
                    if waiting == 1 { "" } else { "s" }
                ),
            ));
        }
    }
    for link in &status.health {
        let level = match link.state.as_str() {
            "failed" => Attention::Critical,
            "warning" => Attention::Warning,
            _ => continue,
        };
        let fix = if link.fix.is_empty() {
            String::new()
        } else {
            format!(": {}", link.fix)
        };
        found.push((level, format!("{}: {}{fix}", link.name, link.cause)));
    }
    if let Some(reload) = status
        .last_reload
        .as_ref()
        .filter(|r| r.result == ReloadResult::Refused)
    {
        found.push((
            Attention::Warning,
            format!(
                "the last reload, at {}, was refused: {}; the rules loaded at {} still run: fix the file, then systemctl reload postkickd",
                reload.at,
                reload.error.as_deref().unwrap_or("-"),
                status.loaded
            ),
        ));
    }
    found.sort_by_key(|(level, _)| std::cmp::Reverse(*level));
    found
}

/// Prints the running daemon's status (of one rule, with `rule`).
/// `control` is the daemon's socket; `None`: that of the daemon serving
/// `config_directory`'s instance (a `main.cf` that cannot be read to name
/// it is unknown to monitoring, not a warning).
pub fn status(
    control: Option<&Path>,
    config_directory: Option<&Path>,
    rule: Option<&str>,
    form: StatusForm,
) -> Result<(), DaemonError> {
    let control =
        crate::postkickd::instance::control_socket(control, config_directory).map_err(|err| {
            DaemonError::Attention {
                level: Attention::Unknown,
                reasons: vec![(Attention::Unknown, err.to_string())],
            }
        })?;
    let control = control.as_path();
    if form == StatusForm::Metrics {
        out!("{}", ask(control, &Request::Metrics).map_err(unreachable)?);
        return Ok(());
    }
    let request = Request::Status {
        rule: rule.map(str::to_owned),
    };
    let (status, answer) = ask_for::<StatusDocument>(control, &request).map_err(unreachable)?;
    match form {
        StatusForm::Json => out!("{answer}"),
        _ => out!("{}", table(&status, jiff::Timestamp::now())),
    }
    let reasons = findings(&status);
    match reasons.first() {
        None => Ok(()),
        Some((level, _)) => Err(DaemonError::Attention {
            level: *level,
            reasons,
        }),
    }
}
