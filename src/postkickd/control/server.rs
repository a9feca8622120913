//! The control socket: asking the running daemon what it did and will do.
//!
//! A UNIX-domain stream socket (`/run/postkickd/control` under the unit,
//! `--control PATH` otherwise), mode 0660, in the daemon's own group
//! (postdrop under the unit) or the one `--control-group` names, which
//! must then take it. A client sends one line of at most 256 bytes within
//! two seconds: `status`, `status RULE`, `metrics`, `kick RULE` or
//! `reload`; it gets one answer (JSON, or the metrics text) and the
//! connection is closed. Anything else, too long or
//! too slow, gets `{"error": ...}`.
//!
//! No client can hold the daemon: at most [`MAX_CLIENTS`] are served at
//! once (the rest wait in the socket's backlog, costing the daemon no
//! descriptor; kicks keep theirs, see `running`), each has two seconds to
//! ask and five to take its answer, and the whole answers (`status`,
//! `metrics`) are made once for every client that asked before the making
//! began and shared, so a crowd that never reads holds one copy, not one
//! each. An `accept` that fails (out of descriptors) is retried after a
//! pause, never in a spin. `status` and `metrics` first refresh the
//! queue's size from showq (bounded, and at most once per 10 s). `kick
//! RULE` raises the rule's pending kick and answers with that kick's
//! outcome.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::observed::Observed;
use super::protocol::{ErrorAnswer, KickAnswer, KickDocument, ReloadAnswer, Request, MAX_REQUEST};
use crate::postkickd::error::DaemonError;
use crate::postkickd::render;

/// How many clients are served at once.
pub(crate) const MAX_CLIENTS: usize = 32;
/// How long a client may take to send its request line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a client may take to read its answer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The pause after an `accept` that failed.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// How long `kick RULE` waits for the kick's end.
pub(crate) const KICK_WAIT: Duration = Duration::from_secs(120);
/// The longest a `reload` request waits for the daemon's loop to reload.
pub(crate) const RELOAD_WAIT: Duration = Duration::from_secs(30);

/// A client's `reload`, handed to the daemon's loop, which reloads as at
/// SIGHUP and sends back what runs now, or why the reload was refused.
pub(crate) type ReloadAsked = tokio::sync::oneshot::Sender<Result<String, String>>;

/// The control socket's path, as this daemon made it: removed when
/// dropped (at stop), if the path still names the very socket it made.
pub(crate) struct OwnedSocket {
    path: PathBuf,
    /// Device and inode of the socket made.
    id: (u64, u64),
}

impl Drop for OwnedSocket {
    fn drop(&mut self) {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            if (meta.dev(), meta.ino()) == self.id {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// Binds the control socket at `path`. A stale socket there (nobody
/// answers) is replaced; a live one is another daemon's and is refused;
/// anything that is not a socket is never touched.
pub(crate) fn bind(
    path: &Path,
    group: Option<&str>,
) -> Result<(UnixListener, OwnedSocket), DaemonError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let setup = DaemonError::setup("the control socket");
    let shown = || path.display().to_string();
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(setup(e)),
        Ok(meta) if meta.file_type().is_socket() => {
            match std::os::unix::net::UnixStream::connect(path) {
                Ok(_) => return Err(DaemonError::ControlInUse { path: shown() }),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    std::fs::remove_file(path).map_err(&setup)?;
                }
                Err(e) => return Err(setup(e)),
            }
        }
        Ok(meta) => {
            let what = if meta.file_type().is_symlink() {
                "symlink"
            } else if meta.is_dir() {
                "directory"
            } else if meta.file_type().is_fifo() {
                "FIFO"
            } else {
                "file"
            };
            return Err(DaemonError::ControlNotSocket {
                path: shown(),
                what,
            });
        }
    }
    let listener = UnixListener::bind(path).map_err(&setup)?;
    let meta = std::fs::symlink_metadata(path).map_err(&setup)?;
    let owned = OwnedSocket {
        path: path.to_owned(),
        id: (meta.dev(), meta.ino()),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(&setup)?;
    if let Some(group) = group {
        crate::sys::give_to_group(path, group).map_err(|source| DaemonError::ControlGroup {
            path: shown(),
            group: group.to_owned(),
            source,
        })?;
    }
    Ok((listener, owned))
}

/// Answers requests on `listener` for as long as the daemon runs.
pub(crate) async fn serve(
    listener: UnixListener,
    observed: Arc<Observed>,
    reloads: tokio::sync::mpsc::Sender<ReloadAsked>,
) {
    let clients = Arc::new(Semaphore::new(MAX_CLIENTS));
    let shared = Arc::new(Shared::default());
    let mut failing_since: Option<Instant> = None;
    loop {
        let Ok(client) = Arc::clone(&clients).acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((stream, _)) => {
                failing_since = None;
                let (observed, shared) = (Arc::clone(&observed), Arc::clone(&shared));
                let reloads = reloads.clone();
                tokio::spawn(async move {
                    answer(stream, &observed, &shared, &reloads).await;
                    drop(client);
                });
            }
            Err(e) => {
                if failing_since.is_none_or(|since| since.elapsed() >= Duration::from_secs(60)) {
                    failing_since = Some(Instant::now());
                    tracing::warn!(event = "control_accept_failed", error = %crate::sys::io_error_text(&e), "cannot accept a control client (retried every 100 ms; warned once a minute)");
                }
                tokio::time::sleep(ACCEPT_PAUSE).await;
            }
        }
    }
}

/// The last whole answer of each kind, kept for the clients that asked
/// before it was begun.
#[derive(Default)]
struct Shared {
    status: Latest,
    metrics: Latest,
}

/// One kind of whole answer: when its making began, and the text.
#[derive(Default)]
struct Latest(tokio::sync::Mutex<Option<(Instant, Arc<str>)>>);

impl Latest {
    /// An answer begun no earlier than `asked`: the last one if it was,
    /// else a new one from `make`. Clients queue here, so a crowd that
    /// asks at once gets one answer made.
    async fn since(&self, asked: Instant, make: impl Future<Output = String>) -> Arc<str> {
        let mut latest = self.0.lock().await;
        if let Some((begun, text)) = latest.as_ref() {
            if *begun >= asked {
                return Arc::clone(text);
            }
        }
        let begun = Instant::now();
        let text: Arc<str> = make.await.into();
        *latest = Some((begun, Arc::clone(&text)));
        text
    }
}

async fn answer(
    mut stream: UnixStream,
    observed: &Observed,
    shared: &Shared,
    reloads: &tokio::sync::mpsc::Sender<ReloadAsked>,
) {
    let line = match tokio::time::timeout(REQUEST_TIMEOUT, read_line(&mut stream)).await {
        Ok(Ok(line)) => line,
        Ok(Err(why)) => return reply(&mut stream, &error(why)).await,
        Err(_) => return reply(&mut stream, &error("no request within 2 s".into())).await,
    };
    let asked = Instant::now();
    let request = match line.parse::<Request>() {
        Ok(request) => request,
        Err(unknown) => return reply(&mut stream, &error(unknown.to_string())).await,
    };
    let answer: Arc<str> = match request {
        Request::Status { rule: None } => {
            shared
                .status
                .since(asked, async {
                    observed.health.judge(&observed.queue).await;
                    match observed.document(None) {
                        Ok(document) => json(&document),
                        Err(why) => error(why),
                    }
                })
                .await
        }
        Request::Status { rule: Some(rule) } => match observed.document(Some(&rule)) {
            Ok(document) => json(&document),
            Err(why) => error(why),
        }
        .into(),
        Request::Metrics => {
            let text = shared
                .metrics
                .since(asked, async {
                    observed.health.judge(&observed.queue).await;
                    render::metrics(observed)
                })
                .await;
            let _ = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(text.as_bytes())).await;
            return;
        }
        Request::Kick { rule } => match kick(observed, &rule).await {
            Ok(answer) => json(&answer),
            Err(why) => error(why),
        }
        .into(),
        Request::Reload => match reload(reloads).await {
            Ok(reloaded) => json(&ReloadAnswer { reloaded }),
            Err(why) => error(why),
        }
        .into(),
    };
    reply(&mut stream, &answer).await;
}

async fn read_line(stream: &mut UnixStream) -> Result<String, String> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
        if bytes.contains(&b'\n') {
            break;
        }
        if bytes.len() > MAX_REQUEST {
            return Err(format!(
                "a request is one line of at most {MAX_REQUEST} bytes"
            ));
        }
    }
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    String::from_utf8(line.to_vec()).map_err(|_| "a request is text".to_owned())
}

fn json(document: &impl serde::Serialize) -> String {
    serde_json::to_string(document).unwrap_or_else(|e| error(e.to_string()))
}

fn error(why: String) -> String {
    let answer = ErrorAnswer { error: why };
    serde_json::to_string(&answer).unwrap_or_default()
}

/// Writes one JSON answer and its newline, within [`WRITE_TIMEOUT`].
async fn reply(stream: &mut UnixStream, text: &str) {
    let _ = tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(text.as_bytes()).await?;
        stream.write_all(b"\n").await
    })
    .await;
}

async fn reload(reloads: &tokio::sync::mpsc::Sender<ReloadAsked>) -> Result<String, String> {
    let (asked, outcome) = tokio::sync::oneshot::channel();
    reloads
        .send(asked)
        .await
        .map_err(|_| "the daemon is stopping".to_owned())?;
    match tokio::time::timeout(RELOAD_WAIT, outcome).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err("the daemon is stopping".into()),
        Err(_) => Err(format!(
            "the reload did not end within {} s",
            RELOAD_WAIT.as_secs()
        )),
    }
}

async fn kick(observed: &Observed, name: &str) -> Result<KickAnswer, String> {
    let Some(live) = observed.rule(name).and_then(|r| r.live) else {
        return Err(format!("no rule \"{name}\" is running"));
    };
    let mut ended = live.stats().subscribe();
    // A kick in flight now ends first: the one that carries this trigger
    // has a higher number.
    let before = live.raise(|| "postkickd kick".to_owned());
    if !matches!(
        tokio::time::timeout(KICK_WAIT, ended.wait_for(|n| *n > before)).await,
        Ok(Ok(_))
    ) {
        return Err("the kick did not end within 120 s".into());
    }
    let Some(kick) = live.stats().snapshot().last_kick else {
        return Err("the kick ended without a record".into());
    };
    Ok(KickAnswer {
        rule: name.to_owned(),
        kick: KickDocument::from(kick),
    })
}
