//! What `/proc` says about a process: memory, CPU, wakeups, descriptors.

/// A numeric field of `/proc/PID/status` (`VmRSS:`), or of every thread's
/// status summed for the context-switch counters.
pub fn status_field(pid: u32, field: &str) -> u64 {
    let read = |path: String| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .unwrap_or(0)
    };
    if !field.contains("ctxt") {
        return read(format!("/proc/{pid}/status"));
    }
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| {
            tasks
                .flatten()
                .map(|t| read(format!("{}/status", t.path().display())))
                .sum()
        })
        .unwrap_or(0)
}

/// Resident memory in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmRSS:")
}

/// Context switches of all threads: how often the process woke up.
pub fn wakeups(pid: u32) -> u64 {
    status_field(pid, "voluntary_ctxt_switches:") + status_field(pid, "nonvoluntary_ctxt_switches:")
}

/// User plus system CPU time, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let fields: Vec<&str> = s.rsplit(')').next()?.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}

/// Open file descriptors.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// How many inotify instances the process holds.
pub fn inotify_instances(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.flatten()
                .filter(|fd| {
                    std::fs::read_link(fd.path())
                        .is_ok_and(|target| target.to_string_lossy() == "anon_inode:inotify")
                })
                .count()
        })
        .unwrap_or(0)
}

/// How a reaped process ended and how much memory it held at most.
#[derive(Debug, Clone, Copy)]
pub struct Ended {
    /// The exit code, or 128 + the signal that ended it.
    pub code: i32,
    /// Peak resident memory in KiB, as `/proc` showed it.
    pub peak_kib: u64,
}

/// Waits up to `limit` for `child` to end and reaps it, reading its peak
/// memory (`VmHWM`) every 2 ms meanwhile; `peak_kib` carries the highest
/// reading over calls. (`ru_maxrss` from wait4 would not do: it counts
/// the memory of the test process the child was forked from.) `None`
/// while it still runs at the limit. A reaped `child` must not be waited
/// on or killed again.
pub fn wait_with_peak(
    child: &std::process::Child,
    limit: std::time::Duration,
    peak_kib: &mut u64,
) -> Option<Ended> {
    let pid = libc::pid_t::try_from(child.id()).ok()?;
    let deadline = std::time::Instant::now() + limit;
    loop {
        *peak_kib = (*peak_kib).max(status_field(child.id(), "VmHWM:"));
        let mut status = 0;
        // SAFETY: pid is our own child; status is valid for writes for
        // the duration of the call.
        let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if reaped == pid {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                128 + libc::WTERMSIG(status)
            };
            return Some(Ended {
                code,
                peak_kib: *peak_kib,
            });
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}
