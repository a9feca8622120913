//! Why a kick could not reach its endpoint.
//!
//! Each variant is one of Postfix's failure reports, worded as Postfix
//! words it; the path is kept as bytes so that the caller can sanitise it
//! the way Postfix does. What a failure means lives here too: how loudly
//! Postfix's `postkick` reports it ([`EndpointError::severity`]) and what
//! an administrator can do about it ([`EndpointError::hint`]); whether and
//! where to print either is the caller's business.

use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::sys::io_error_text;

/// Why Postfix's `safe_open` refuses a FIFO.
#[derive(Debug)]
pub enum FifoRefusal {
    /// `open(2)` failed: `ENXIO` means no server holds the FIFO open.
    Open(std::io::Error),
    /// The FIFO has other hard links.
    HardLinks(u64),
    /// The path names a directory.
    Directory,
    /// The path is a symbolic link not owned by root in a root-only directory.
    SymbolicLink,
    /// The file changed between `open` and `lstat`.
    Changed(Option<std::io::Error>),
}

impl fmt::Display for FifoRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open(err) => write!(f, "cannot open file: {}", io_error_text(err)),
            Self::HardLinks(n) => write!(f, "file has {n} hard links"),
            Self::Directory => f.write_str("file is a directory"),
            Self::SymbolicLink => f.write_str("file is a symbolic link"),
            Self::Changed(None) => f.write_str("file status changed unexpectedly"),
            Self::Changed(Some(err)) => {
                write!(
                    f,
                    "file status changed unexpectedly: {}",
                    io_error_text(err)
                )
            }
        }
    }
}

/// How loudly Postfix's `postkick` reports a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loudness {
    /// A `warning:` line, always.
    Warning,
    /// A `warning:` line, only with `-v`.
    VerboseWarning,
    /// A plain line, only with `-v`.
    VerboseInfo,
    /// A `fatal:` line.
    Fatal,
}

/// A kick that did not reach its endpoint.
#[derive(Debug)]
pub enum EndpointError {
    /// `stat` failed: a missing endpoint, or a directory without search
    /// permission.
    Lookup {
        /// The endpoint path.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// The path is neither a FIFO nor a socket.
    NotSocketOrFifo {
        /// The endpoint path.
        path: PathBuf,
    },
    /// The socket path does not fit in `sockaddr_un` (108 bytes or more).
    NameTooLong {
        /// The endpoint path.
        path: PathBuf,
    },
    /// The FIFO could not be opened safely.
    FifoOpen {
        /// The endpoint path.
        path: PathBuf,
        /// Which of Postfix's safety checks failed.
        why: FifoRefusal,
    },
    /// `connect(2)` failed: refused (a stale socket), permission denied,
    /// a full backlog, or a datagram socket.
    Connect {
        /// The endpoint path.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// The request could not be written (a full FIFO, a write that timed
    /// out). Postfix's `postkick` reports this with `-v` only and exits 0;
    /// the daemon counts it as a failed attempt.
    Write {
        /// The endpoint path.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
}

impl EndpointError {
    /// The text Postfix prints for this failure, after its level.
    pub fn message(&self) -> Vec<u8> {
        let (prefix, path, suffix): (&str, &PathBuf, String) = match self {
            Self::Lookup { path, source } => (
                "unable to look up ",
                path,
                format!(": {}", io_error_text(source)),
            ),
            Self::NotSocketOrFifo { path } => ("", path, " is not a socket or a fifo".into()),
            Self::NameTooLong { path } => ("unix-domain name too long: ", path, String::new()),
            Self::FifoOpen { path, why } => ("fifo_trigger: open ", path, format!(": {why}")),
            Self::Connect { path, source } => (
                "unix_trigger: connect to ",
                path,
                format!(": {}", io_error_text(source)),
            ),
            Self::Write { path, source } => {
                ("write to ", path, format!(": {}", io_error_text(source)))
            }
        };
        [
            prefix.as_bytes(),
            path.as_os_str().as_bytes(),
            suffix.as_bytes(),
        ]
        .concat()
    }

    /// How Postfix's `postkick` reports it.
    pub fn loudness(&self) -> Loudness {
        match self {
            Self::Lookup { .. } | Self::NotSocketOrFifo { .. } => Loudness::Warning,
            Self::NameTooLong { .. } => Loudness::Fatal,
            Self::FifoOpen { .. } => Loudness::VerboseInfo,
            Self::Connect { .. } | Self::Write { .. } => Loudness::VerboseWarning,
        }
    }
}

impl EndpointError {
    /// Whether nothing serves the endpoint (it is missing, a stale socket,
    /// a FIFO nobody reads): a failure whose cause is in Postfix's path,
    /// not in the kick or its permissions.
    pub(crate) fn is_absence(&self) -> bool {
        match self {
            Self::Lookup { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            Self::Connect { source, .. } => source.kind() == std::io::ErrorKind::ConnectionRefused,
            Self::FifoOpen { .. } => true,
            _ => false,
        }
    }

    /// What an administrator can do about this failure, as one phrase.
    pub fn hint(&self) -> &'static str {
        let source = match self {
            Self::Lookup { source, .. }
            | Self::Connect { source, .. }
            | Self::Write { source, .. } => Some(source),
            Self::FifoOpen {
                why: FifoRefusal::Open(source),
                ..
            } => Some(source),
            _ => None,
        };
        let out_of_descriptors = source
            .and_then(std::io::Error::raw_os_error)
            .is_some_and(|errno| errno == libc::EMFILE || errno == libc::ENFILE);
        if out_of_descriptors {
            return "out of file descriptors: raise LimitNOFILE= in the unit (ulimit -n), or kick less at once";
        }
        let io_kind = source.map(std::io::Error::kind);
        match (self, io_kind) {
            (_, Some(std::io::ErrorKind::PermissionDenied)) => {
                "run postkickd as the postfix user (User=postfix in the unit), which owns public/ and private/"
            }
            (Self::Lookup { .. }, Some(std::io::ErrorKind::NotFound)) => {
                "is Postfix running, and is the service in master.cf? (postconf -M)"
            }
            (Self::Connect { .. }, Some(std::io::ErrorKind::ConnectionRefused)) => {
                "a stale socket: Postfix is down or the service is not running"
            }
            (Self::FifoOpen { .. }, _) => "no process reads this FIFO: is Postfix running?",
            (Self::NotSocketOrFifo { .. }, _) => {
                "the endpoint is neither socket nor FIFO: check class and service"
            }
            (Self::NameTooLong { .. }, _) => {
                "shorten the class or service name: UNIX-domain socket paths must be shorter than 108 bytes"
            }
            (Self::Write { .. }, _) => {
                "the endpoint takes nothing: for a FIFO, is the service reading it (a full pipe)?"
            }
            _ => "see the error",
        }
    }
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.message()))
    }
}

impl std::error::Error for EndpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Lookup { source, .. }
            | Self::Connect { source, .. }
            | Self::Write { source, .. } => Some(source),
            _ => None,
        }
    }
}
