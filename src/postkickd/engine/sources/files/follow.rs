//! Keeping each watch on the directory its path names now.
//!
//! Every directory above a watched path is watched too (as the path spells
//! it and as it resolves), so that the kernel says when a path may lead
//! elsewhere: a component created, removed, renamed or replaced by a
//! symbolic link, or the directory itself removed or moved. Only then are
//! the watched paths looked up again; an idle daemon is not woken. A
//! directory that is missing is watched as soon as it exists; one that was
//! removed or moved away is forgotten until its path names a directory
//! again; one whose path now leads elsewhere is watched anew. Each time a
//! directory is (re)watched, its rules are raised if it already holds
//! ready files, since files may have arrived while nobody listened. Where
//! inotify cannot be trusted to say so (a directory above on a network
//! file system, or one it may not watch), the paths are also looked up
//! once a second. `poll` compares listings for rules on file systems where
//! inotify sees nothing.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::inotify::{self, Event, Interest, Watcher};
use super::{identity, lock, look_up, Group, Identity, Lookup, Registration, Shared, WatchError};

/// How often watched paths are looked up again where inotify cannot say
/// when they change.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// The directories above the watched ones, watched only to hear when a
/// watched path may lead elsewhere.
#[derive(Default)]
pub(super) struct Ancestry {
    /// Each directory watched for this, by the path it was watched under,
    /// with what it was then.
    watched: Mutex<BTreeMap<PathBuf, Identity>>,
    /// The paths, as inotify reports them, whose change may change what a
    /// watched path leads to.
    concerns: Mutex<HashSet<PathBuf>>,
    /// Wakes `follow`.
    wake: tokio::sync::Notify,
    /// Some change could go unreported: look every [`FOLLOW_EVERY`] too.
    polling: AtomicBool,
    /// The watched directories that are also above another watched path.
    above_others: Mutex<HashSet<PathBuf>>,
}

impl Ancestry {
    /// Called for every inotify event: wakes `follow` if the event may
    /// change what a watched path leads to.
    pub(super) fn hear(&self, event: &Event) {
        let may_move = event.lost()
            || (inotify::entry_changed(event.mask) && lock(&self.concerns).contains(&event.path));
        if may_move {
            self.wake.notify_one();
        }
    }

    /// What a watched directory's watch is for.
    fn interest(&self, group: &Group) -> Interest {
        if lock(&self.above_others).contains(&group.path) {
            Interest::Both
        } else {
            Interest::Files
        }
    }
}

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
    watcher: &Watcher,
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
    watcher.unwatch(path);
    if let Err(err) = watcher.watch(path, shared.ancestry.interest(group)) {
        if why.starting() {
            return Err(refused(err));
        }
        tracing::warn!(event = "directory_gone", directory = %path.display(), error = %crate::sys::io_error_text(&err), "cannot watch directory yet");
        return Ok(());
    }
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

/// Looks up every watched path again whenever inotify says one may lead
/// elsewhere (and once a second where it cannot say), for as long as the
/// hub runs.
pub(super) async fn follow(shared: Arc<Shared>, watcher: Arc<Watcher>) {
    let ancestry = &shared.ancestry;
    loop {
        let polling = ancestry.polling.load(Ordering::Relaxed);
        tokio::select! {
            () = ancestry.wake.notified() => {}
            () = tokio::time::sleep(FOLLOW_EVERY), if polling => {}
        }
        // The directories above first: a change made after this is
        // reported, one made before is seen by the look-ups below.
        watch_ancestors(&shared, &watcher);
        for group in &shared.groups {
            let watching = *lock(&group.watching);
            let now = identity(&group.path);
            match (watching, now) {
                (None, Some(_)) => {
                    let _ = add_watches(&shared, group, &watcher, Why::Back);
                }
                (Some(_), None) => {
                    watcher.unwatch(&group.path);
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

/// Watches every directory above each watched path, as the path spells it
/// and as it resolves, and forgets those no path goes through any more.
/// A directory already watched under another path (a watched directory
/// itself, reached through a symbolic link) is not watched twice: one
/// inotify watch serves an inode, under one path. A watched directory
/// above another watched path hears of its entries changing too.
pub(super) fn watch_ancestors(shared: &Shared, watcher: &Watcher) {
    let ancestry = &shared.ancestry;
    // A watched directory is its group's, as it is watched now and as its
    // path leads now (the look-ups after this may take it).
    let mut owner: BTreeMap<Identity, PathBuf> = BTreeMap::new();
    for group in &shared.groups {
        for id in [*lock(&group.watching), identity(&group.path)]
            .into_iter()
            .flatten()
        {
            owner.entry(id).or_insert_with(|| group.path.clone());
        }
    }
    let mut wanted: BTreeMap<PathBuf, Identity> = BTreeMap::new();
    let mut chains: Vec<PathBuf> = Vec::new();
    let mut above_others: HashSet<PathBuf> = HashSet::new();
    for group in &shared.groups {
        // Spelled: a directory as written (a symbolic link is seen from
        // the directory above it, and what it leads to is resolved).
        let spelled =
            group.path.ancestors().skip(1).filter(|element| {
                std::fs::symlink_metadata(element).is_ok_and(|meta| meta.is_dir())
            });
        let resolved = resolved_ancestors(&group.path);
        for element in spelled
            .map(Path::to_path_buf)
            .chain(resolved.iter().cloned())
        {
            let Some(id) = identity(&element) else {
                continue;
            };
            match owner.entry(id) {
                std::collections::btree_map::Entry::Vacant(free) => {
                    free.insert(element.clone());
                    wanted.insert(element, id);
                }
                // Another watched directory, above this one.
                std::collections::btree_map::Entry::Occupied(taken) => {
                    if *taken.get() != group.path
                        && shared.groups.iter().any(|g| g.path == *taken.get())
                    {
                        above_others.insert(taken.get().clone());
                    }
                }
            }
        }
        chains.extend(group.path.ancestors().map(Path::to_path_buf));
        chains.extend(resolved);
    }
    let mut watched = lock(&ancestry.watched);
    // Forgotten or changed first: a directory now wanted under another
    // path shares the inotify watch being removed.
    let stale: Vec<(PathBuf, Identity)> = watched
        .iter()
        .filter(|(path, id)| wanted.get(*path) != Some(*id))
        .map(|(path, id)| (path.clone(), *id))
        .collect();
    let mut rewatch: Vec<&Group> = Vec::new();
    for (path, id) in stale {
        watcher.unwatch(&path);
        watched.remove(&path);
        rewatch.extend(
            shared
                .groups
                .iter()
                .filter(|group| *lock(&group.watching) == Some(id)),
        );
    }
    let mut polling = false;
    for (path, id) in &wanted {
        if watched.get(path) == Some(id) {
            continue;
        }
        match watcher.watch(path, Interest::Ancestry) {
            Ok(()) => {
                watched.insert(path.clone(), *id);
            }
            // Gone (or no longer a directory) since it was looked up: the
            // change was reported.
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR) => {}
            Err(_) => polling = true,
        }
    }
    // What inotify reports: a component as the directory above it was
    // watched (under whichever path), and each watched directory itself.
    let path_of = |directory: &Path| identity(directory).and_then(|id| owner.get(&id).cloned());
    let mut concerns: HashSet<PathBuf> = shared.groups.iter().map(|g| g.path.clone()).collect();
    for element in &chains {
        if let (Some(parent), Some(name)) = (element.parent(), element.file_name()) {
            if let Some(reported) = path_of(parent) {
                concerns.insert(reported.join(name));
            }
        }
    }
    *lock(&ancestry.concerns) = concerns;
    polling |= watched
        .keys()
        .chain(shared.groups.iter().map(|g| &g.path))
        .any(|path| super::blind_file_system(path).is_some());
    ancestry.polling.store(polling, Ordering::Relaxed);
    drop(watched);
    // A watched directory that became (or stopped being) one above
    // another watched path hears what that needs.
    let changed: Vec<&Group> = {
        let mut previous = lock(&ancestry.above_others);
        let changed = shared
            .groups
            .iter()
            .filter(|g| previous.contains(&g.path) != above_others.contains(&g.path))
            .collect();
        *previous = above_others;
        changed
    };
    rewatch.extend(changed);
    // A watched directory whose inotify watch went with a stale one (or
    // whose interest changed): it is watched again, and files that came
    // meanwhile are not missed. One whose path now leads elsewhere is
    // left to the look-ups, which say so.
    for group in rewatch {
        if lock(&group.watching).is_some() && identity(&group.path) == *lock(&group.watching) {
            let _ = add_watches(shared, group, watcher, Why::Kept);
            shared.raise_if_waiting(group);
        }
    }
}

/// The directories above `path` as it resolves: the deepest of its
/// ancestors that exists, resolved, and every directory above that.
fn resolved_ancestors(path: &Path) -> Vec<PathBuf> {
    path.ancestors()
        .find_map(|existing| std::fs::canonicalize(existing).ok())
        .map(|resolved| resolved.ancestors().map(Path::to_path_buf).collect())
        .unwrap_or_default()
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
