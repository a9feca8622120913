//! `postkickd kick RULE`: fires a rule now through the running daemon, as
//! `systemctl start` does for a timer's service, and prints the outcome;
//! exit 0 only if the kick did what the rule is for (delivered; for a
//! flush rule, answered ok).

use std::path::Path;

use crate::postkickd::control::client::ask_for;
use crate::postkickd::control::protocol::{KickAnswer, Request};
use crate::postkickd::error::DaemonError;
use crate::postkickd::output::outln;

/// Fires `rule` now through the running daemon and prints the outcome.
pub fn kick(control: &Path, rule: &str) -> Result<(), DaemonError> {
    let request = Request::Kick {
        rule: rule.to_owned(),
    };
    let (answer, _) = ask_for::<KickAnswer>(control, &request)?;
    outln!("{answer}");
    let outcome = answer.kick.outcome;
    if outcome.succeeded() {
        Ok(())
    } else {
        Err(DaemonError::Answer(format!(
            "{rule}: the kick {}",
            outcome.as_str()
        )))
    }
}
