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
