//! Directory watches for `watch` rules, folded into one flag per rule.
//!
//! One inotify instance (`inotify`, asking each watch only for what it
//! needs) serves every watched directory of a plan. A directory is known by
//! what it is (device and inode), not by how a rule spells it: two rules
//! watching `in` and `in/../in` share one watch and both hear every file. A
//! file that arrives (see `arrival`) raises the [`Pending`] flag of each
//! rule watching its directory whose pattern and readiness it meets. A flag
//! only remembers that something happened, so a burst of events can never
//! be lost or queue up.
//!
//! Watches are level-triggered, like systemd's `DirectoryNotEmpty=`: when
//! they start (at start-up and at every reload), after an inotify queue
//! overflow, and whenever a directory comes back or is replaced, a
//! directory that already holds ready files raises its rules without
//! waiting for an event. `follow` watches the directories above each
//! watched one and looks the watched paths up again when one changes, so
//! that a directory removed, moved away, or replaced by a change above it
//! (`mv queue queue.old; ln -s queue.new queue`) is followed at once,
//! without waking an idle daemon; `drain` warns when files are not taken; a
//! rule with `poll:` also compares listings, for file systems where inotify
//! is blind. The directories are trusted to be hostile: only names and
//! `lstat` data are read, never file contents.

mod arrival;
mod drain;
mod follow;
mod inotify;

use crate::postkickd::lock::lock;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use self::inotify::Event;

use crate::postkickd::engine::live::Live;
use crate::postkickd::plan::WatchSpec;
use arrival::{Recent, Sign};

/// One rule's interest in a directory.
#[derive(Debug, Clone)]
pub(crate) struct Registration {
    /// The directory and what counts in it.
    pub spec: WatchSpec,
    /// Raised on each relevant event.
    pub live: Arc<Live>,
    /// The Postfix whose maildrop this is, when it is the queue's own:
    /// which link broke when it does not drain.
    pub maildrop_of: Option<Arc<crate::postfix::health::Site>>,
    /// Where to mail, and through what, when it stops draining and when
    /// it drains again (`notify:`).
    pub notify: Option<(crate::postkickd::engine::notify::Notifier, String)>,
}

impl Registration {
    /// The same rule watching the same way.
    fn same(&self, other: &Registration) -> bool {
        Arc::ptr_eq(&self.live, &other.live) && self.spec == other.spec
    }
}

/// Why a watch could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// inotify itself is unavailable (out of instances, for example).
    #[error("cannot start a file watcher: {}: this user's inotify instances (sysctl fs.inotify.max_user_instances) or this process's file descriptors (LimitNOFILE=, ulimit -n) are used up", crate::sys::io_error_text(.0))]
    Watcher(#[source] std::io::Error),
    /// A watched directory exists but cannot be watched.
    #[error("cannot watch {path} as user {user}: {}: run postkickd as the user that owns it (postfix, for the maildrop)", crate::sys::io_error_text(source))]
    Directory {
        /// The directory.
        path: String,
        /// Who tried.
        user: String,
        /// Why not.
        source: std::io::Error,
    },
}

/// What a directory is, whatever its path: device and inode.
type Identity = (u64, u64);

fn identity(path: &Path) -> Option<Identity> {
    match look_up(path) {
        Lookup::Directory(identity) => Some(identity),
        Lookup::Absent(_) | Lookup::Refused(_) => None,
    }
}

/// What a watched path leads to now. `check` and the watcher judge it
/// alike: a directory is watched; a path that leads nowhere (missing, a
/// symlink loop, a file) is waited for; one the user may not look up is
/// an error at start.
pub(crate) enum Lookup {
    /// A directory.
    Directory(Identity),
    /// Nothing to watch yet, and why.
    Absent(String),
    /// Looking it up is not allowed.
    Refused(std::io::Error),
}

/// Looks `path` up, following symlinks.
pub(crate) fn look_up(path: &Path) -> Lookup {
    match std::fs::metadata(path) {
        Ok(meta) => match directory_identity(&meta) {
            Some(identity) => Lookup::Directory(identity),
            None => Lookup::Absent("it is not a directory".to_owned()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Lookup::Refused(e),
        Err(e) => Lookup::Absent(crate::sys::io_error_text(&e)),
    }
}

/// The identity of a directory, from its `stat` data.
fn directory_identity(meta: &std::fs::Metadata) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt;
    meta.is_dir().then(|| (meta.dev(), meta.ino()))
}

/// The rules watching one directory.
struct Group {
    /// The path watched: the first spelling a rule used.
    path: PathBuf,
    /// What is being watched under that path now; `None` while missing.
    watching: Mutex<Option<Identity>>,
    /// Indices into the registrations.
    members: Vec<usize>,
}

struct Shared {
    registrations: Vec<Registration>,
    groups: Vec<Group>,
    recent: Mutex<Recent>,
    ancestry: follow::Ancestry,
}

impl Shared {
    fn members<'s>(&'s self, group: &'s Group) -> impl Iterator<Item = &'s Registration> {
        group.members.iter().map(|&i| &self.registrations[i])
    }

    /// Raises the rules of `group` whose directory holds a ready file.
    fn raise_if_waiting(&self, group: &Group) {
        for r in self.members(group) {
            let waiting = arrival::waiting(&r.spec, None).count;
            if waiting > 0 {
                r.live.raise(|| format!("{waiting} files waiting"));
            }
        }
    }

    fn handle(&self, event: Event) {
        self.ancestry.hear(&event);
        if event.lost() {
            tracing::warn!(
                event = "events_lost",
                "file events were lost (inotify queue overflow): looking at every watched directory"
            );
            for group in &self.groups {
                self.raise_if_waiting(group);
            }
            return;
        }
        let sign = arrival::sign(event.mask);
        if sign == Sign::Nothing {
            return;
        }
        let path = &event.path;
        let Some(group) = path
            .parent()
            .and_then(|parent| self.groups.iter().find(|g| g.path == parent))
        else {
            return;
        };
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return;
        };
        let counted: Vec<&Registration> = self
            .members(group)
            .filter(|r| arrival::counts(&r.spec, path, &meta, sign))
            .collect();
        if counted.is_empty() || !lock(&self.recent).first(path, arrival::stamp(&meta)) {
            return;
        }
        tracing::trace!(file = %path.display(), mask = ?event.mask, "file event");
        for r in counted {
            r.live.raise(|| format!("file {}", path.display()));
        }
    }
}

/// The watches of one plan; dropping it stops them.
pub(crate) struct WatchHub {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    // Dropped last: stops reading the inotify instance, and closes it.
    _reader: inotify::Reader,
}

impl Drop for WatchHub {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
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

/// Groups registrations by the directory they name.
fn groups(registrations: &[Registration]) -> Vec<Group> {
    let mut groups: Vec<(Option<Identity>, Group)> = Vec::new();
    for (i, r) in registrations.iter().enumerate() {
        let path = &r.spec.directory;
        let id = identity(path);
        let same = groups
            .iter_mut()
            .find(|(other, g)| (id.is_some() && *other == id) || g.path == *path);
        match same {
            Some((_, group)) => group.members.push(i),
            None => groups.push((
                id,
                Group {
                    path: path.clone(),
                    watching: Mutex::new(None),
                    members: vec![i],
                },
            )),
        }
    }
    groups.into_iter().map(|(_, g)| g).collect()
}

impl WatchHub {
    /// Whether `previous` watched `group`'s directory, as it is now, for
    /// the very same rules: then nothing can have arrived unseen, and
    /// the directory is not looked through again (a reload storm on a
    /// directory of 100,000 files would cost a core).
    fn kept(previous: Option<&WatchHub>, shared: &Shared, group: &Group) -> bool {
        let Some(old) = previous.map(|hub| &hub.shared) else {
            return false;
        };
        let Some(old_group) = old.groups.iter().find(|g| g.path == group.path) else {
            return false;
        };
        let now = identity(&group.path);
        now.is_some()
            && *lock(&old_group.watching) == now
            && old_group.members.len() == group.members.len()
            && shared
                .members(group)
                .all(|new| old.members(old_group).any(|was| was.same(new)))
    }

    /// Starts watching every registration's directory, and raises the
    /// rules whose directory already holds ready files, except where
    /// `previous` (the hub this one replaces at a reload, still running)
    /// watched the same directory for the same rules. Must be called
    /// inside a Tokio runtime.
    pub(crate) fn start(
        registrations: Vec<Registration>,
        previous: Option<&WatchHub>,
    ) -> Result<WatchHub, WatchError> {
        let shared = Arc::new(Shared {
            groups: groups(&registrations),
            registrations,
            recent: Mutex::new(Recent::default()),
            ancestry: follow::Ancestry::default(),
        });
        let sink = Arc::clone(&shared);
        let (watcher, reader) = inotify::start(move |event| {
            // Lost events mean a look through every watched directory
            // (perhaps 100,000 files): off the runtime's thread, where it
            // would hold up timers and control clients.
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) if event.lost() => {
                    let sink = Arc::clone(&sink);
                    drop(runtime.spawn_blocking(move || sink.handle(event)));
                }
                _ => sink.handle(event),
            }
        })
        .map_err(WatchError::Watcher)?;
        for group in &shared.groups {
            let polled = shared.members(group).any(|r| r.spec.poll.is_some());
            if let (Some(kind), false) = (blind_file_system(&group.path), polled) {
                tracing::warn!(
                    event = "blind_file_system",
                    directory = %group.path.display(),
                    file_system = kind,
                    fix = "add \"poll: 30s\" to its watch rule",
                    "the directory is on {kind}, where inotify misses changes made elsewhere: add \"poll: 30s\" to its watch rule"
                );
            }
            let why = if Self::kept(previous, &shared, group) {
                follow::Why::Kept
            } else {
                follow::Why::Start
            };
            follow::add_watches(&shared, group, &watcher, why)?;
        }
        follow::watch_ancestors(&shared, &watcher);
        let mut tasks = vec![tokio::spawn(follow::follow(
            Arc::clone(&shared),
            Arc::clone(&watcher),
        ))];
        for r in &shared.registrations {
            if r.spec.poll.is_some() {
                tasks.push(tokio::spawn(follow::poll(r.clone())));
            }
            if let Some(limit) = r.spec.drain_within {
                tasks.push(tokio::spawn(drain::check_draining(r.clone(), limit)));
            }
        }
        Ok(WatchHub {
            shared,
            tasks,
            _reader: reader,
        })
    }
}

#[cfg(test)]
mod tests;
