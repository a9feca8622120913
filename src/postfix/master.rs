//! Postfix's master: the services its `master.cf` defines, and whether it
//! runs.
//!
//! `master.cf` is read as master reads it: a line that starts with
//! whitespace continues the entry above it, a line whose first non-blank
//! character is `#` is a comment wherever it is, blank lines are nothing;
//! an entry's fields are service, type, private, unprivileged, chroot,
//! wakeup, process limit and command (with its `-o` options). An entry's
//! endpoint is `private/NAME` unless its private field is `n`
//! (`public/NAME`). Entries commented out whole (`#pickup unix n - y 60 1
//! pickup`) are kept apart, so that a missing service can be said to be
//! commented out at its line. Whether master runs is read from its pid
//! file (`$queue_directory/pid/master.pid`) and the process it names.
//! Nothing here writes, connects or signals; the files are read bounded.

use std::path::{Path, PathBuf};

use crate::files::{read_bounded, Links};

/// The largest master.cf read; Debian's is 7 KiB.
const MAX_MASTER_CF_BYTES: u64 = 1 << 20;

/// The types of entry a kick can reach: a UNIX-domain socket or a FIFO
/// (`pass` is a socket too; `unix-dgram` is postlog's datagram socket).
const LOCAL_TYPES: &[&str] = &["unix", "fifo", "pass", "unix-dgram"];

/// Every type master.cf knows, to tell a commented-out entry from prose.
const ALL_TYPES: &[&str] = &["inet", "unix", "fifo", "pass", "unix-dgram"];

/// One service entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The line it starts on.
    pub line: usize,
    /// Its name (for a local entry, the endpoint's file name).
    pub service: String,
    /// `unix`, `fifo`, `inet`, `pass` or `unix-dgram`.
    pub kind: String,
    /// `public` or `private`: where its endpoint is.
    pub class: &'static str,
}

/// What master.cf defines.
#[derive(Debug, Clone, Default)]
pub(crate) struct MasterCf {
    /// Where it was read.
    pub path: PathBuf,
    /// The entries, in file order.
    pub entries: Vec<Entry>,
    /// Entries commented out whole, in file order.
    pub commented: Vec<Entry>,
}

/// An entry from its fields, if they make one.
fn entry(line: usize, fields: &[&str]) -> Option<Entry> {
    let [service, kind, private, ..] = fields else {
        return None;
    };
    if fields.len() < 8 || !ALL_TYPES.contains(kind) {
        return None;
    }
    Some(Entry {
        line,
        service: (*service).to_owned(),
        kind: (*kind).to_owned(),
        class: if *private == "n" { "public" } else { "private" },
    })
}

impl MasterCf {
    /// Reads `config_directory/master.cf`: `None` when there is none (a
    /// test queue, a configuration directory that is only a main.cf);
    /// why not, in words, when it cannot be read.
    pub(crate) fn read(config_directory: &Path) -> Result<Option<MasterCf>, String> {
        let path = config_directory.join("master.cf");
        let bytes = match read_bounded(&path, MAX_MASTER_CF_BYTES, Links::Follow) {
            Ok(bytes) => bytes,
            Err(e) if e.is_missing() => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let mut master = MasterCf::parse(&String::from_utf8_lossy(&bytes));
        master.path = path;
        Ok(Some(master))
    }

    /// The entries in `text`.
    pub(crate) fn parse(text: &str) -> MasterCf {
        let mut master = MasterCf::default();
        // The logical line being gathered: where it starts, and its words.
        let mut current: Option<(usize, Vec<&str>)> = None;
        let finish = |current: &mut Option<(usize, Vec<&str>)>, master: &mut MasterCf| {
            if let Some((line, words)) = current.take() {
                master.entries.extend(entry(line, &words));
            }
        };
        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            let trimmed = raw.trim_start();
            if trimmed.is_empty() {
                continue;
            }
            if let Some(comment) = trimmed.strip_prefix('#') {
                if !raw.starts_with([' ', '\t']) {
                    let words: Vec<&str> = comment.split_whitespace().collect();
                    master.commented.extend(entry(number, &words));
                }
                continue;
            }
            if raw.starts_with([' ', '\t']) {
                if let Some((_, words)) = current.as_mut() {
                    words.extend(trimmed.split_whitespace());
                }
                continue;
            }
            finish(&mut current, &mut master);
            current = Some((number, trimmed.split_whitespace().collect()));
        }
        finish(&mut current, &mut master);
        master
    }

    /// The entries a kick to a service called `service` could reach.
    pub(crate) fn local<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a Entry> {
        self.entries
            .iter()
            .filter(move |e| e.service == service && LOCAL_TYPES.contains(&e.kind.as_str()))
    }

    /// The names of every entry a kick could reach.
    pub(crate) fn local_names(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(|e| LOCAL_TYPES.contains(&e.kind.as_str()))
            .map(|e| e.service.as_str())
    }

    /// A commented-out local entry for `service`, if there is one.
    pub(crate) fn commented_out(&self, service: &str) -> Option<&Entry> {
        self.commented
            .iter()
            .rev()
            .find(|e| e.service == service && LOCAL_TYPES.contains(&e.kind.as_str()))
    }
}

/// What master's pid file and the process it names say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MasterState {
    /// The pid file names a live `master` (not a zombie).
    Runs(u32),
    /// There is no pid file (`None`), or the process it names is gone or
    /// is something else.
    Gone(Option<u32>),
    /// It cannot be seen from here: the pid file cannot be read (it is
    /// root's, 0600 on Debian) or other users' processes are hidden (the
    /// unit's `ProtectProc=invisible`).
    Unseen,
}

/// What Postfix's master is for the queue in `queue_directory`.
pub(crate) fn master_state(queue_directory: &Path) -> MasterState {
    let pid_file = queue_directory.join("pid").join("master.pid");
    let text = match read_bounded(&pid_file, 64, Links::Follow) {
        Ok(text) => text,
        Err(e) if e.is_missing() => return MasterState::Gone(None),
        Err(_) => return MasterState::Unseen,
    };
    let Ok(pid) = String::from_utf8_lossy(&text).trim().parse::<u32>() else {
        return MasterState::Gone(None);
    };
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        // Gone, or hidden: init (pid 1) is always there unless others'
        // processes are hidden from this one.
        return if Path::new("/proc/1/stat").exists() {
            MasterState::Gone(Some(pid))
        } else {
            MasterState::Unseen
        };
    };
    let alive = stat
        .split_once(" (")
        .and_then(|(_, rest)| rest.rsplit_once(") "))
        .is_some_and(|(name, rest)| name == "master" && !rest.starts_with('Z'));
    if alive {
        MasterState::Runs(pid)
    } else {
        MasterState::Gone(Some(pid))
    }
}

/// Whether Postfix's master is known to run.
pub(crate) fn running_master(queue_directory: &Path) -> Option<u32> {
    match master_state(queue_directory) {
        MasterState::Runs(pid) => Some(pid),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = "\
# Postfix master process configuration file.
# ==========================================================================
# service type  private unpriv  chroot  wakeup  maxproc command + args
# ==========================================================================
smtp      inet  n       -       y       -       -       smtpd
#submission inet n       -       y       -       -       smtpd
#  -o syslog_name=postfix/submission
#pickup    fifo  n       -       y       60      1       pickup
qmgr      unix  n       -       n       300     1       qmgr
  -o qmgr_message_active_limit=1000
# a comment inside
  -o qmgr_message_recipient_limit=1000
tlsmgr    unix  -       -       y       1000?   1       tlsmgr
flush     unix  n       -       y       1000?   0       flush
postlog   unix-dgram n  -       n       -       1       postlogd
";

    #[test]
    fn entries_continuations_and_comments_read_as_master_reads_them() {
        let master = MasterCf::parse(DEBIAN);
        let names: Vec<(&str, &str, usize)> = master
            .entries
            .iter()
            .map(|e| (e.service.as_str(), e.class, e.line))
            .collect();
        assert_eq!(
            names,
            [
                ("smtp", "public", 5),
                ("qmgr", "public", 9),
                ("tlsmgr", "private", 13),
                ("flush", "public", 14),
                ("postlog", "public", 15),
            ]
        );
        assert_eq!(master.local("smtp").count(), 0, "inet is no endpoint");
        assert_eq!(master.local("qmgr").count(), 1);
        let pickup = master.commented_out("pickup").expect("commented");
        assert_eq!((pickup.line, pickup.class), (8, "public"));
        assert!(master.commented_out("submission").is_none(), "inet");
        assert!(master.commented_out("qmgr").is_none());
    }

    #[test]
    fn a_pid_file_naming_no_master_means_not_running() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(running_master(dir.path()), None);
        std::fs::create_dir(dir.path().join("pid")).expect("mkdir");
        std::fs::write(
            dir.path().join("pid/master.pid"),
            format!("{:>10}\n", std::process::id()),
        )
        .expect("write");
        assert_eq!(running_master(dir.path()), None, "the test is no master");
        std::fs::write(dir.path().join("pid/master.pid"), "garbage").expect("write");
        assert_eq!(running_master(dir.path()), None);
    }
}
