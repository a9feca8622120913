//! The core sender: delivers one kick to a Postfix trigger endpoint.
//!
//! It owns the choice of transport (Postfix's `mail_trigger`: `stat` the
//! path, follow symbolic links, then a FIFO or a UNIX-domain socket), the
//! bytes on the wire (a FIFO gets the request; a socket gets the request and
//! one NUL), the timeouts, and what each failure means to an administrator
//! ([`EndpointError::hint`]). Both kick tools call [`kick`]: the `postkick`
//! command on a single-threaded runtime, the daemon for many kicks at once;
//! `postkickd check` calls `probe`, the same look at the endpoint that every
//! kick starts with. It never blocks a runtime thread, never prints, and
//! never interprets the request: what a service does with the bytes is the
//! `services` module's business. The endpoint path is trusted only as far as
//! Postfix trusts it: a FIFO is opened without following an untrusted
//! symbolic link.
//!
//! A server that reads the request and closes before the trailing NUL is
//! written has received the kick: the resulting `EPIPE` is recorded in the
//! report, never raised. Every program built on the Rust runtime ignores
//! `SIGPIPE`, so such a write fails instead of killing the process, which is
//! what Postfix 3.7's own `postkick` gets wrong.

mod error;
mod fifo;
mod socket;

pub use error::{EndpointError, FifoRefusal, Loudness};

use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long each stage of a kick may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting, and each write (Postfix's `trigger_timeout`).
    pub io: Duration,
    /// After the writes, the wait for the server to close, beyond which the
    /// kick is reported as a read timeout (Postfix: `trigger_timeout` + 100 s).
    pub read: Duration,
    /// The overall wait for the server to close, after which the kick ends
    /// quietly (Postfix's `application_event_drain_time`).
    pub drain: Duration,
}

impl Timeouts {
    /// The timeouts Postfix's `postkick` derives from `main.cf`.
    pub fn postfix(trigger_timeout: Duration, application_event_drain_time: Duration) -> Self {
        Self {
            io: trigger_timeout,
            read: trigger_timeout + Duration::from_secs(100),
            drain: application_event_drain_time,
        }
    }

    /// Timeouts that end the whole kick within `limit`, as the daemon wants.
    pub fn within(limit: Duration) -> Self {
        Self {
            io: limit,
            read: limit,
            drain: limit,
        }
    }
}

/// The kind of endpoint a kick reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointKind {
    /// A named pipe: the request bytes only.
    Fifo,
    /// A UNIX-domain stream socket: the request bytes and one NUL.
    Socket,
}

impl EndpointKind {
    /// A short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fifo => "fifo",
            Self::Socket => "unix-domain socket",
        }
    }
}

/// Which write failed, and how. A failed write still counts as a kick, as
/// in Postfix: the endpoint was reached.
#[derive(Debug)]
pub struct WriteFailure {
    /// True when the request itself was written in full and only the
    /// trailing NUL failed.
    pub request_written: bool,
    /// The error; `ErrorKind::TimedOut` when the write timed out.
    pub error: io::Error,
}

impl WriteFailure {
    /// True when the server read the request and closed before the
    /// trailing NUL: a delivered kick (Postfix 3.7 dies of SIGPIPE here).
    pub fn is_peer_closed_after_request(&self) -> bool {
        self.request_written && self.error.kind() == io::ErrorKind::BrokenPipe
    }
}

/// How the wait for a socket server to close ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerOutcome {
    /// FIFOs are closed at once: there is no peer to wait for.
    NotWaited,
    /// The server closed or said something, after this long.
    Closed(Duration),
    /// The read timer ran out first (Postfix warns about this).
    ReadTimeout(Duration),
    /// The drain time ran out first (Postfix ends quietly).
    DrainExpired(Duration),
}

/// What a delivered kick did.
#[derive(Debug)]
pub struct Report {
    /// The endpoint's kind.
    pub kind: EndpointKind,
    /// Bytes accepted by the kernel, the NUL included.
    pub bytes_written: usize,
    /// A write that failed, if any.
    pub write_failure: Option<WriteFailure>,
    /// How the server left.
    pub peer: PeerOutcome,
    /// From the `stat` to the end.
    pub elapsed: Duration,
}

/// `sizeof(sockaddr_un.sun_path)` on Linux: a socket path this long does
/// not fit with its terminating NUL.
pub(crate) const SUN_PATH_LEN: usize = 108;

/// The path of a service's endpoint below a queue directory, as Postfix
/// forms it (`class/service`, unvalidated).
pub(crate) fn locate(queue_directory: &Path, class: &[u8], service: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let mut relative = class.to_vec();
    relative.push(b'/');
    relative.extend_from_slice(service);
    queue_directory.join(std::ffi::OsStr::from_bytes(&relative))
}

/// What kind of endpoint `path` is, as a kick would find it: `stat`
/// (following symbolic links, as Postfix does), then a FIFO, or a socket
/// whose path fits `sockaddr_un`. Nothing is opened.
pub(crate) fn probe(path: &Path) -> Result<EndpointKind, EndpointError> {
    use std::os::unix::ffi::OsStrExt;
    let metadata = std::fs::metadata(path).map_err(|source| EndpointError::Lookup {
        path: path.to_owned(),
        source,
    })?;
    let file_type = metadata.file_type();
    if file_type.is_fifo() {
        Ok(EndpointKind::Fifo)
    } else if !file_type.is_socket() {
        Err(EndpointError::NotSocketOrFifo {
            path: path.to_owned(),
        })
    } else if path.as_os_str().as_bytes().len() >= SUN_PATH_LEN {
        Err(EndpointError::NameTooLong {
            path: path.to_owned(),
        })
    } else {
        Ok(EndpointKind::Socket)
    }
}

/// Delivers `request` to the endpoint at `path`.
pub async fn kick(
    path: &Path,
    request: &[u8],
    timeouts: Timeouts,
) -> Result<Report, EndpointError> {
    let started = Instant::now();
    let mut report = match probe(path)? {
        EndpointKind::Fifo => fifo::kick(path, request, timeouts.io).await?,
        EndpointKind::Socket => socket::kick(path, request, timeouts, started).await?,
    };
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Writes all of `bytes` within `limit`, counting what the kernel took.
async fn write_within<W>(
    writer: &mut W,
    bytes: &[u8],
    limit: Duration,
    written: &mut usize,
) -> io::Result<()>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    let all = async {
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = writer.write(rest).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            *written += n;
            rest = &rest[n..];
        }
        Ok(())
    };
    match tokio::time::timeout(limit, all).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::from_raw_os_error(libc::ETIMEDOUT)),
    }
}
