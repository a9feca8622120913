//! The few operating-system facts that the standard library does not expose.
//!
//! This is the only module allowed `unsafe`: each call is a plain libc query
//! with no pointer that outlives it. It owns no state and must not grow
//! anything that could be written with `std` instead.

#![allow(unsafe_code)]

use std::ffi::CStr;

/// The system's text for an `errno` value, as `strerror(3)` words it
/// (`No such file or directory`), without the `(os error N)` that
/// `std::io::Error` appends.
pub fn strerror(errno: i32) -> String {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: buf is a valid, writable buffer of the length passed; the XSI
    // strerror_r that the libc crate binds writes a NUL-terminated string
    // into it (truncating if needed) and touches nothing else.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return format!("Unknown error {errno}");
    }
    // SAFETY: strerror_r returned 0, so buf holds a NUL-terminated string.
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) };
    text.to_string_lossy().into_owned()
}

/// The text Postfix's `%m` would print for an I/O error.
pub fn io_error_text(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(errno) => strerror(errno),
        None => err.to_string(),
    }
}

/// True when this process runs with privileges its invoker does not have
/// (set-uid or set-gid): Postfix then distrusts the environment and `-c`.
/// Plain root (uid = euid = 0) is trusted, as in Postfix.
pub fn running_set_id() -> bool {
    // SAFETY: these four getters cannot fail and take no arguments.
    let (uid, euid, gid, egid) = unsafe {
        (
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
        )
    };
    uid != euid || gid != egid
}

/// The machine's host name, as `gethostname(2)` gives it.
pub fn hostname() -> String {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: buf is valid and writable for buf.len() bytes; the last byte is
    // reserved so the result is always NUL-terminated.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr(), buf.len() - 1) };
    if rc != 0 {
        return String::from("localhost");
    }
    // SAFETY: the final byte of buf was never written and is still 0.
    let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
    name.to_string_lossy().into_owned()
}
