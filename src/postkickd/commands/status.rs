//! `postkickd status` and `postkickd kick`: asking the running daemon.
//!
//! Both talk to the control socket (`control`). `status` prints a table
//! for people, the JSON document for scripts (`--json`) or Prometheus'
//! text format (`--metrics`); its exit status is 1 while any rule's last
//! kick failed, so that monitoring can call it. `kick RULE` fires a rule
//! now through the daemon, as `systemctl start` does for a timer's
//! service, and prints the outcome; exit 0 only if the kick was delivered
//! (for a flush rule: answered ok).

use std::path::Path;

use serde_json::Value;

use crate::postkickd::control::ask;
use crate::postkickd::stats::SUCCEEDED;
use crate::postkickd::status::{failing, table};
use crate::postkickd::DaemonError;

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

fn parse(answer: &str) -> Result<Value, DaemonError> {
    let value: Value = serde_json::from_str(answer)
        .map_err(|e| DaemonError::Answer(format!("the daemon's answer is not JSON: {e}")))?;
    match value["error"].as_str() {
        Some(error) => Err(DaemonError::Answer(error.to_owned())),
        None => Ok(value),
    }
}

/// Prints the running daemon's status (of one rule, with `rule`).
pub fn status(control: &Path, rule: Option<&str>, form: StatusForm) -> Result<(), DaemonError> {
    if form == StatusForm::Metrics {
        print!("{}", ask(control, "metrics")?);
        return Ok(());
    }
    let request = match rule {
        Some(rule) => format!("status {rule}"),
        None => "status".to_owned(),
    };
    let answer = ask(control, &request)?;
    let status = parse(&answer)?;
    match form {
        StatusForm::Json => print!("{answer}"),
        _ => print!("{}", table(&status)),
    }
    let failing = failing(&status);
    if failing.is_empty() {
        Ok(())
    } else {
        Err(DaemonError::Failing(failing))
    }
}

/// Fires `rule` now through the running daemon and prints the outcome.
pub fn kick(control: &Path, rule: &str) -> Result<(), DaemonError> {
    let answer = parse(&ask(control, &format!("kick {rule}"))?)?;
    let outcome = answer["outcome"].as_str().unwrap_or("unknown");
    println!(
        "{rule}: {outcome} after {} attempt{} in {:.3} ms{}",
        answer["attempts"],
        if answer["attempts"] == 1 { "" } else { "s" },
        answer["duration_ms"].as_f64().unwrap_or(0.0),
        answer["error"]
            .as_str()
            .map_or(String::new(), |e| format!(": {e}"))
    );
    if SUCCEEDED.contains(&outcome) {
        Ok(())
    } else {
        Err(DaemonError::Answer(format!("{rule}: the kick {outcome}")))
    }
}
