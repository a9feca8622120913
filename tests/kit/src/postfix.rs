//! A private Postfix instance, started and stopped by the tests.
//!
//! It has its own `config_directory`, `queue_directory` and
//! `data_directory` in a temporary directory that the `postfix` user can
//! traverse, no chroot, no TCP listener, a `maillog_file` of its own, and
//! `-v` on `pickup` and `qmgr` so that every request they read is logged.
//! A test may add `main.cf` lines (a relay host, fast-flush domains).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{traversable_tempdir, wait_for, LogFile};

/// How to set the instance up.
#[derive(Default)]
pub struct Options {
    /// `pickup`'s wakeup time in master.cf (`-` turns its polling off).
    pub pickup_wakeup: Option<&'static str>,
    /// Start with `pickup` commented out of master.cf (see
    /// [`Instance::enable_pickup`]).
    pub pickup_disabled: bool,
    /// More `main.cf` lines.
    pub main_cf: String,
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
        let defaults = format!(
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
        // A parameter the test sets replaces the default's line: written
        // twice, every Postfix program would warn at start, postlogd too,
        // into its own socket, until it blocks and the whole instance
        // with it.
        let set_by_test = |line: &str| {
            let name = line.split('=').next().unwrap_or_default().trim();
            options
                .main_cf
                .lines()
                .any(|l| l.split('=').next().unwrap_or_default().trim() == name)
        };
        let mut main_cf: String = defaults
            .lines()
            .filter(|line| !set_by_test(line))
            .map(|line| format!("{line}\n"))
            .collect();
        main_cf.push_str(&options.main_cf);
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
        if options.pickup_disabled {
            run("postconf", &["-c", c, "-M#", "pickup/unix"]);
        }
        run("postfix", &["-c", c, "start"]);
        let instance = Instance {
            _dir: dir,
            root,
            config,
            queue,
            log,
        };
        let pickup = if options.pickup_disabled {
            "public/qmgr"
        } else {
            "public/pickup"
        };
        for endpoint in [pickup, "public/qmgr", "private/anvil"] {
            let path = instance.queue.join(endpoint);
            wait_for(
                Duration::from_secs(30),
                &format!("{endpoint} to appear"),
                || path.exists().then_some(()),
            );
        }
        instance
    }

    /// Puts `pickup` back into master.cf and reloads Postfix.
    pub fn enable_pickup(&self) {
        let c = self.config_str();
        run(
            "postconf",
            &[
                "-c",
                c,
                "-Me",
                "pickup/unix=pickup unix n - n 60 1 pickup -v",
            ],
        );
        run("postfix", &["-c", c, "reload"]);
    }

    /// Writes `rules.yaml` in the instance's directory, pointing at its
    /// configuration, with `body` after the `postfix:` part; its path.
    pub fn write_rules(&self, body: &str) -> PathBuf {
        let rules = self.root.join("rules.yaml");
        crate::rules::write(&rules, &self.config, body);
        rules
    }

    /// The instance's maillog.
    pub fn log(&self) -> LogFile {
        LogFile(self.log.clone())
    }

    /// Waits until at least `count` maillog lines contain `needle`.
    pub fn wait_for_log(&self, needle: &str, count: usize, limit: Duration) -> usize {
        self.log().wait_for(needle, count, limit)
    }

    /// A configuration directory for `sendmail -C`: this instance's, but
    /// with `pickup_service_name` set to `pickup_service` and an unprivileged
    /// copy of `postdrop` (a set-gid one would refuse a private
    /// configuration directory that `/etc/postfix/main.cf` does not list).
    pub fn sendmail_config(&self, pickup_service: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let config = self.root.join("submit-etc");
        let bin = self.root.join("bin");
        std::fs::create_dir_all(&config).expect("mkdir");
        std::fs::create_dir_all(&bin).expect("mkdir");
        let postdrop = bin.join("postdrop");
        std::fs::copy("/usr/sbin/postdrop", &postdrop).expect("copy postdrop");
        std::fs::set_permissions(&postdrop, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let main_cf = std::fs::read_to_string(self.config.join("main.cf")).expect("read main.cf");
        let main_cf = format!(
            "{main_cf}pickup_service_name = {pickup_service}\ncommand_directory = {}\n",
            bin.display()
        );
        crate::write_cold(&config.join("main.cf"), &main_cf);
        config
    }

    /// Submits a message with `sendmail -C config`.
    pub fn sendmail(&self, config: &Path, subject: &str) {
        self.sendmail_to(config, "nobody@example.invalid", subject);
    }

    /// Submits a message for `recipient` with `sendmail -C config`.
    pub fn sendmail_to(&self, config: &Path, recipient: &str, subject: &str) {
        use std::io::Write;
        let mut child = Command::new("/usr/sbin/sendmail")
            .arg("-C")
            .arg(config)
            .args(["-f", "root", recipient])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run sendmail");
        let message = format!("Subject: {subject}\n\npostkick test\n");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(message.as_bytes())
            .expect("write message");
        let output = child.wait_with_output().expect("wait for sendmail");
        assert!(
            output.status.success(),
            "sendmail failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
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
        self.stop();
    }
}

impl Instance {
    /// Stops Postfix (`postfix stop`) and waits until master is gone;
    /// nothing if it is not running.
    pub fn stop(&self) {
        let pid = std::fs::read_to_string(self.queue.join("pid/master.pid")).unwrap_or_default();
        let _ = Command::new("postfix")
            .args(["-c", self.config_str(), "stop"])
            .output();
        // The master is not our child: wait until its process is gone, or
        // is a zombie where nothing reaps orphans.
        let stat = format!("/proc/{}/stat", pid.trim());
        let gone = || match std::fs::read_to_string(&stat) {
            Ok(text) => text
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z')),
            Err(_) => true,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !gone() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
