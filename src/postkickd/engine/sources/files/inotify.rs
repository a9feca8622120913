//! The daemon's one inotify instance: a watch per directory, with only the
//! events its use needs, read on the runtime in batches and named by path.
//!
//! A watched directory hears of files that arrive in it (closed after
//! writing, moved in, given a new mode, created as a hard link) and of its
//! own removal or move; a directory above a watched one hears only of
//! entries created, removed, moved or given new attributes, and of its
//! own removal or move. Opening, reading, writing and unlinking a file
//! wake nothing: pickup opening and removing each maildrop file, or a log
//! file written beside a watched path, costs the daemon no wake-up. It
//! reads only events; it never looks at files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask, Watches};

use crate::postkickd::lock::lock;

/// What a watch is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Interest {
    /// A watched directory: files arriving, and itself.
    Files,
    /// A directory above a watched one: its entries changing, and itself.
    Ancestry,
    /// Both: a watched directory above another watched one.
    Both,
}

impl Interest {
    fn mask(self) -> WatchMask {
        let own = WatchMask::DELETE_SELF | WatchMask::MOVE_SELF | WatchMask::ONLYDIR;
        let files =
            WatchMask::CLOSE_WRITE | WatchMask::MOVED_TO | WatchMask::ATTRIB | WatchMask::CREATE;
        let entries = WatchMask::CREATE
            | WatchMask::DELETE
            | WatchMask::MOVED_FROM
            | WatchMask::MOVED_TO
            | WatchMask::ATTRIB;
        own | match self {
            Interest::Files => files,
            Interest::Ancestry => entries,
            Interest::Both => files | entries,
        }
    }
}

/// One event: the path it names (the entry, or the watched directory
/// itself), and what happened. An overflow names no path.
#[derive(Debug, Clone)]
pub(super) struct Event {
    /// The entry, or the watched directory itself.
    pub path: PathBuf,
    /// What happened.
    pub mask: EventMask,
}

impl Event {
    /// Events were lost: the kernel's queue overflowed.
    pub(super) fn lost(&self) -> bool {
        self.mask.contains(EventMask::Q_OVERFLOW)
    }
}

/// Which path each watch was added under.
#[derive(Default)]
struct Names {
    by_watch: HashMap<WatchDescriptor, PathBuf>,
    by_path: HashMap<PathBuf, WatchDescriptor>,
}

/// Adds and removes watches; the reader task delivers their events.
pub(super) struct Watcher {
    watches: Mutex<Watches>,
    names: Arc<Mutex<Names>>,
}

impl Watcher {
    /// Watches `path` (following a symbolic link) for `interest`,
    /// replacing what it was watched for.
    pub(super) fn watch(&self, path: &Path, interest: Interest) -> std::io::Result<()> {
        let wd = lock(&self.watches).add(path, interest.mask())?;
        let mut names = lock(&self.names);
        if let Some(old) = names.by_path.insert(path.to_owned(), wd.clone()) {
            if old != wd {
                names.by_watch.remove(&old);
            }
        }
        names.by_watch.insert(wd, path.to_owned());
        Ok(())
    }

    /// Stops watching `path`, if it is watched.
    pub(super) fn unwatch(&self, path: &Path) {
        let wd = {
            let mut names = lock(&self.names);
            let Some(wd) = names.by_path.remove(path) else {
                return;
            };
            names.by_watch.remove(&wd);
            wd
        };
        // A directory that is gone took its watch with it.
        let _ = lock(&self.watches).remove(wd);
    }
}

/// The inotify instance as the runtime polls it.
struct Instance {
    fd: std::os::fd::RawFd,
    inotify: Mutex<Inotify>,
}

impl std::os::fd::AsRawFd for Instance {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd
    }
}

/// What reads the instance: the runtime's registration, the watches'
/// names and what each event is handed to.
struct Source {
    fd: tokio::io::unix::AsyncFd<Instance>,
    names: Arc<Mutex<Names>>,
    handle: Box<dyn Fn(Event) + Send + Sync>,
}

/// How many bytes of events one read takes (a few hundred events).
const BATCH: usize = 16 * 1024;

impl Source {
    /// Reads the events the kernel holds now and hands each on; `Ok(false)`
    /// when there were none.
    fn read_batch(&self, buffer: &mut [u8]) -> std::io::Result<bool> {
        let named: Vec<Event> = {
            let mut inotify = lock(&self.fd.get_ref().inotify);
            let events = match inotify.read_events(buffer) {
                Ok(events) => events,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            };
            let mut names = lock(&self.names);
            events
                .filter_map(|event| {
                    if event.mask.contains(EventMask::IGNORED) {
                        if let Some(path) = names.by_watch.remove(&event.wd) {
                            if names.by_path.get(&path) == Some(&event.wd) {
                                names.by_path.remove(&path);
                            }
                        }
                    }
                    let directory = names.by_watch.get(&event.wd).cloned();
                    let path = match (directory, event.name) {
                        (Some(directory), Some(name)) => directory.join(name),
                        (Some(directory), None) => directory,
                        (None, _) if event.mask.contains(EventMask::Q_OVERFLOW) => PathBuf::new(),
                        (None, _) => return None,
                    };
                    Some(Event {
                        path,
                        mask: event.mask,
                    })
                })
                .collect()
        };
        for event in named {
            (self.handle)(event);
        }
        Ok(true)
    }
}

/// The reader task; dropping it stops the task and hands on the events
/// still queued (at a reload, those that came while the daemon was busy
/// reloading: the new watches did not see them).
pub(super) struct Reader {
    task: tokio::task::JoinHandle<()>,
    source: Arc<Source>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.task.abort();
        let mut buffer = vec![0u8; BATCH];
        while let Ok(true) = self.source.read_batch(&mut buffer) {}
    }
}

/// Starts the inotify instance and a task (on the current runtime) that
/// reads its events in batches and hands each to `handle`, until the
/// [`Reader`] is dropped.
pub(super) fn start(
    handle: impl Fn(Event) + Send + Sync + 'static,
) -> std::io::Result<(Arc<Watcher>, Reader)> {
    use std::os::fd::AsRawFd;
    let inotify = Inotify::init()?;
    let watcher = Arc::new(Watcher {
        watches: Mutex::new(inotify.watches()),
        names: Arc::default(),
    });
    let source = Arc::new(Source {
        fd: crate::sys::async_fd(Instance {
            fd: inotify.as_raw_fd(),
            inotify: Mutex::new(inotify),
        })?,
        names: Arc::clone(&watcher.names),
        handle: Box::new(handle),
    });
    let reading = Arc::clone(&source);
    let task = tokio::spawn(async move {
        let mut buffer = vec![0u8; BATCH];
        loop {
            let Ok(mut ready) = reading.fd.readable().await else {
                return;
            };
            match reading.read_batch(&mut buffer) {
                Ok(true) => {}
                Ok(false) => ready.clear_ready(),
                Err(e) => {
                    tracing::error!(event = "watcher_failed", error = %e, "cannot read file events: watch rules hear nothing until a reload");
                    return;
                }
            }
        }
    });
    Ok((watcher, Reader { task, source }))
}

/// Whether an event says the path it names was created, removed, moved or
/// given new attributes: what may change where a watched path leads.
pub(super) fn entry_changed(mask: EventMask) -> bool {
    mask.intersects(
        EventMask::CREATE
            | EventMask::DELETE
            | EventMask::MOVED_FROM
            | EventMask::MOVED_TO
            | EventMask::ATTRIB
            | EventMask::DELETE_SELF
            | EventMask::MOVE_SELF
            | EventMask::UNMOUNT,
    )
}
