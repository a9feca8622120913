//! Kicks through a UNIX-domain stream socket, as Postfix's `unix_trigger`.
//!
//! The caller has checked that the path fits `sockaddr_un` ([`super::probe`]).
//! Connect without blocking (a full backlog fails at once with `EAGAIN`),
//! write the request and then one NUL byte, each within the I/O timeout,
//! then wait for the server's first sign of life (a greeting or its close)
//! so that the request is not thrown away by closing too early. The wait
//! ends at the read timeout (reported) or at the drain time (quietly),
//! whichever comes first. Nothing the server says is read.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{write_within, EndpointError, EndpointKind, PeerOutcome, Report, WriteFailure};

pub(super) async fn kick(
    path: &Path,
    request: &[u8],
    timeouts: super::Timeouts,
    started: Instant,
) -> Result<Report, EndpointError> {
    let connect_error = |source| EndpointError::Connect {
        path: path.to_owned(),
        source,
    };
    let mut stream =
        match tokio::time::timeout(timeouts.io, tokio::net::UnixStream::connect(path)).await {
            Ok(connected) => connected.map_err(connect_error)?,
            Err(_) => {
                return Err(connect_error(std::io::Error::from_raw_os_error(
                    libc::ETIMEDOUT,
                )))
            }
        };
    let mut bytes_written = 0;
    let mut write_failure = None;
    if let Err(error) = write_within(&mut stream, request, timeouts.io, &mut bytes_written).await {
        write_failure = Some(WriteFailure {
            request_written: false,
            error,
        });
    } else if let Err(error) =
        write_within(&mut stream, b"\0", timeouts.io, &mut bytes_written).await
    {
        write_failure = Some(WriteFailure {
            request_written: true,
            error,
        });
    }
    let waited = Instant::now();
    let (limit, expired): (Duration, fn(Duration) -> PeerOutcome) =
        if timeouts.read < timeouts.drain {
            (timeouts.read, PeerOutcome::ReadTimeout)
        } else {
            (timeouts.drain, PeerOutcome::DrainExpired)
        };
    let peer = match tokio::time::timeout(limit, stream.readable()).await {
        Ok(_) => PeerOutcome::Closed(waited.elapsed()),
        Err(_) => expired(waited.elapsed()),
    };
    Ok(Report {
        kind: EndpointKind::Socket,
        bytes_written,
        write_failure,
        peer,
        elapsed: started.elapsed(),
    })
}
