//! A `postkickd run` process for tests: started with its log in a file,
//! signalled with real signals, stopped and timed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{wait_for, write_script, LogFile};

/// The `postkickd` built from this crate.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_postkickd"))
}

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

/// A running daemon.
pub struct Daemon {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `postkickd run --rules RULES ARGS...`, logging to `log`, and
    /// waits until its rules are running.
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

    fn launch(
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
            .args(args)
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
        daemon.wait_for_log("rules running", 1, Duration::from_secs(10));
        daemon
    }

    /// The daemon's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        LogFile(self.log.clone()).text()
    }

    /// How many log lines contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        LogFile(self.log.clone()).count(needle)
    }

    /// Waits until at least `count` log lines contain `needle`.
    pub fn wait_for_log(&self, needle: &str, count: usize, limit: Duration) -> usize {
        LogFile(self.log.clone()).wait_for(needle, count, limit)
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
