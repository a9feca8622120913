//! `postkickd`: runs a rules file's kicks until told to stop.
//!
//! The rules file and the `main.cf` it points at are read with the
//! daemon's privileges and trusted only after validation; together they
//! become a `plan` once, which every command uses. `serve` runs
//! generations of a plan and owns the daemon's life (ready, reload, stop);
//! `sources` raise each rule's `pending` kick; one `kicker` per rule
//! sends it through the core sender, or as a flush request through the
//! flush client. `queue` reads the queue's size from showq when `status`
//! asks. `commands` are the read-only and demonstration commands; `lint`
//! is what `check` adds to validation.
//! Every command returns a `Result`; [`exit`] turns it into lines on
//! stderr and an [`Exit`], the one place that happens.

mod commands;
mod control;
mod kicker;
mod lint;
mod logging;
mod pending;
mod plan;
mod queue;
mod running;
mod serve;
mod sources;
mod state;
mod stats;
mod status;
mod stop;
mod systemd;
mod whole_file;

pub use commands::{check, demo, endpoints, kick, next, reload, status, StatusForm};
pub use control::DEFAULT_CONTROL_PATH;
pub use logging::{init as init_logging, LogFormat};
pub use serve::run;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::exit::Exit;
use crate::postfix::config::{self, ConfigError, ConfigWarning, LoadOptions, MainCf};
use crate::rules::{self, RuleSet, RulesError};
use plan::Plan;
pub use sources::watch::WatchError;

/// What `postkickd run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The rules file.
    pub rules_path: PathBuf,
    /// `-c`: overrides the rules file's `postfix.config_directory`.
    pub config_directory: Option<PathBuf>,
    /// Log the kicks instead of sending them.
    pub dry_run: bool,
    /// The control socket; `None`: the unit's, if its directory exists.
    pub control: Option<PathBuf>,
    /// The state file; `None`: the unit's, if its directory exists.
    pub state: Option<PathBuf>,
}

/// Why a command failed, or the daemon could not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The rules file is unreadable or invalid.
    #[error(transparent)]
    Rules(#[from] RulesError),
    /// `main.cf` is unreadable or invalid.
    #[error("{}{directory}/main.cf: {}; fix it, or point postfix.config_directory in the rules file (or -c) at the right directory", named_at.as_ref().map_or(String::new(), |at| format!("{at}: ")), String::from_utf8_lossy(&error.message()))]
    Config {
        /// Where the rules file names the directory (`FILE:LINE:COLUMN`),
        /// when it does.
        named_at: Option<String>,
        /// The configuration directory.
        directory: String,
        /// Postfix's words for the problem.
        error: ConfigError,
    },
    /// The file watcher could not start.
    #[error(transparent)]
    Watch(#[from] WatchError),
    /// The queue directory cannot be entered.
    #[error("cannot enter the queue directory {path} as user {user}: {}: check queue_directory in main.cf, and run as the postfix user (User=postfix in the unit)", crate::sys::io_error_text(source))]
    QueueDirectory {
        /// The directory.
        path: String,
        /// Who tried.
        user: String,
        /// Why not.
        source: std::io::Error,
    },
    /// The running daemon cannot be asked.
    #[error("cannot reach postkickd at {path}: {}: is it running (systemctl status postkickd), and are you root or in group postfix?", crate::sys::io_error_text(source))]
    Control {
        /// The control socket.
        path: String,
        /// Why not.
        source: std::io::Error,
    },
    /// The daemon answered with an error.
    #[error("{0}")]
    Answer(String),
    /// `status`: rules whose last kick failed.
    #[error("failing: {}", .0.join(", "))]
    Failing(Vec<String>),
    /// `check` found what would make `run` fail.
    #[error("{path}: {errors} error{}: postkickd run would fail", if *errors == 1 { "" } else { "s" })]
    Check {
        /// The rules file.
        path: String,
        /// How many.
        errors: usize,
    },
    /// The runtime, a signal handler or a test queue could not be set up.
    #[error("cannot set up {what}: {source}")]
    Setup {
        /// What was being set up, as a message names it.
        what: &'static str,
        /// The system's error.
        source: std::io::Error,
    },
}

impl DaemonError {
    /// Wraps an I/O error from setting up `what`.
    fn setup(what: &'static str) -> impl Fn(std::io::Error) -> DaemonError {
        move |source| DaemonError::Setup { what, source }
    }

    /// True when the message starts with the file it is about.
    fn names_its_file(&self) -> bool {
        matches!(
            self,
            Self::Rules(_) | Self::Config { .. } | Self::Check { .. }
        )
    }
}

/// Prints a command's error, if any, and gives its exit status. An error
/// about a file starts with that file (`FILE:LINE:COLUMN: ...`, as
/// compilers do); any other starts with `postkickd:`.
pub fn exit(result: Result<(), DaemonError>) -> Exit {
    let Err(err) = result else {
        return Exit::Success;
    };
    let prefix = if err.names_its_file() {
        ""
    } else {
        "postkickd: "
    };
    let priority = logging::priority(tracing::Level::ERROR);
    // One write for many lines: a file can have a mistake on every line.
    let mut stderr = std::io::BufWriter::new(std::io::stderr().lock());
    for line in err.to_string().lines() {
        let _ = writeln!(stderr, "{priority}{prefix}{line}");
    }
    let _ = stderr.flush();
    Exit::Failure
}

/// Reads the `main.cf` a rules file uses: `-c`, else the file's
/// `postfix.config_directory`, else `$MAIL_CONFIG`, else `/etc/postfix`.
fn read_main_cf(
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
fn load_plan(rules_path: &Path, config_directory: Option<&Path>) -> Result<Plan, DaemonError> {
    let rules = rules::load(rules_path)?;
    let main_cf = read_main_cf(rules_path, &rules, config_directory, |w| {
        tracing::warn!("main.cf: {w}");
    })?;
    Ok(Plan::resolve(&rules, &main_cf))
}
