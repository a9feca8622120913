//! Directory watches for `watch` rules, folded into one flag per rule.
//!
//! One inotify instance (through `notify`) serves every watched directory
//! of a plan. A file created, written and closed, renamed in, or given
//! a new mode (postdrop marks a finished maildrop file by its mode) raises
//! the [`Pending`] flag of each rule watching that directory whose pattern
//! matches the file name; an inotify queue overflow raises every flag.
//! A flag only remembers that something happened, so a burst of events
//! can never be lost or queue up: the rule's kicker takes the flag and
//! kicks. A watched directory that is removed, moved away or replaced is
//! looked for every half second until it is back, then watched again and
//! its rules raised (files may have arrived meanwhile). A rule with
//! `poll:` also compares directory listings at that interval, for file
//! systems where inotify sees nothing (NFS, some overlay and bind mounts).
//! The directories are trusted to be hostile: only names and `stat` data
//! are read, never file contents.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};

use crate::postkickd::pending::Pending;
use crate::postkickd::plan::WatchSpec;
use crate::rules::Readiness;

/// How often a vanished directory is looked for.
const REAPPEAR_POLL: Duration = Duration::from_millis(500);

/// One rule's interest in a directory.
#[derive(Debug, Clone)]
pub(crate) struct Registration {
    /// The directory and what counts in it.
    pub spec: WatchSpec,
    /// Raised on each relevant event.
    pub pending: Arc<Pending>,
}

impl Registration {
    fn directory(&self) -> &Path {
        &self.spec.directory
    }

    fn matches(&self, file: &Path) -> bool {
        match (&self.spec.pattern, file.file_name()) {
            (None, _) => true,
            (Some(pattern), Some(name)) => pattern.matches(&name.to_string_lossy()),
            (Some(_), None) => false,
        }
    }

    /// Whether `file` counts as arrived: `lstat` only, never followed.
    fn ready(&self, file: &Path) -> bool {
        use std::os::unix::fs::PermissionsExt;
        match self.spec.ready {
            Readiness::Any => true,
            Readiness::Executable => std::fs::symlink_metadata(file)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o100 != 0),
        }
    }
}

/// Why a watch could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// inotify itself is unavailable (out of instances, for example).
    #[error("cannot start a file watcher: {0}: this user's inotify instances (sysctl fs.inotify.max_user_instances) or this process's file descriptors (LimitNOFILE=, ulimit -n) are used up")]
    Watcher(#[source] notify::Error),
}

struct Shared {
    registrations: Vec<Registration>,
    /// Directories that are not being watched because they do not exist.
    missing: Mutex<Vec<PathBuf>>,
    /// Woken when a directory goes missing.
    lost: tokio::sync::Notify,
}

impl Shared {
    fn raise_directory(&self, directory: &Path) {
        for r in self
            .registrations
            .iter()
            .filter(|r| r.directory() == directory)
        {
            r.pending.raise();
        }
    }

    fn raise_all(&self) {
        for r in &self.registrations {
            r.pending.raise();
        }
    }

    fn mark_missing(&self, directory: &Path) {
        let mut missing = self.missing.lock().unwrap_or_else(|e| e.into_inner());
        if !missing.iter().any(|d| d == directory) {
            tracing::warn!(event = "directory_gone", directory = %directory.display(), "watched directory is gone; watching for it to come back");
            missing.push(directory.to_owned());
            self.lost.notify_one();
        }
    }

    fn handle(&self, event: Event) {
        if event.need_rescan() {
            tracing::warn!(
                event = "events_lost",
                "file events were lost (inotify queue overflow): kicking every watch rule"
            );
            self.raise_all();
            return;
        }
        // A bare create is not an arrival: the file is still being
        // written, and a kick now would make pickup skip it and fold the
        // useful kick into the debounce window.
        let arrival = matches!(
            event.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Modify(ModifyKind::Metadata(_))
                | EventKind::Modify(ModifyKind::Name(
                    RenameMode::To | RenameMode::Both | RenameMode::Any
                ))
        );
        let gone = matches!(
            event.kind,
            EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
        );
        for path in &event.paths {
            if gone && self.registrations.iter().any(|r| r.directory() == path) {
                self.mark_missing(path);
                continue;
            }
            if !arrival {
                continue;
            }
            let Some(parent) = path.parent() else {
                continue;
            };
            for r in &self.registrations {
                // A file that must be executable becomes ready by a mode
                // change or arrives ready by a rename; its final close
                // says nothing new.
                let closing = matches!(event.kind, EventKind::Access(_));
                let counts = !(closing && r.spec.ready == Readiness::Executable);
                if counts && r.directory() == parent && r.matches(path) && r.ready(path) {
                    tracing::trace!(file = %path.display(), kind = ?event.kind, "file event");
                    r.pending.raise();
                }
            }
        }
    }
}

/// The watches of one rule set; dropping it stops them.
pub(crate) struct WatchHub {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    // Dropped last: stops the inotify thread.
    _watcher: Arc<Mutex<notify::RecommendedWatcher>>,
}

impl Drop for WatchHub {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A directory's entries: name to (modified, mode, size).
type Listing = BTreeMap<std::ffi::OsString, (Option<SystemTime>, u32, u64)>;

fn listing(directory: &Path) -> Listing {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(directory) else {
        return Listing::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            Some((
                entry.file_name(),
                (meta.modified().ok(), meta.mode(), meta.size()),
            ))
        })
        .collect()
}

/// File systems on which inotify misses changes made elsewhere (by another
/// host, container or mount), by `statfs` magic number.
const BLIND_FILE_SYSTEMS: &[(i64, &str)] = &[
    (0x6969, "NFS"),
    (0xFF53_4D42, "CIFS"),
    (0xFE53_4D42, "SMB2"),
    (0x517B, "SMB"),
    (0x6573_5546, "FUSE"),
    (0x794C_7630, "overlay"),
    (0x0102_1997, "9p"),
    (0x7366_746E, "NTFS (FUSE)"),
];

/// The name of `directory`'s file system if inotify may be blind there.
pub(crate) fn blind_file_system(directory: &Path) -> Option<&'static str> {
    let magic = crate::sys::filesystem_magic(directory).ok()?;
    BLIND_FILE_SYSTEMS
        .iter()
        .find(|(m, _)| *m == magic)
        .map(|(_, name)| *name)
}

impl WatchHub {
    /// Starts watching every registration's directory. Must be called
    /// inside a Tokio runtime.
    pub(crate) fn start(registrations: Vec<Registration>) -> Result<WatchHub, WatchError> {
        let shared = Arc::new(Shared {
            registrations,
            missing: Mutex::new(Vec::new()),
            lost: tokio::sync::Notify::new(),
        });
        let sink = Arc::clone(&shared);
        let watcher =
            notify::recommended_watcher(move |result: notify::Result<Event>| match result {
                Ok(event) => sink.handle(event),
                Err(err) => {
                    tracing::warn!(error = %err, "file watcher error: kicking every watch rule");
                    sink.raise_all();
                }
            })
            .map_err(WatchError::Watcher)?;
        let watcher = Arc::new(Mutex::new(watcher));
        let mut directories: Vec<&Path> = shared
            .registrations
            .iter()
            .map(Registration::directory)
            .collect();
        directories.sort();
        directories.dedup();
        for directory in directories {
            let polled = shared
                .registrations
                .iter()
                .any(|r| r.directory() == directory && r.spec.poll.is_some());
            if let (Some(kind), false) = (blind_file_system(directory), polled) {
                tracing::warn!(
                    event = "blind_file_system",
                    directory = %directory.display(),
                    file_system = kind,
                    fix = "add \"poll: 30s\" to its watch rule",
                    "the directory is on {kind}, where inotify misses changes made elsewhere: add \"poll: 30s\" to its watch rule"
                );
            }
            let watched = watcher
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .watch(directory, RecursiveMode::NonRecursive);
            if let Err(err) = watched {
                tracing::warn!(directory = %directory.display(), error = %err, "cannot watch directory yet");
                shared.mark_missing(directory);
            }
        }
        let mut tasks = Vec::new();
        if !shared.registrations.is_empty() {
            tasks.push(tokio::spawn(rewatch(
                Arc::clone(&shared),
                Arc::clone(&watcher),
            )));
        }
        for r in shared
            .registrations
            .iter()
            .filter(|r| r.spec.poll.is_some())
        {
            tasks.push(tokio::spawn(poll(r.clone())));
        }
        Ok(WatchHub {
            tasks,
            _watcher: watcher,
        })
    }
}

/// Watches vanished directories again once they are back.
async fn rewatch(shared: Arc<Shared>, watcher: Arc<Mutex<notify::RecommendedWatcher>>) {
    loop {
        let pending: Vec<PathBuf> = shared
            .missing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if pending.is_empty() {
            shared.lost.notified().await;
            continue;
        }
        for directory in pending {
            if !directory.is_dir() {
                continue;
            }
            let mut w = watcher.lock().unwrap_or_else(|e| e.into_inner());
            let _ = w.unwatch(&directory);
            if w.watch(&directory, RecursiveMode::NonRecursive).is_ok() {
                drop(w);
                tracing::info!(event = "directory_back", directory = %directory.display(), "watched directory is back");
                shared
                    .missing
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|d| d != &directory);
                shared.raise_directory(&directory);
            }
        }
        tokio::time::sleep(REAPPEAR_POLL).await;
    }
}

/// Compares listings of one directory at the rule's `poll` interval.
async fn poll(registration: Registration) {
    let Some(every) = registration.spec.poll else {
        return;
    };
    let mut previous = listing(registration.directory());
    loop {
        tokio::time::sleep(every).await;
        let current = listing(registration.directory());
        let changed = current.iter().any(|(name, state)| {
            previous.get(name) != Some(state) && registration.matches(Path::new(name))
        });
        if changed {
            registration.pending.raise();
        }
        previous = current;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(
        directory: &Path,
        pattern: Option<&str>,
        poll: Option<Duration>,
        ready: Readiness,
    ) -> Registration {
        Registration {
            spec: WatchSpec {
                directory: directory.to_owned(),
                pattern: pattern.map(|p| glob::Pattern::new(p).expect("glob")),
                poll,
                ready,
                debounce: Duration::ZERO,
            },
            pending: Arc::new(Pending::default()),
        }
    }

    /// The `poll:` fallback sees a new file without inotify.
    #[test]
    fn polling_notices_a_new_matching_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let registration = registration(
            dir.path(),
            Some("*.eml"),
            Some(Duration::from_millis(20)),
            Readiness::Any,
        );
        let pending = Arc::clone(&registration.pending);
        crate::runtime().expect("runtime").block_on(async {
            let task = tokio::spawn(poll(registration));
            tokio::time::sleep(Duration::from_millis(50)).await;
            std::fs::write(dir.path().join("skip.tmp"), b"x").expect("write");
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(!pending.take(), "a file the pattern excludes counted");
            std::fs::write(dir.path().join("mail.eml"), b"x").expect("write");
            tokio::time::timeout(Duration::from_secs(10), pending.wait())
                .await
                .expect("the poll noticed the file");
            task.abort();
        });
    }

    #[test]
    fn ordinary_directories_are_not_reported_blind() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(blind_file_system(dir.path()), None);
    }

    #[test]
    fn executable_readiness_needs_the_owner_execute_bit() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("queued");
        std::fs::write(&file, b"x").expect("write");
        let registration = registration(dir.path(), None, None, Readiness::Executable);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(!registration.ready(&file));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o744)).expect("chmod");
        assert!(registration.ready(&file));
        std::os::unix::fs::symlink(&file, dir.path().join("link")).expect("symlink");
        assert!(
            !registration.ready(&dir.path().join("link")),
            "a symlink was followed"
        );
    }
}
