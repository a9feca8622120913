//! Asking the running daemon: one request over its control socket, and
//! its answer read into the protocol's own types.
//!
//! The client trusts the socket's answer no further than its size (16 MiB)
//! and its time (the longest a `kick RULE` may wait, and a margin); an
//! answer that is not the document asked for is an error naming what came.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::protocol::{Reply, Request};
use super::server::KICK_WAIT;
use crate::postkickd::error::DaemonError;

/// The largest answer read.
const MAX_ANSWER: u64 = 16 << 20;

/// Sends one request to the daemon at `path`; its answer.
pub(crate) fn ask(path: &Path, request: &Request) -> Result<String, DaemonError> {
    use std::io::{Read, Write};
    let unreachable = |source: std::io::Error| DaemonError::Control {
        path: PathBuf::from(path).display().to_string(),
        source,
    };
    let mut stream = std::os::unix::net::UnixStream::connect(path).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(KICK_WAIT + Duration::from_secs(5)))
        .map_err(unreachable)?;
    stream
        .write_all(format!("{request}\n").as_bytes())
        .map_err(unreachable)?;
    let mut answer = String::new();
    stream
        .take(MAX_ANSWER)
        .read_to_string(&mut answer)
        .map_err(unreachable)?;
    Ok(answer)
}

/// Asks `request` and reads the JSON answer as a `T`.
pub(crate) fn ask_for<T: DeserializeOwned>(
    path: &Path,
    request: &Request,
) -> Result<(T, String), DaemonError> {
    let answer = ask(path, request)?;
    match serde_json::from_str::<Reply<T>>(&answer) {
        Ok(Reply::Document(document)) => Ok((document, answer)),
        Ok(Reply::Error(error)) => Err(DaemonError::Answer(error.error)),
        Err(e) => Err(DaemonError::Answer(format!(
            "the daemon's answer is not the document asked for: {e}"
        ))),
    }
}
