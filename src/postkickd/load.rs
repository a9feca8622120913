//! Loading: a rules file and the `main.cf` it points at, read with the
//! daemon's privileges, validated, and resolved into a [`Plan`] once.
//!
//! `run`, a reload and `check` all read through here, so they agree on
//! which `main.cf` a rules file uses (`-c`, else the file's
//! `postfix.config_directory`, else `$MAIL_CONFIG`, else `/etc/postfix`).
//! It reads those two files and nothing else (and the zone files of cron
//! rules, through `rules`); a local time that fell back to UTC is logged.

use std::path::{Path, PathBuf};

use super::error::DaemonError;
use super::plan::Plan;
use crate::postfix::config::{self, ConfigWarning, LoadOptions, MainCf};
use crate::rules::{self, RuleSet};

/// Reads the `main.cf` a rules file uses: `-c`, else the file's
/// `postfix.config_directory`, else `$MAIL_CONFIG`, else `/etc/postfix`.
pub(super) fn read_main_cf(
    rules_path: &Path,
    rules: &RuleSet,
    config_directory: Option<&Path>,
    mut warn: impl FnMut(ConfigWarning),
) -> Result<MainCf, DaemonError> {
    let chosen = config_directory.or(rules.config_directory.as_deref());
    let named_at = match (config_directory, rules.config_directory_position) {
        (None, Some(position)) => Some(rules::location(
            &rules_path.display().to_string(),
            Some(position),
        )),
        _ => None,
    };
    let options = LoadOptions {
        config_directory: config::config_directory(chosen.map(Path::as_os_str)),
        process_name: b"postkickd".to_vec(),
        untrusted: false,
    };
    config::load(&options, &mut warn).map_err(|error| DaemonError::Config {
        named_at,
        directory: PathBuf::from(&options.config_directory)
            .display()
            .to_string(),
        error,
    })
}

/// Reads the rules file and its `main.cf`, and resolves them into a plan.
pub(super) fn load_plan(
    rules_path: &Path,
    config_directory: Option<&Path>,
) -> Result<Plan, DaemonError> {
    let rules = rules::load(rules_path)?;
    if let Some(why) = rules
        .rules
        .iter()
        .find_map(super::lint::local_time_fallback)
    {
        tracing::warn!(event = "local_time_unknown", "{why}");
    }
    let main_cf = read_main_cf(rules_path, &rules, config_directory, |w| {
        tracing::warn!("main.cf: {w}");
    })?;
    Ok(Plan::resolve(&rules, &main_cf))
}
