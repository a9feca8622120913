//! Stand-in trigger endpoints: a test queue directory that needs no Postfix.
//!
//! It creates `DIR/main.cf` (pointing at `DIR/queue`) and, below the queue,
//! a listening UNIX-domain socket for every service Postfix ships (and any
//! other the caller names), plus an empty `maildrop/`. Each socket reads
//! one request the way a Postfix trigger server does (up to the NUL, at
//! most 1024 bytes), reports it, and closes; `public/flush` and
//! `public/showq` speak as Postfix's do (the protocol announcement, then a
//! flush request answered ok, or an empty queue listing), so that flush
//! rules and `status` can be tried too. It is for demonstrations and
//! for dry runs of a new rules file; it never talks to a real Postfix. It
//! makes its queue only in a new or empty directory, and refuses one that
//! holds anything (a real `main.cf` pointed at by mistake must survive),
//! a symlink or a file; `endpoints` removes what it made, and only that,
//! when it ends.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use crate::postfix::attr::{encode, Decoder, Item, Limits, PROTOCOL_ATTRIBUTE};
use crate::postfix::{flush, services, showq};

/// What a stand-in endpoint received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received {
    /// `class/service`.
    pub endpoint: String,
    /// The request, without the NUL.
    pub request: Vec<u8>,
}

/// A test queue directory with listening endpoints.
pub(crate) struct TestQueue {
    /// The directory holding `main.cf` (use it with `-c`).
    pub config_directory: PathBuf,
    /// The queue directory.
    pub queue_directory: PathBuf,
    listeners: Vec<(String, UnixListener)>,
    /// The directory itself was made here (it did not exist).
    made_directory: bool,
}

/// Makes `dir` if it is missing; refuses it unless it is an empty
/// directory. True when it was made here.
fn claim(dir: &Path) -> io::Result<bool> {
    let refuse = |why: String| {
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} {why}: a test queue is made only in a new or empty directory, so that no real configuration is touched",
                dir.display()
            ),
        ))
    };
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir(dir)?;
            Ok(true)
        }
        Err(e) => Err(e),
        Ok(meta) if meta.file_type().is_symlink() => refuse("is a symlink".into()),
        Ok(meta) if !meta.is_dir() => refuse("is not a directory".into()),
        Ok(_) => {
            let mut held: Vec<String> = std::fs::read_dir(dir)?
                .take(4)
                .filter_map(|entry| Some(entry.ok()?.file_name().to_string_lossy().into_owned()))
                .collect();
            if held.is_empty() {
                return Ok(false);
            }
            held.sort();
            refuse(format!("is not empty (it holds {})", held.join(", ")))
        }
    }
}

/// Creates a test queue in `dir` with endpoints for every catalog service
/// and for each of `extra` (`(class, service)`). Must run inside a Tokio
/// runtime.
pub(crate) fn create(dir: &Path, extra: &[(String, String)]) -> io::Result<TestQueue> {
    let made_directory = claim(dir)?;
    let queue = dir.join("queue");
    for sub in ["public", "private", "maildrop"] {
        std::fs::create_dir_all(queue.join(sub))?;
    }
    std::fs::write(
        dir.join("main.cf"),
        format!(
            "# A test queue made by postkickd; no Postfix runs here.\nqueue_directory = {}\n",
            queue.display()
        ),
    )?;
    let mut names: Vec<(String, String)> = services::all()
        .iter()
        .filter(|s| s.name != "postlog")
        .map(|s| (s.class.as_str().to_owned(), s.name.to_owned()))
        .collect();
    names.extend(extra.iter().cloned());
    names.sort();
    names.dedup();
    let mut listeners = Vec::new();
    for (class, service) in names {
        std::fs::create_dir_all(queue.join(&class))?;
        let listener = UnixListener::bind(queue.join(&class).join(&service))?;
        listeners.push((format!("{class}/{service}"), listener));
    }
    Ok(TestQueue {
        config_directory: dir.to_owned(),
        queue_directory: queue,
        listeners,
        made_directory,
    })
}

impl TestQueue {
    /// What [`create`] made: the directory if it was new, else the queue
    /// directory and `main.cf` in it.
    pub(crate) fn made(&self) -> Vec<PathBuf> {
        if self.made_directory {
            vec![self.config_directory.clone()]
        } else {
            vec![
                self.queue_directory.clone(),
                self.config_directory.join("main.cf"),
            ]
        }
    }

    /// Serves every endpoint until the future is dropped, calling `report`
    /// for each request.
    pub(super) async fn serve(self, report: impl Fn(Received) + Clone + Send + 'static) {
        let mut tasks = tokio::task::JoinSet::new();
        for (endpoint, listener) in self.listeners {
            let report = report.clone();
            tasks.spawn(async move {
                loop {
                    let Ok((mut stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let request = match endpoint.as_str() {
                        "public/flush" => flush_stand_in(&mut stream).await,
                        "public/showq" => showq_stand_in(&mut stream).await,
                        _ => raw_request(&mut stream).await,
                    };
                    report(Received {
                        endpoint: endpoint.clone(),
                        request,
                    });
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }
}

/// Reads one raw request as a trigger server does: up to the NUL, at most
/// 1024 bytes, within 10 s.
async fn raw_request(stream: &mut UnixStream) -> Vec<u8> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        while request.len() < 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    request.extend_from_slice(&buf[..n]);
                    if request.contains(&0) {
                        break;
                    }
                }
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), read).await;
    if let Some(nul) = request.iter().position(|&b| b == 0) {
        request.truncate(nul);
    }
    request
}

/// As Postfix's flush: announces its protocol, then takes a one-byte
/// wakeup (a raw kick) or an attribute list, which it answers ok. What it
/// read, as `name=value` words for a list.
async fn flush_stand_in(stream: &mut UnixStream) -> Vec<u8> {
    let _ = stream
        .write_all(&encode(&[(PROTOCOL_ATTRIBUTE, flush::PROTOCOL)]))
        .await;
    let mut decoder = Decoder::new(Limits::default());
    let mut seen = Vec::new();
    let mut words = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            let n = match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return seen,
                Ok(n) => n,
            };
            seen.extend_from_slice(&buf[..n]);
            // What flush takes for a master wakeup: two bytes at most.
            if seen.len() <= 2 && seen.contains(&0) {
                seen.retain(|&b| b != 0);
                return seen;
            }
            decoder.feed(&buf[..n]);
            loop {
                match decoder.next_item() {
                    Ok(Some(Item::Attribute { name, value })) => {
                        words.push(format!("{name}={value}"))
                    }
                    Ok(Some(Item::End)) => {
                        let _ = stream.write_all(&encode(&[("status", "0")])).await;
                        return words.join(" ").into_bytes();
                    }
                    Ok(None) => break,
                    Err(_) => return seen,
                }
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .unwrap_or_default()
}

/// As Postfix's showq for an empty queue: the announcement, then the end.
async fn showq_stand_in(stream: &mut UnixStream) -> Vec<u8> {
    let mut listing = encode(&[(PROTOCOL_ATTRIBUTE, showq::PROTOCOL)]);
    listing.push(0);
    let _ = stream.write_all(&listing).await;
    b"(listed an empty queue)".to_vec()
}
