//! Why a command failed, or the daemon could not start or reload, and
//! the one place such an error becomes lines on stderr and an exit status.
//!
//! Every command returns a `Result<(), DaemonError>`; the library keeps
//! the error typed, and [`exit`] words it for people at the edge. It
//! prints nothing else and decides no other exit status.

use std::io::Write as _;

use super::logging;
use super::sources::files::WatchError;
use crate::exit::Exit;
use crate::postfix::config::ConfigError;
use crate::rules::RulesError;

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
    /// A reload's rules file points at another Postfix instance than the
    /// one the daemon's control socket and state file belong to.
    #[error("the rules file now points at another Postfix instance than {serving}, whose control socket and state file this daemon uses: restart postkickd to serve the other (or give run --control and --state)")]
    InstanceMoved {
        /// The instance the daemon serves.
        serving: String,
    },
    /// A Postfix instance whose name cannot name postkickd's files.
    #[error(transparent)]
    InstanceName(#[from] super::instance::InstanceNameError),
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
    /// `--log-target syslog` and no syslog socket to write to.
    #[error("cannot log to syslog through {path}: {}: start a syslog daemon (rsyslog), or log to standard error (--log-target stderr)", crate::sys::io_error_text(source))]
    Syslog {
        /// The socket.
        path: String,
        /// Why not.
        source: std::io::Error,
    },
    /// The running daemon cannot be asked.
    #[error(
        "cannot reach postkickd at {path}: {}{}",
        crate::sys::io_error_text(source),
        control_advice(path, source)
    )]
    Control {
        /// The control socket.
        path: String,
        /// Why not.
        source: std::io::Error,
    },
    /// The daemon took the request and said nothing in time.
    #[error("postkickd at {path} sent no answer within {seconds} s: it is hung, or busy with more clients than it serves at once (journalctl -u postkickd)")]
    ControlSilent {
        /// The control socket.
        path: String,
        /// How long the client waited.
        seconds: u64,
    },
    /// The daemon answered with an error.
    #[error("{0}")]
    Answer(String),
    /// `status`: what needs attention, worst first, one line each.
    #[error("{}", .reasons.iter().map(|(level, reason)| format!("{}: {reason}", level.as_str())).collect::<Vec<_>>().join("\n"))]
    Attention {
        /// The worst level found.
        level: Attention,
        /// Each finding with its level.
        reasons: Vec<(Attention, String)>,
    },
    /// `check` found what would make `run` fail.
    #[error("{path}: {errors} error{}: postkickd run would fail", if *errors == 1 { "" } else { "s" })]
    Check {
        /// The rules file.
        path: String,
        /// How many.
        errors: usize,
    },
    /// Another daemon answers on the control socket's path.
    #[error("{path}: another postkickd answers on this control socket: stop it, or give this one its own --control PATH")]
    ControlInUse {
        /// The control socket.
        path: String,
    },
    /// `--control-group` could not be given the socket.
    #[error("cannot give the control socket {path} to group {group}: {}: {}", crate::sys::io_error_text(source), if source.kind() == std::io::ErrorKind::NotFound { "create the group (groupadd --system GROUP) or name another with --control-group".to_owned() } else { format!("postkickd must run as root or as a member of {group} (under systemd, Group={group}: PrivateUsers=yes maps no supplementary group)") })]
    ControlGroup {
        /// The control socket.
        path: String,
        /// The group asked for.
        group: String,
        /// Why not.
        source: std::io::Error,
    },
    /// A directory the daemon keeps its files in is missing and cannot be
    /// made.
    #[error("cannot create {path} for the {what}: {}: create it (install -d -m {mode} -o postfix -g postdrop {path}), run postkickd as root once, or give {option} PATH", crate::sys::io_error_text(source))]
    Directory {
        /// The directory.
        path: String,
        /// What it is for: `control socket`, `state file`.
        what: &'static str,
        /// The mode it is made with, as install(1) takes it.
        mode: &'static str,
        /// The option that names another place.
        option: &'static str,
        /// Why not.
        source: std::io::Error,
    },
    /// Something other than a socket is at the control socket's path.
    #[error("{path} is a {what}, not a control socket, and is left alone: remove it, or give --control another path")]
    ControlNotSocket {
        /// The path.
        path: String,
        /// What is there.
        what: &'static str,
    },
    /// `reload --pid` names a process that is not a postkickd.
    #[error("process {pid} is not postkickd ({why}): give --pid the daemon's own process id ($MAINPID under systemd)")]
    NotTheDaemon {
        /// The process id given.
        pid: i32,
        /// What it is instead.
        why: String,
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

/// What to do when the control socket cannot be reached: who may use it
/// when permission is denied (its group, as the socket says), else
/// whether the daemon runs.
fn control_advice(path: &str, source: &std::io::Error) -> String {
    use std::os::unix::fs::MetadataExt;
    if source.kind() != std::io::ErrorKind::PermissionDenied {
        return format!(
            ": is it running (systemctl status {})?",
            super::instance::unit_of(std::path::Path::new(path))
        );
    }
    match std::fs::metadata(path) {
        Ok(meta) => format!(
            ": only root and group {} may ask: run as root, or add this user to that group",
            crate::sys::group_name(meta.gid())
        ),
        Err(_) => ": run as root, or as a member of the socket's group (postdrop under the unit)"
            .to_owned(),
    }
}

/// How much a `status` finding needs attention, as monitoring-plugins
/// name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Attention {
    /// Something to look at; kicks still go out (a refused reload).
    Warning,
    /// Mail may not be moving: a rule failing, a directory not draining,
    /// the daemon not running or not answering.
    Critical,
    /// The daemon's answer could not be understood.
    Unknown,
}

impl Attention {
    /// `WARNING`, `CRITICAL` or `UNKNOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "WARNING",
            Self::Critical => "CRITICAL",
            Self::Unknown => "UNKNOWN",
        }
    }

    /// The exit status monitoring reads: 1, 2 or 3.
    fn code(self) -> u8 {
        match self {
            Self::Warning => 1,
            Self::Critical => 2,
            Self::Unknown => 3,
        }
    }
}

impl DaemonError {
    /// Wraps an I/O error from setting up `what`.
    pub(crate) fn setup(what: &'static str) -> impl Fn(std::io::Error) -> DaemonError {
        move |source| DaemonError::Setup { what, source }
    }

    /// True when the message starts with the file it is about.
    fn names_its_file(&self) -> bool {
        matches!(
            self,
            Self::Rules(_) | Self::Config { .. } | Self::Check { .. } | Self::InstanceName(_)
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
    match err {
        DaemonError::Attention { level, .. } => Exit::Attention(level.code()),
        _ => Exit::Failure,
    }
}
