//! `postkickd status`: asking the running daemon how its rules are doing.
//!
//! It prints a table for people, the JSON document for scripts (`--json`)
//! or Prometheus' text format (`--metrics`), all from the control socket's
//! answer; its exit status is 1 while any rule's last kick failed, so that
//! monitoring can call it.

use std::path::Path;

use crate::postkickd::control::client::{ask, ask_for};
use crate::postkickd::control::protocol::{Request, StatusDocument};
use crate::postkickd::error::DaemonError;
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

/// Prints the running daemon's status (of one rule, with `rule`).
pub fn status(control: &Path, rule: Option<&str>, form: StatusForm) -> Result<(), DaemonError> {
    if form == StatusForm::Metrics {
        out!("{}", ask(control, &Request::Metrics)?);
        return Ok(());
    }
    let request = Request::Status {
        rule: rule.map(str::to_owned),
    };
    let (status, answer) = ask_for::<StatusDocument>(control, &request)?;
    match form {
        StatusForm::Json => out!("{answer}"),
        _ => out!("{}", table(&status)),
    }
    let failing = status.failing();
    if failing.is_empty() {
        Ok(())
    } else {
        Err(DaemonError::Failing(failing))
    }
}
