//! Keeping each watch on the directory its path names now.
//!
//! Once a second every watched path is looked up again. A directory that
//! is missing is watched as soon as it exists; one that was removed or
//! moved away is forgotten until its path names a directory again; one
//! whose path now leads elsewhere (the directory or a parent replaced, a
//! symbolic link changed) is watched anew. Each time a directory is
//! (re)watched, its rules are raised if it already holds ready files, since
//! files may have arrived while nobody listened. `poll` compares listings
//! for rules on file systems where inotify sees nothing.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use notify::{RecursiveMode, Watcher};

use super::{identity, lock, look_up, Group, Lookup, Registration, Shared, WatchError};

/// How often watched paths are looked up again.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// Why a directory is being watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Why {
    /// The watches are starting (daemon start or reload).
    Start,
    /// A reload keeps it as it was watched: nothing to look through.
    Kept,
    /// It was missing and is back.
    Back,
    /// Its path now names another directory.
    Replaced,
}

impl Why {
    /// At start or reload: a directory that cannot be watched is an error.
    fn starting(self) -> bool {
        matches!(self, Why::Start | Why::Kept)
    }
}

/// Watches `group`'s path if it names a directory, then raises its rules
/// if files are already waiting there. At start-up a directory that exists
/// but cannot be watched (no permission) is an error: the daemon must not
/// say it is ready while a rule is deaf.
pub(super) fn add_watches(
    shared: &Shared,
    group: &Group,
    watcher: &Mutex<notify::RecommendedWatcher>,
    why: Why,
) -> Result<(), WatchError> {
    let path = &group.path;
    let refused = |source: std::io::Error| WatchError::Directory {
        path: path.display().to_string(),
        user: crate::sys::user_name(),
        source,
    };
    let now = match look_up(path) {
        Lookup::Directory(identity) => identity,
        Lookup::Refused(e) if why.starting() => return Err(refused(e)),
        Lookup::Refused(_) => return Ok(()),
        Lookup::Absent(reason) => {
            if why.starting() {
                tracing::warn!(event = "directory_gone", directory = %path.display(), "watched directory is not there ({reason}); watching for it to appear");
            }
            return Ok(());
        }
    };
    let mut watcher = lock(watcher);
    let _ = watcher.unwatch(path);
    if let Err(err) = watcher.watch(path, RecursiveMode::NonRecursive) {
        if why.starting() {
            let source = match err.kind {
                notify::ErrorKind::Io(io) => io,
                other => std::io::Error::other(format!("{other:?}")),
            };
            return Err(refused(source));
        }
        tracing::warn!(event = "directory_gone", directory = %path.display(), error = %err, "cannot watch directory yet");
        return Ok(());
    }
    drop(watcher);
    *lock(&group.watching) = Some(now);
    match why {
        Why::Start => {}
        Why::Kept => return Ok(()),
        Why::Back => {
            tracing::info!(event = "directory_back", directory = %path.display(), "watched directory is back")
        }
        Why::Replaced => tracing::warn!(
            event = "directory_replaced",
            directory = %path.display(),
            "the watched path now leads to another directory (moved, or a parent replaced): watching that one"
        ),
    }
    shared.raise_if_waiting(group);
    Ok(())
}

/// Looks up every watched path once a second, for as long as the hub runs.
pub(super) async fn follow(shared: Arc<Shared>, watcher: Arc<Mutex<notify::RecommendedWatcher>>) {
    loop {
        tokio::time::sleep(FOLLOW_EVERY).await;
        for group in &shared.groups {
            let watching = *lock(&group.watching);
            let now = identity(&group.path);
            match (watching, now) {
                (None, Some(_)) => {
                    let _ = add_watches(&shared, group, &watcher, Why::Back);
                }
                (Some(_), None) => {
                    let _ = lock(&watcher).unwatch(&group.path);
                    *lock(&group.watching) = None;
                    tracing::warn!(event = "directory_gone", directory = %group.path.display(), "watched directory is gone; watching for it to come back");
                }
                (Some(old), Some(new)) if old != new => {
                    let _ = add_watches(&shared, group, &watcher, Why::Replaced);
                }
                _ => {}
            }
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

/// Compares listings of one directory at the rule's `poll` interval.
pub(super) async fn poll(registration: Registration) {
    let Some(every) = registration.spec.poll else {
        return;
    };
    let directory = &registration.spec.directory;
    let mut previous = listing(directory);
    loop {
        tokio::time::sleep(every).await;
        let current = listing(directory);
        let changed = current.iter().any(|(name, state)| {
            if previous.get(name) == Some(state) {
                return false;
            }
            let file = directory.join(name);
            std::fs::symlink_metadata(&file).is_ok_and(|meta| {
                super::arrival::counts(
                    &registration.spec,
                    &file,
                    &meta,
                    super::arrival::Sign::Arrival,
                )
            })
        });
        if changed {
            registration
                .live
                .raise(|| "a changed listing (poll)".to_owned());
        }
        previous = current;
    }
}
