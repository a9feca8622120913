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
pub(crate) fn strerror(errno: i32) -> String {
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
pub(crate) fn io_error_text(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(errno) => strerror(errno),
        None => err.to_string(),
    }
}

/// True when this process runs with privileges its invoker does not have
/// (set-uid or set-gid): Postfix then distrusts the environment and `-c`.
/// Plain root (uid = euid = 0) is trusted, as in Postfix.
pub(crate) fn running_set_id() -> bool {
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

/// The process's soft limit on open files (`RLIMIT_NOFILE`).
pub(crate) fn open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: limit is a valid, writable rlimit that outlives the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (rc == 0).then_some(limit.rlim_cur)
}

/// Whether this process's effective user and group may write in the
/// directory `path` (`faccessat` with `AT_EACCESS`).
pub(crate) fn may_write_in(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: path is a NUL-terminated string that outlives the call.
    let rc = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::W_OK | libc::X_OK,
            libc::AT_EACCESS,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The name of the user this process runs as (`postfix`), or its uid.
pub(crate) fn user_name() -> String {
    // SAFETY: geteuid cannot fail and takes no arguments.
    let uid = unsafe { libc::geteuid() };
    passwd_name(uid).unwrap_or_else(|| format!("uid {uid}"))
}

/// The name of user `uid` in the password database, if it has one.
fn passwd_name(uid: u32) -> Option<String> {
    let mut entry: libc::passwd = unsafe_zeroed_passwd();
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: entry, buf and found are valid and writable for the call, and
    // buf's length is passed; getpwuid_r writes only into them.
    let rc = unsafe { libc::getpwuid_r(uid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() || entry.pw_name.is_null() {
        return None;
    }
    // SAFETY: on success pw_name points at a NUL-terminated string in buf,
    // which is still alive.
    let name = unsafe { CStr::from_ptr(entry.pw_name) };
    Some(name.to_string_lossy().into_owned())
}

/// The id of user `user`, if there is one.
pub(crate) fn user_id(user: &str) -> Option<u32> {
    let name = std::ffi::CString::new(user).ok()?;
    let mut entry: libc::passwd = unsafe_zeroed_passwd();
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: name is NUL-terminated; entry, buf and found are valid and
    // writable for the call, and buf's length is passed.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut entry,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    (rc == 0 && !found.is_null()).then_some(entry.pw_uid)
}

/// The name of user `uid`, or the number when it has none.
pub(crate) fn user_name_of(uid: u32) -> String {
    passwd_name(uid).unwrap_or_else(|| uid.to_string())
}

fn unsafe_zeroed_passwd() -> libc::passwd {
    // SAFETY: passwd is plain old data (integers and pointers); all-zero,
    // with null pointers, is a valid value that getpwuid_r overwrites.
    unsafe { std::mem::zeroed() }
}

/// The id of group `group`; `NotFound` when there is none.
pub(crate) fn group_id(group: &str) -> std::io::Result<libc::gid_t> {
    let name = std::ffi::CString::new(group)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: group is plain old data; all-zero is valid and getgrnam_r
    // overwrites it.
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: name is NUL-terminated; entry, buf and found are valid and
    // writable for the call, buf's length is passed.
    let rc = unsafe {
        libc::getgrnam_r(
            name.as_ptr(),
            &mut entry,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    if found.is_null() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("there is no group {group}"),
        ));
    }
    Ok(entry.gr_gid)
}

/// The name of group `gid`, or the number when it has none.
pub(crate) fn group_name(gid: u32) -> String {
    // SAFETY: group is plain old data; all-zero is valid and getgrgid_r
    // overwrites it.
    let mut entry: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16384];
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: entry, buf and found are valid and writable for the call,
    // buf's length is passed.
    let rc = unsafe { libc::getgrgid_r(gid, &mut entry, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() || entry.gr_name.is_null() {
        return gid.to_string();
    }
    // SAFETY: getgrgid_r found the group: gr_name points at a
    // NUL-terminated string inside buf, which lives until the end here.
    unsafe { std::ffi::CStr::from_ptr(entry.gr_name) }
        .to_string_lossy()
        .into_owned()
}

/// Gives `path` to group `group`: this process must be root or a member.
pub(crate) fn give_to_group(path: &std::path::Path, group: &str) -> std::io::Result<()> {
    std::os::unix::fs::chown(path, None, Some(group_id(group)?))
}

/// Sends `SIGHUP` to process `pid`.
pub(crate) fn send_hangup(pid: i32) -> std::io::Result<()> {
    // SAFETY: kill takes two integers and touches no memory of ours.
    if unsafe { libc::kill(pid, libc::SIGHUP) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Whether process `pid` exists (it may belong to another user, or be
/// hidden from `/proc` by `ProtectProc=`).
pub(crate) fn process_exists(pid: i32) -> bool {
    // SAFETY: kill with signal 0 sends nothing and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// The machine's host name, as `gethostname(2)` gives it.
pub(crate) fn hostname() -> String {
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

/// A timer that fires at a wall-clock instant, whatever the clock does in
/// between (`timerfd` on `CLOCK_REALTIME` with an absolute time): a suspend
/// or a clock set forward makes it fire at once, a clock set back makes it
/// wait for the instant. Setting the clock also wakes it with `ECANCELED`,
/// so that the caller can look at the clock again.
#[derive(Debug)]
pub(crate) struct WallTimer {
    fd: std::os::fd::OwnedFd,
}

impl WallTimer {
    /// A disarmed, non-blocking timer.
    pub(crate) fn new() -> std::io::Result<Self> {
        use std::os::fd::FromRawFd;
        // SAFETY: timerfd_create takes plain integer flags and returns a new
        // descriptor or -1; nothing is borrowed.
        let fd = unsafe {
            libc::timerfd_create(libc::CLOCK_REALTIME, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC)
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a freshly created descriptor that nothing else owns.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        Ok(Self { fd })
    }

    /// Hands the timer to the Tokio reactor (inside a runtime).
    pub(crate) fn register(self) -> std::io::Result<tokio::io::unix::AsyncFd<Self>> {
        // SAFETY: the descriptor is an OwnedFd inside the timer, so it stays
        // open, and as_raw_fd keeps returning it, for as long as the AsyncFd
        // owns the timer.
        unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(self, tokio::io::Interest::READABLE)
        }
        .map_err(|e| e.into_parts().1)
    }

    /// Arms the timer for `at` (an instant in the past fires at once).
    pub(crate) fn arm_at(&self, at: std::time::SystemTime) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let since_epoch = at
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            // An all-zero it_value would disarm the timer.
            .max(std::time::Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: libc::time_t::try_from(since_epoch.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(since_epoch.subsec_nanos()),
            },
        };
        let flags = libc::TFD_TIMER_ABSTIME | libc::TFD_TIMER_CANCEL_ON_SET;
        // SAFETY: the descriptor is ours and open; spec is a valid itimerspec
        // that outlives the call; a null old-value pointer is allowed.
        let rc = unsafe {
            libc::timerfd_settime(self.fd.as_raw_fd(), flags, &spec, std::ptr::null_mut())
        };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Consumes an expiry: `Ok` when the timer fired, `ECANCELED` when the
    /// clock was set, `WouldBlock` when neither happened yet.
    pub(crate) fn read(&self) -> std::io::Result<u64> {
        use std::os::fd::AsRawFd;
        let mut expirations = [0u8; 8];
        // SAFETY: the descriptor is ours and open; the buffer is 8 writable
        // bytes, the size a timerfd read needs.
        let n = unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                expirations.as_mut_ptr().cast(),
                expirations.len(),
            )
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(u64::from_ne_bytes(expirations))
    }
}

impl std::os::fd::AsRawFd for WallTimer {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

/// The `statfs(2)` magic number of the file system holding `path`.
pub(crate) fn filesystem_magic(path: &std::path::Path) -> std::io::Result<i64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: statfs is plain old data; all-zero is a valid value.
    let mut info: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c_path is a NUL-terminated string and info a writable statfs,
    // both alive for the duration of the call.
    let rc = unsafe { libc::statfs(c_path.as_ptr(), &mut info) };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    Ok(i64::from(info.f_type as i64))
}

/// Registers a non-blocking descriptor that `owner` owns with the Tokio
/// runtime, so that a task can wait until it is readable.
pub(crate) fn async_fd<T: std::os::fd::AsRawFd>(
    owner: T,
) -> std::io::Result<tokio::io::unix::AsyncFd<T>> {
    // SAFETY: every caller passes an owner of an open descriptor (the
    // inotify instance), which moves into the AsyncFd; the AsyncFd
    // deregisters it when dropped, before `owner` (and with it, perhaps,
    // the descriptor) goes, and nothing replaces or closes it meanwhile.
    unsafe { tokio::io::unix::AsyncFd::register(owner) }.map_err(std::io::Error::from)
}
