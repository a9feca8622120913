//! Kicks through a FIFO, opened the way Postfix's `safe_open` opens files.
//!
//! The FIFO is opened write-only and non-blocking, so that a FIFO nobody
//! reads fails at once (`ENXIO`: Postfix's master holds its FIFOs open, so
//! this means the mail system is down). It must have one hard link, must not
//! be a directory, and must be what `lstat` sees; a symbolic link is
//! followed only if root owns it and its directory, and nobody else can
//! write there. The request is written as is, with no NUL; an empty request
//! writes nothing. There is no reply to wait for.

use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use super::{
    write_within, EndpointError, EndpointKind, FifoRefusal, PeerOutcome, Report, WriteFailure,
};

fn refuse(path: &Path, why: FifoRefusal) -> EndpointError {
    EndpointError::FifoOpen {
        path: path.to_owned(),
        why,
    }
}

/// A symbolic link Postfix would follow: root's, in a directory only root
/// can write.
fn trusted_symlink(path: &Path, link: &std::fs::Metadata) -> bool {
    if link.uid() != 0 {
        return false;
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::metadata(parent)
        .is_ok_and(|dir| dir.uid() == 0 && dir.mode() & (libc::S_IWGRP | libc::S_IWOTH) == 0)
}

fn open_safely(path: &Path) -> Result<std::fs::File, EndpointError> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|err| refuse(path, FifoRefusal::Open(err)))?;
    let opened = file
        .metadata()
        .map_err(|err| refuse(path, FifoRefusal::Changed(Some(err))))?;
    if opened.nlink() != 1 {
        return Err(refuse(path, FifoRefusal::HardLinks(opened.nlink())));
    }
    if opened.is_dir() {
        return Err(refuse(path, FifoRefusal::Directory));
    }
    let named = std::fs::symlink_metadata(path)
        .map_err(|err| refuse(path, FifoRefusal::Changed(Some(err))))?;
    if named.file_type().is_symlink() {
        return if trusted_symlink(path, &named) {
            Ok(file)
        } else {
            Err(refuse(path, FifoRefusal::SymbolicLink))
        };
    }
    let same = opened.dev() == named.dev()
        && opened.ino() == named.ino()
        && opened.nlink() == named.nlink()
        && opened.mode() == named.mode();
    if same {
        Ok(file)
    } else {
        Err(refuse(path, FifoRefusal::Changed(None)))
    }
}

pub(super) async fn kick(
    path: &Path,
    request: &[u8],
    io_timeout: Duration,
) -> Result<Report, EndpointError> {
    let file = open_safely(path)?;
    let mut bytes_written = 0;
    let mut write_failure = None;
    if !request.is_empty() {
        let written = match tokio::net::unix::pipe::Sender::from_file(file) {
            Ok(mut sender) => {
                write_within(&mut sender, request, io_timeout, &mut bytes_written).await
            }
            Err(error) => Err(error),
        };
        if let Err(error) = written {
            write_failure = Some(WriteFailure {
                request_written: false,
                error,
            });
        }
    }
    Ok(Report {
        kind: EndpointKind::Fifo,
        bytes_written,
        write_failure,
        peer: PeerOutcome::NotWaited,
        elapsed: Duration::ZERO,
    })
}
