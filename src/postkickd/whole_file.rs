//! Files the daemon writes for others to read while it runs (the state
//! file, the metrics file): always whole.
//!
//! The new contents go to a temporary file beside the target (its name
//! plus `.tmp`), are flushed to disk, and the temporary file is renamed
//! over the target: a reader, or the daemon after a crash or a power
//! loss, sees the old contents or the new, never part of either. It knows
//! nothing of what it writes.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary file beside `path`.
fn temporary(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Replaces `path` with `contents`, whole.
pub(super) fn write(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let temporary = temporary(path);
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_file_is_replaced_whole_and_no_temporary_stays() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("postkickd.prom");
        super::write(&path, b"old\n").expect("write");
        super::write(&path, b"new\n").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"new\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("postkickd.prom")]);
    }
}
