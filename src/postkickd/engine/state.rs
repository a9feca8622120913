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

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

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

    /// Replaces the file with `fires`, atomically; a failure is logged.
    pub(crate) fn save(&self, fires: &HashMap<String, Timestamp>) {
        let document = StateDocument {
            version: 1,
            last_fire: fires.clone(),
        };
        let text = serde_json::to_string(&document).unwrap_or_default();
        if let Err(e) = crate::files::write_whole(&self.path, text.as_bytes()) {
            tracing::warn!(event = "state_not_saved", file = %self.path.display(), error = %e, "cannot save the state file");
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
        file.save(&HashMap::from([("nightly".to_owned(), at)]));
        assert_eq!(file.load().get("nightly"), Some(&at));
        std::fs::write(dir.path().join("state"), "{not json").expect("write");
        assert!(file.load().is_empty());
    }
}
