//! Rules files for tests: a queue directory with a rules file pointing at
//! its configuration, and a daemon started on it.

use std::path::{Path, PathBuf};

use crate::daemon::Daemon;
use crate::{traversable_tempdir, QueueDir, ServerStyle, SocketServer};

/// Writes a rules file whose `postfix.config_directory` is `config`.
pub fn write(path: &Path, config: &Path, body: &str) {
    let text = format!("postfix:\n  config_directory: {}\n{body}", config.display());
    std::fs::write(path, text).expect("write rules");
}

/// A queue directory and a rules file that points at it.
pub struct Setup {
    _tmp: tempfile::TempDir,
    pub dir: QueueDir,
    pub rules: PathBuf,
}

impl Setup {
    pub fn new(rules_body: &str) -> Setup {
        let tmp = traversable_tempdir();
        let dir = QueueDir::create(tmp.path(), "queue_directory = {queue}\n");
        let rules = tmp.path().join("rules.yaml");
        let setup = Setup {
            _tmp: tmp,
            dir,
            rules,
        };
        setup.write_rules(rules_body);
        setup
    }

    /// Replaces the rules (the `postfix:` part stays).
    pub fn write_rules(&self, body: &str) {
        write(&self.rules, &self.dir.config, body);
    }

    /// Starts `postkickd run` on the rules, logging to `daemon.log`.
    pub fn start(&self, args: &[&str]) -> Daemon {
        Daemon::start(&self.rules, args, &self.dir.root.join("daemon.log"))
    }

    /// Starts the daemon with its control socket in this set-up's
    /// directory; also returns the socket's path, as `--control` takes it.
    pub fn start_with_control(&self) -> (Daemon, String) {
        self.start_with_control_args(&[])
    }

    /// Like [`Setup::start_with_control`], with more arguments.
    pub fn start_with_control_args(&self, args: &[&str]) -> (Daemon, String) {
        let control = self.dir.root.join("control").display().to_string();
        let mut all = vec!["--control", control.as_str()];
        all.extend_from_slice(args);
        (self.start(&all), control)
    }

    /// A live socket endpoint `private/service` in a `private/` that only
    /// root may enter, and a wrapper that runs postkickd as user nobody,
    /// who cannot reach it.
    pub fn unreachable_private(&self, service: &str) -> (SocketServer, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let server = self.socket("private", service);
        std::fs::set_permissions(
            self.dir.queue.join("private"),
            std::fs::Permissions::from_mode(0o700),
        )
        .expect("chmod");
        (
            server,
            crate::daemon::as_user(&self.dir.root, "nobody", "nogroup"),
        )
    }

    /// Like [`Setup::start`], with the inotify queue limited to `events`
    /// (see [`Daemon::start_with_inotify_queue_limit`]).
    pub fn start_with_inotify_queue_limit(&self, events: u32) -> Option<Daemon> {
        Daemon::start_with_inotify_queue_limit(
            &self.rules,
            &self.dir.root.join("daemon.log"),
            events,
        )
    }

    /// A rule `drop` that watches `queue/incoming` (created here) and kicks
    /// `public/pickup` (a polite socket): the directory and the endpoint.
    pub fn watching_incoming() -> (Setup, PathBuf, SocketServer) {
        let setup =
            Setup::new("rules:\n  - name: drop\n    watch: incoming\n    kick: public pickup W\n");
        let watched = setup.dir.queue.join("incoming");
        std::fs::create_dir(&watched).expect("mkdir");
        let pickup = setup.socket("public", "pickup");
        (setup, watched, pickup)
    }

    /// A polite socket endpoint at `class/service`.
    pub fn socket(&self, class: &str, service: &str) -> SocketServer {
        SocketServer::start(&self.dir.endpoint(class, service), ServerStyle::UntilNul)
    }
}
