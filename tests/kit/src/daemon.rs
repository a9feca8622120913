//! A `postkickd run` process for tests: started with its JSON log in a
//! file, signalled with real signals, stopped and timed; its log read as
//! events with fields, never as wording.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{wait_for, write_script};

/// The `postkickd` built from this package.
pub fn binary() -> PathBuf {
    crate::built_binary("postkickd")
}

/// Runs `postkickd ARGS` to its end (without `MAIL_CONFIG` from the
/// environment): its exit code (-1 if killed), stdout and stderr.
pub fn postkickd(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(binary())
        .args(args)
        .env_remove("MAIL_CONFIG")
        .output()
        .expect("run postkickd");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The inotify queue length is a machine-wide limit, taken when a daemon
/// creates its inotify instance. Every daemon starts under the read side;
/// [`Daemon::start_with_inotify_queue_limit`] holds the write side while it
/// starts one with a shrunk limit, so that no other daemon starts meanwhile.
static INOTIFY_LIMIT: RwLock<()> = RwLock::new(());

const MAX_QUEUED_EVENTS: &str = "/proc/sys/fs/inotify/max_queued_events";

/// Writes `dir/as-USER.sh`, which runs postkickd as `user`:`group` with no
/// other groups and no new privileges, as the systemd unit does.
pub fn as_user(dir: &Path, user: &str, group: &str) -> PathBuf {
    let wrapper = dir.join(format!("as-{user}.sh"));
    let script = format!(
        "#!/bin/sh\nexec setpriv --reuid={user} --regid={group} --clear-groups --no-new-privs {} \"$@\"\n",
        binary().display()
    );
    write_script(&wrapper, &script);
    wrapper
}

/// One line of the daemon's JSON log: the event's fields, with those of
/// its span (a kick's `rule`, `trigger` and `target`) beside them.
#[derive(Debug, Clone)]
pub struct Event(serde_json::Map<String, Value>);

impl Event {
    fn parse(line: &str) -> Option<Event> {
        let Value::Object(mut fields) = serde_json::from_str(line).ok()? else {
            return None;
        };
        if let Some(Value::Object(span)) = fields.remove("span") {
            for (name, value) in span {
                if name != "name" {
                    fields.entry(name).or_insert(value);
                }
            }
        }
        Some(Event(fields))
    }

    /// A field as text (numbers and booleans too), if the event has it.
    pub fn get(&self, field: &str) -> Option<String> {
        match self.0.get(field)? {
            Value::String(text) => Some(text.clone()),
            other => Some(other.to_string()),
        }
    }

    /// True when `field` is `value`.
    pub fn is(&self, field: &str, value: &str) -> bool {
        self.get(field).as_deref() == Some(value)
    }

    /// A numeric field.
    pub fn number(&self, field: &str) -> f64 {
        self.get(field)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no number {field} in {self:?}"))
    }
}

/// Every event in a daemon's JSON log file.
pub fn events_in(log: &Path) -> Vec<Event> {
    crate::LogFile(log.to_owned())
        .text()
        .lines()
        .filter_map(Event::parse)
        .collect()
}

/// `--control` and `--state` in a directory beside `log` that any user
/// may write (a daemon run as nobody or postfix too), unless `args` name
/// them: a test daemon never uses the unit's /run/postkickd or
/// /var/lib/postkick.
pub fn own_files(log: &Path, args: &[&str]) -> Vec<std::ffi::OsString> {
    use std::os::unix::fs::PermissionsExt;
    let directory = log.with_extension("d");
    let mut own = Vec::new();
    for option in ["--control", "--state"] {
        if !args
            .iter()
            .any(|a| *a == option || a.starts_with(&format!("{option}=")))
        {
            std::fs::create_dir_all(&directory).expect("mkdir");
            std::fs::set_permissions(&directory, std::fs::Permissions::from_mode(0o1777))
                .expect("chmod");
            own.push(option.into());
            own.push(directory.join(&option[2..]).into_os_string());
        }
    }
    own
}

/// A running daemon.
pub struct Daemon {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `postkickd run --rules RULES ARGS...`, logging JSON to `log`,
    /// and waits until its rules are running.
    pub fn start(rules: &Path, args: &[&str], log: &Path) -> Daemon {
        Self::start_with_env(rules, args, log, &[])
    }

    /// Like [`Daemon::start`], with extra environment variables.
    pub fn start_with_env(rules: &Path, args: &[&str], log: &Path, env: &[(&str, &str)]) -> Daemon {
        Self::launch(&binary(), rules, args, log, env)
    }

    /// Like [`Daemon::start`], through `program` (a wrapper that runs
    /// postkickd with its arguments).
    pub fn start_with_program(program: &Path, rules: &Path, args: &[&str], log: &Path) -> Daemon {
        Self::launch(program, rules, args, log, &[])
    }

    /// Like [`Daemon::start`], with the machine's inotify queue limited to
    /// `events` while the daemon creates its watches (the limit is restored
    /// once it runs). `None` when the limit cannot be changed (not root):
    /// see [`crate::require`].
    pub fn start_with_inotify_queue_limit(rules: &Path, log: &Path, events: u32) -> Option<Daemon> {
        let Ok(original) = std::fs::read_to_string(MAX_QUEUED_EVENTS) else {
            crate::require(&format!("a readable {MAX_QUEUED_EVENTS}"), false);
            return None;
        };
        let _only_this_one = INOTIFY_LIMIT.write().unwrap_or_else(|e| e.into_inner());
        if std::fs::write(MAX_QUEUED_EVENTS, events.to_string()).is_err() {
            crate::require(&format!("root, to shrink {MAX_QUEUED_EVENTS}"), false);
            return None;
        }
        let daemon = Self::spawn(&binary(), rules, &[], log, &[]);
        std::fs::write(MAX_QUEUED_EVENTS, original.trim()).expect("restore the inotify limit");
        Some(daemon)
    }

    fn launch(
        program: &Path,
        rules: &Path,
        args: &[&str],
        log: &Path,
        env: &[(&str, &str)],
    ) -> Daemon {
        let _normal_limit = INOTIFY_LIMIT.read().unwrap_or_else(|e| e.into_inner());
        Self::spawn(program, rules, args, log, env)
    }

    fn spawn(
        program: &Path,
        rules: &Path,
        args: &[&str],
        log: &Path,
        env: &[(&str, &str)],
    ) -> Daemon {
        let file = std::fs::File::create(log).expect("create log");
        let mut command = Command::new(program);
        command
            .arg("run")
            .arg("--rules")
            .arg(rules)
            .args(["--log-format", "json"])
            .args(args)
            .args(own_files(log, args))
            .env_remove("MAIL_CONFIG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("JOURNAL_STREAM")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID");
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn postkickd");
        let daemon = Daemon {
            child: Some(child),
            log: log.to_owned(),
        };
        daemon.wait_for_event("event", "started", 1, Duration::from_secs(10));
        daemon
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The log so far, as written (for failure messages).
    pub fn log_text(&self) -> String {
        crate::LogFile(self.log.clone()).text()
    }

    /// Every event logged so far.
    pub fn events(&self) -> Vec<Event> {
        events_in(&self.log)
    }

    /// The events whose `field` is `value`.
    pub fn events_where(&self, field: &str, value: &str) -> Vec<Event> {
        self.events()
            .into_iter()
            .filter(|e| e.is(field, value))
            .collect()
    }

    /// How many events have `field` equal to `value`.
    pub fn count_where(&self, field: &str, value: &str) -> usize {
        self.events_where(field, value).len()
    }

    /// Waits until at least `count` events have `field` equal to `value`;
    /// returns them.
    pub fn wait_for_event(
        &self,
        field: &str,
        value: &str,
        count: usize,
        limit: Duration,
    ) -> Vec<Event> {
        wait_for(
            limit,
            &format!(
                "{count} events with {field}={value} in {}",
                self.log.display()
            ),
            || {
                let seen = self.events_where(field, value);
                (seen.len() >= count).then_some(seen)
            },
        )
    }

    /// Sends a signal by name (`HUP`, `TERM`, `INT`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name}");
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Sends `signal` and waits for the exit: its status and how long it took.
    pub fn stop_with(mut self, signal: &str) -> (ExitStatus, Duration) {
        let started = Instant::now();
        self.signal(signal);
        let mut child = self.child.take().expect("child");
        let status = wait_for(Duration::from_secs(10), "postkickd to exit", || {
            child.try_wait().ok().flatten()
        });
        (status, started.elapsed())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
