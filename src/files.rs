//! Files read from places others can write, and files written whole.
//!
//! [`read_bounded`] opens without blocking (a FIFO or a device at the path
//! cannot hang the caller), takes regular files only, and reads at most a
//! given size: a 3 GB state file or `/dev/zero` costs nothing. Where the
//! path is the daemon's own (its state file), it refuses to follow a
//! symlink. [`write_whole`] writes the way Postfix writes queue files: a
//! temporary file created exclusively (`O_EXCL|O_NOFOLLOW`, a name no one
//! else holds) beside the target, flushed to disk, renamed over the
//! target, so a reader (or the daemon after a crash) sees the old contents
//! or the new, a symlink or FIFO planted at the target or at a temporary
//! name is never written through, and a failed write leaves nothing
//! behind. It knows nothing of what it reads or writes.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    /// It could not be opened or read.
    #[error("{}", crate::sys::io_error_text(.0))]
    Io(#[from] std::io::Error),
    /// It is a directory.
    #[error("it is a directory")]
    Directory,
    /// It is a FIFO, socket or device.
    #[error("it is not a regular file (a FIFO, socket or device)")]
    NotRegular,
    /// It is larger than allowed.
    #[error("{limit} bytes is the most it may have, and it has more")]
    TooLarge {
        /// The bound.
        limit: u64,
    },
}

impl ReadError {
    /// The file is not there.
    pub(crate) fn is_missing(&self) -> bool {
        matches!(self, Self::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Whether a symlink at the path is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Links {
    /// Follow it: the path is the administrator's to point anywhere.
    Follow,
    /// Refuse it: the path is the daemon's own.
    Refuse,
}

/// Reads the regular file at `path`, at most `limit` bytes.
pub(crate) fn read_bounded(path: &Path, limit: u64, links: Links) -> Result<Vec<u8>, ReadError> {
    let mut flags = libc::O_NONBLOCK;
    if links == Links::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)?;
    let metadata = file.metadata()?;
    if metadata.is_dir() {
        return Err(ReadError::Directory);
    }
    if !metadata.is_file() {
        return Err(ReadError::NotRegular);
    }
    // Refused before a byte is read; the bounded read below still holds
    // for a file that grows meanwhile.
    if metadata.len() > limit {
        return Err(ReadError::TooLarge { limit });
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

/// Temporary names made by this process so far.
static TEMPORARIES: AtomicU64 = AtomicU64::new(0);

/// A temporary name beside `path` that no one else holds: hidden, with
/// this process's id and a counter.
fn temporary(path: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        TEMPORARIES.fetch_add(1, Ordering::Relaxed)
    ));
    path.with_file_name(name)
}

/// Replaces `path` with `contents`, whole.
pub(crate) fn write_whole(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let temporary = temporary(path);
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("list")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_file_is_replaced_whole_and_no_temporary_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("postkickd.prom");
        write_whole(&path, b"old\n").expect("write");
        write_whole(&path, b"new\n").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"new\n");
        assert_eq!(names(dir.path()), ["postkickd.prom"]);
    }

    #[test]
    fn a_symlink_at_the_target_is_replaced_never_written_through() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").expect("write");
        let path = dir.path().join("state");
        std::os::unix::fs::symlink(&victim, &path).expect("symlink");
        write_whole(&path, b"{}").expect("write");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep");
        assert!(!std::fs::symlink_metadata(&path)
            .expect("stat")
            .file_type()
            .is_symlink());
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state");
        std::fs::create_dir(&path).expect("mkdir");
        assert!(write_whole(&path, b"{}").is_err());
        assert_eq!(names(dir.path()), ["state"]);
    }

    #[test]
    fn reads_are_bounded_and_take_regular_files_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("big");
        let file = std::fs::File::create(&big).expect("create");
        file.set_len(2 << 30).expect("a sparse 2 GB file");
        assert!(matches!(
            read_bounded(&big, 1 << 20, Links::Follow),
            Err(ReadError::TooLarge { .. })
        ));
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), 1 << 20, Links::Follow),
            Err(ReadError::NotRegular)
        ));
        assert!(matches!(
            read_bounded(dir.path(), 1 << 20, Links::Follow),
            Err(ReadError::Directory)
        ));
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        assert!(matches!(
            read_bounded(&fifo, 1 << 20, Links::Follow),
            Err(ReadError::NotRegular)
        ));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&big, &link).expect("symlink");
        assert!(read_bounded(&link, 1 << 20, Links::Refuse).is_err());
        assert!(read_bounded(&dir.path().join("none"), 1, Links::Follow)
            .expect_err("missing")
            .is_missing());
    }
}
