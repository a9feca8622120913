//! `postkickd check`: validate a rules file and lint it against the queue.
//!
//! Every error goes to stderr as `FILE:LINE:COLUMN: message` (through the
//! same [`crate::postkickd::exit`] as `run`), warnings likewise with
//! `warning:`, and a one-line summary to stdout. The plan is the one `run`
//! would resolve; endpoints are probed with the sender's own code. It
//! sends no kick.

use std::path::Path;

use crate::postfix::config::ConfigWarning;
use crate::postkickd::lint::{self, Warning};
use crate::postkickd::plan::Plan;
use crate::postkickd::{read_main_cf, DaemonError};
use crate::rules;

/// Validates and lints a rules file; an error if it cannot be used.
pub fn check(rules_path: &Path, config_directory: Option<&Path>) -> Result<(), DaemonError> {
    let shown = rules_path.display().to_string();
    let rules = rules::load(rules_path)?;
    let mut config_warnings: Vec<ConfigWarning> = Vec::new();
    let main_cf = read_main_cf(&rules, config_directory, |w| config_warnings.push(w));
    let mut warnings = Vec::new();
    match &main_cf {
        Ok(main_cf) => warnings.extend(lint::plan(&Plan::resolve(&rules, main_cf))),
        Err(err) => warnings.push(Warning {
            position: None,
            message: format!("{err}; until then, endpoints and watch directories are not checked"),
        }),
    }
    warnings.extend(config_warnings.into_iter().map(|w| Warning {
        position: None,
        message: format!("main.cf: {w}"),
    }));
    warnings.extend(lint::requests(rules.rules.iter()));
    warnings.sort_by_key(|w| w.position);
    for warning in &warnings {
        eprintln!(
            "{}: warning: {}",
            rules::location(&shown, warning.position),
            warning.message
        );
    }
    let disabled = rules.rules.iter().filter(|r| !r.enabled).count();
    println!(
        "{shown}: valid: {} rules ({}{}), {} warning{}",
        rules.rules.len(),
        rules::count_by_kind(rules.rules.iter()),
        if disabled > 0 {
            format!("; {disabled} disabled")
        } else {
            String::new()
        },
        warnings.len(),
        if warnings.len() == 1 { "" } else { "s" },
    );
    Ok(())
}
