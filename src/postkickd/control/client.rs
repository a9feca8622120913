//! Asking the running daemon: one request over its control socket, and
//! its answer read into the protocol's own types.
//!
//! The client trusts the socket's answer no further than its size (16 MiB)
//! and its time: a `kick RULE` as long as the daemon waits for the kick,
//! anything else as long as the daemon may take to read the queue, each
//! with a margin; connecting counts, since a daemon whose backlog is full
//! leaves `connect` waiting. A daemon that says nothing in that time is
//! reported as silent, not as absent; an answer that is not the document
//! asked for is an error naming what came.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::protocol::{Reply, Request};
use super::queue;
use super::server::KICK_WAIT;
use crate::postkickd::error::DaemonError;

/// The largest answer read.
const MAX_ANSWER: u64 = 16 << 20;

/// How long an answer may take beyond the daemon's own wait.
const MARGIN: Duration = Duration::from_secs(5);

/// How long the daemon may take to answer `request`.
fn answer_within(request: &Request) -> Duration {
    match request {
        Request::Kick { .. } => KICK_WAIT + MARGIN,
        Request::Status { .. } | Request::Metrics => queue::READ_TIMEOUT + MARGIN,
        Request::Reload => super::server::RELOAD_WAIT + MARGIN,
    }
}

/// Sends one request to the daemon at `path`; its answer.
pub(crate) fn ask(path: &Path, request: &Request) -> Result<String, DaemonError> {
    let within = answer_within(request);
    let (sender, answer) = std::sync::mpsc::channel();
    let (path_owned, line) = (path.to_owned(), format!("{request}\n"));
    // The thread is left behind if the daemon never answers: the command
    // ends at once, and the thread with it.
    std::thread::spawn(move || {
        let _ = sender.send(exchange(&path_owned, &line, within));
    });
    let shown = || PathBuf::from(path).display().to_string();
    match answer.recv_timeout(within) {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(source)) if source.kind() == std::io::ErrorKind::WouldBlock => {
            Err(DaemonError::ControlSilent {
                path: shown(),
                seconds: within.as_secs(),
            })
        }
        Ok(Err(source)) => Err(DaemonError::Control {
            path: shown(),
            source,
        }),
        Err(_) => Err(DaemonError::ControlSilent {
            path: shown(),
            seconds: within.as_secs(),
        }),
    }
}

/// Connects, sends `line` and reads the answer to its end.
fn exchange(path: &Path, line: &str, within: Duration) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(path)?;
    stream.set_read_timeout(Some(within))?;
    stream.set_write_timeout(Some(within))?;
    stream.write_all(line.as_bytes())?;
    let mut answer = String::new();
    stream.take(MAX_ANSWER).read_to_string(&mut answer)?;
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
