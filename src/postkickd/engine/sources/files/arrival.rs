//! When a file counts as arrived, from an inotify event or from a look at
//! the directory.
//!
//! A file arrives when it is written and closed, renamed in, given a new
//! mode (postdrop finishes a maildrop file by its mode), or linked in (a
//! hard link is complete when it appears). A bare create is not an
//! arrival: the file is still being written. Whatever the event, the file
//! must match the rule's pattern and, in an `executable` directory, have
//! its owner-execute bit. The directory is trusted to be hostile: only
//! names and `lstat` data are read, never contents, and links are never
//! followed.

use std::collections::VecDeque;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use inotify::EventMask;

use crate::postkickd::plan::WatchSpec;
use crate::rules::Readiness;

/// What an event says about the file it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sign {
    /// It may have arrived: look at it.
    Arrival,
    /// It was created: it arrived only if it is a hard link.
    Created,
    /// Nothing about an arrival.
    Nothing,
}

/// What an event says: closed after writing, moved in or given new
/// attributes is an arrival; created (not a directory) may be a hard link.
pub(super) fn sign(mask: EventMask) -> Sign {
    if mask.intersects(EventMask::CLOSE_WRITE | EventMask::MOVED_TO | EventMask::ATTRIB) {
        Sign::Arrival
    } else if mask.contains(EventMask::CREATE) && !mask.contains(EventMask::ISDIR) {
        Sign::Created
    } else {
        Sign::Nothing
    }
}

/// Whether `file`, whose `lstat` data is `meta`, counts as arrived for
/// `spec`.
pub(super) fn counts(spec: &WatchSpec, file: &Path, meta: &std::fs::Metadata, sign: Sign) -> bool {
    if !matches_pattern(spec, file) {
        return false;
    }
    let complete = match sign {
        Sign::Arrival => true,
        Sign::Created => meta.is_file() && meta.nlink() > 1,
        Sign::Nothing => false,
    };
    complete && is_ready(spec.ready, meta)
}

/// One state of a file: its inode and its last status change. Writing it
/// again, changing its mode, or another file taking its name makes another.
pub(super) type Stamp = (u64, i64, i64);

/// The state of the file whose `lstat` data is `meta`.
pub(super) fn stamp(meta: &std::fs::Metadata) -> Stamp {
    (meta.ino(), meta.ctime(), meta.ctime_nsec())
}

fn matches_pattern(spec: &WatchSpec, file: &Path) -> bool {
    match (&spec.pattern, file.file_name()) {
        (None, _) => true,
        (Some(pattern), Some(name)) => pattern.matches(&name.to_string_lossy()),
        (Some(_), None) => false,
    }
}

fn is_ready(ready: Readiness, meta: &std::fs::Metadata) -> bool {
    match ready {
        Readiness::Any => true,
        Readiness::Executable => meta.is_file() && meta.permissions().mode() & 0o100 != 0,
    }
}

/// The ready, matching files of a directory: how many, and the one that has
/// been ready longest (by its status change, which the mode change that
/// finishes a maildrop file sets).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Waiting {
    /// How many.
    pub count: usize,
    /// How many became ready before the `late_before` asked for.
    pub late: usize,
    /// The oldest, with the time it became ready.
    pub oldest: Option<(PathBuf, SystemTime)>,
}

/// Looks at every entry of `spec`'s directory; files ready since before
/// `late_before` are also counted as late.
pub(super) fn waiting(spec: &WatchSpec, late_before: Option<SystemTime>) -> Waiting {
    let mut found = Waiting::default();
    let Ok(entries) = std::fs::read_dir(&spec.directory) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_file() || !matches_pattern(spec, &path) || !is_ready(spec.ready, &meta) {
            continue;
        }
        found.count += 1;
        let since = SystemTime::UNIX_EPOCH
            + Duration::new(
                u64::try_from(meta.ctime()).unwrap_or(0),
                u32::try_from(meta.ctime_nsec()).unwrap_or(0),
            );
        if late_before.is_some_and(|cutoff| since < cutoff) {
            found.late += 1;
        }
        if found.oldest.as_ref().is_none_or(|(_, t)| since < *t) {
            found.oldest = Some((path, since));
        }
    }
    found
}

/// Files counted a moment ago, in the state they were counted in: the
/// close that follows the mode change of a finished maildrop file says
/// nothing new, and must not cost a kick; the same name written again
/// (a new state) is a new arrival, however soon.
#[derive(Debug, Default)]
pub(super) struct Recent {
    files: VecDeque<(PathBuf, Stamp, Instant)>,
}

/// How long a counted file is remembered.
const RECENT: Duration = Duration::from_secs(1);
/// How many are remembered at most.
const RECENT_FILES: usize = 256;

impl Recent {
    /// Remembers `file` in state `stamp`; false if it was counted in that
    /// state within the last second.
    pub(super) fn first(&mut self, file: &Path, stamp: Stamp) -> bool {
        let now = Instant::now();
        while self
            .files
            .front()
            .is_some_and(|(_, _, at)| now.duration_since(*at) > RECENT)
            || self.files.len() >= RECENT_FILES
        {
            self.files.pop_front();
        }
        if self.files.iter().any(|(f, s, _)| f == file && *s == stamp) {
            return false;
        }
        self.files.push_back((file.to_owned(), stamp, now));
        true
    }
}
