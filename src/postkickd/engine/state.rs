//! The daemon's memory across restarts: when each timer rule last fired.
//!
//! A small JSON file (`/var/lib/postkick/state` under the unit's
//! `StateDirectory=`, `run --state PATH` otherwise), written whole
//! (`files::write_whole`), so that a crash leaves the old state or the new, never
//! half of one. With it a cron rule with
//! `catch_up: true` fires once at start when a slot passed while the
//! daemon was down, and an `every` rule keeps its rhythm across restarts.
//! A missing file is a first start; a corrupt or unreadable one is logged
//! and ignored, never fatal. It holds rule names and times, nothing else.
//!
//! [`Memory`] decides when the file is written. A fire whose record decides
//! a kick after a restart (a `catch_up` rule's) is written before its kick
//! is raised, so that a crash at any moment after the kick cannot make the
//! restart kick the same slot again; the crash can at most fall in the
//! instant between the write and the kick's send, and lose that one kick.
//! Any other fire is written within a second (a burst of fires is one
//! write). A failed write is logged and retried every second; the file is
//! written off the runtime's thread.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::files::{read_bounded, Links};

/// A state file larger than this is not read: a thousand rules take
/// some 60 KiB.
const MAX_STATE_BYTES: u64 = 4 << 20;

/// The file's document.
#[derive(Debug, Serialize, Deserialize)]
struct StateDocument {
    version: u32,
    last_fire: HashMap<String, Timestamp>,
}

/// Where the state lives.
#[derive(Debug, Clone)]
pub(crate) struct StateFile {
    path: PathBuf,
}

impl StateFile {
    pub(crate) fn new(path: &Path) -> StateFile {
        StateFile {
            path: path.to_owned(),
        }
    }

    /// Each rule's last fire, as the file remembers it.
    pub(crate) fn load(&self) -> HashMap<String, Timestamp> {
        let bytes = match read_bounded(&self.path, MAX_STATE_BYTES, Links::Refuse) {
            Ok(bytes) => bytes,
            Err(e) if e.is_missing() => return HashMap::new(),
            Err(e) => {
                tracing::warn!(event = "state_ignored", file = %self.path.display(), error = %e, "cannot read the state file: starting without it");
                return HashMap::new();
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        match serde_json::from_str::<StateDocument>(&text) {
            Ok(document) => document.last_fire,
            Err(e) => {
                tracing::warn!(event = "state_ignored", file = %self.path.display(), error = %e, "the state file is corrupt: starting without it");
                HashMap::new()
            }
        }
    }

    /// Replaces the file with `fires`, atomically.
    pub(crate) fn save(&self, fires: HashMap<String, Timestamp>) -> std::io::Result<()> {
        let document = StateDocument {
            version: 1,
            last_fire: fires,
        };
        let text = serde_json::to_string(&document).map_err(std::io::Error::other)?;
        crate::files::write_whole(&self.path, text.as_bytes())
    }
}

/// The least time between two writes of fires that may wait, and between
/// a failed write and its retry.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// The last fires, as the timers keep them and the file remembers them.
pub(crate) struct Memory {
    file: Option<StateFile>,
    fires: HashMap<String, Timestamp>,
    /// When fires not yet written are due on disk.
    due: Option<Instant>,
    /// The earliest the next write that may wait is made.
    allowed: Instant,
    /// The last write failed (said once until one succeeds).
    failing: bool,
}

impl Memory {
    /// The fires `file` remembers; none without a file.
    pub(crate) fn load(file: Option<StateFile>) -> Memory {
        Memory {
            fires: file.as_ref().map(StateFile::load).unwrap_or_default(),
            file,
            due: None,
            allowed: Instant::now(),
            failing: false,
        }
    }

    /// When `name` last fired, as remembered.
    pub(crate) fn last(&self, name: &str) -> Option<Timestamp> {
        self.fires.get(name).copied()
    }

    /// Records that `name` fired at `at`; written within [`SAVE_EVERY`].
    pub(crate) fn fired(&mut self, name: &str, at: Timestamp) {
        if self.file.is_some() {
            self.fires.insert(name.to_owned(), at);
            self.due.get_or_insert(self.allowed.max(Instant::now()));
        }
    }

    /// When fires not yet written are due on disk; `None` when none wait.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.due
    }

    /// Writes what is not written yet, now, keeping only the names `keep`
    /// holds; a failure is logged and retried after [`SAVE_EVERY`].
    pub(crate) async fn save(&mut self, keep: impl Fn(&str) -> bool) {
        let Some(file) = &self.file else {
            return;
        };
        if self.due.is_none() {
            return;
        }
        self.fires.retain(|name, _| keep(name));
        let (writer, fires) = (file.clone(), self.fires.clone());
        let written = tokio::task::spawn_blocking(move || writer.save(fires))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        let now = Instant::now();
        self.allowed = now + SAVE_EVERY;
        match written {
            Ok(()) => {
                if self.failing {
                    tracing::info!(event = "state_saved", file = %file.path.display(), "the state file is written again");
                }
                self.failing = false;
                self.due = None;
            }
            Err(e) => {
                if !self.failing {
                    tracing::warn!(event = "state_not_saved", file = %file.path.display(), error = %e, "cannot save the state file: retried every second; until then a restart may repeat or miss a catch_up kick");
                }
                self.failing = true;
                self.due = Some(self.allowed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_fires_load_back_and_a_corrupt_file_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = StateFile::new(&dir.path().join("state"));
        assert!(file.load().is_empty());
        let at: Timestamp = "2026-11-25T12:00:00Z".parse().expect("time");
        file.save(HashMap::from([("nightly".to_owned(), at)]))
            .expect("save");
        assert_eq!(file.load().get("nightly"), Some(&at));
        std::fs::write(dir.path().join("state"), "{not json").expect("write");
        assert!(file.load().is_empty());
    }
}
