//! A private Postfix instance, started and stopped by the tests.
//!
//! It has its own `config_directory`, `queue_directory` and
//! `data_directory` in a temporary directory that the `postfix` user can
//! traverse, no chroot, no TCP listener, a `maillog_file` of its own, and
//! `-v` on `pickup` and `qmgr` so that every request they read is logged.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{traversable_tempdir, wait_for};

/// How to set the instance up.
#[derive(Default)]
pub struct Options {
    /// `pickup`'s wakeup time in master.cf (`-` turns its polling off).
    pub pickup_wakeup: Option<&'static str>,
}

/// A running private Postfix.
pub struct Instance {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub config: PathBuf,
    pub queue: PathBuf,
    pub log: PathBuf,
}

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Instance {
    pub fn start(options: &Options) -> Instance {
        let dir = traversable_tempdir();
        let root = dir.path().to_owned();
        let config = root.join("etc");
        let queue = root.join("spool");
        let data = root.join("data");
        let log = root.join("maillog");
        for d in [&config, &queue, &data] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        run("chown", &["postfix", data.to_str().expect("utf8 path")]);
        let main_cf = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {queue}\n\
             data_directory = {data}\n\
             maillog_file = {log}\n\
             maillog_file_prefixes = {root}\n\
             master_service_disable = inet\n\
             inet_interfaces = loopback-only\n\
             myhostname = postkick-test.localdomain\n\
             mydestination =\n",
            queue = queue.display(),
            data = data.display(),
            log = log.display(),
            root = root.display(),
        );
        std::fs::write(config.join("main.cf"), main_cf).expect("write main.cf");
        std::fs::copy("/etc/postfix/master.cf", config.join("master.cf")).expect("copy master.cf");
        let c = config.to_str().expect("utf8 path");
        run("postconf", &["-c", c, "-F", "*/*/chroot = n"]);
        run(
            "postconf",
            &["-c", c, "-F", "pickup/unix/command = pickup -v"],
        );
        run("postconf", &["-c", c, "-F", "qmgr/unix/command = qmgr -v"]);
        if let Some(wakeup) = options.pickup_wakeup {
            run(
                "postconf",
                &["-c", c, "-F", &format!("pickup/unix/wakeup = {wakeup}")],
            );
        }
        run("postfix", &["-c", c, "start"]);
        let instance = Instance {
            _dir: dir,
            root,
            config,
            queue,
            log,
        };
        for endpoint in ["public/pickup", "public/qmgr", "private/anvil"] {
            let path = instance.queue.join(endpoint);
            wait_for(
                Duration::from_secs(30),
                &format!("{endpoint} to appear"),
                || path.exists().then_some(()),
            );
        }
        instance
    }

    /// The instance's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// How many log lines contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.log_text()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Waits until at least `count` log lines contain `needle`.
    pub fn wait_for_log(&self, needle: &str, count: usize, limit: Duration) -> usize {
        wait_for(limit, &format!("{count} log lines with {needle:?}"), || {
            let seen = self.count(needle);
            (seen >= count).then_some(seen)
        })
    }

    /// The configuration directory as a string, for `-c`.
    pub fn config_str(&self) -> &str {
        self.config.to_str().expect("utf8 path")
    }

    /// Path of a file below the queue directory.
    pub fn queue_path(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.queue.join(relative)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .args(["-c", self.config_str(), "stop"])
            .output();
        let pid_file = self.queue.join("pid/master.pid");
        let _ = std::panic::catch_unwind(|| {
            wait_for(
                Duration::from_secs(10),
                "the Postfix master to exit",
                || (!pid_file.exists()).then_some(()),
            )
        });
    }
}
