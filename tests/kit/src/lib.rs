//! Shared helpers for the end-to-end tests (`tests/it`) and the
//! benchmarks (`benches/`): fake trigger endpoints, a runner for kick
//! commands, deadline polling, a daemon runner that reads its JSON log,
//! and a private Postfix instance.
//!
//! Every endpoint here is real (UNIX-domain sockets, FIFOs, files) and lives
//! in a temporary directory of its own; nothing waits on wall-clock luck:
//! waits poll with a deadline. It is a crate of its own so that the test
//! binary and every benchmark compile it once and share it.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub mod crash;
pub mod daemon;
pub mod postfix;
pub mod proc;
pub mod rules;

/// Polls `check` every few milliseconds until it gives `Some`, or panics
/// with `what` after `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// A log file written by a process under test.
pub struct LogFile(pub PathBuf);

impl LogFile {
    /// The log so far.
    pub fn text(&self) -> String {
        std::fs::read(&self.0)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// How many lines contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.text().lines().filter(|l| l.contains(needle)).count()
    }

    /// Waits until at least `count` lines contain `needle`.
    pub fn wait_for(&self, needle: &str, count: usize, limit: Duration) -> usize {
        wait_for(
            limit,
            &format!("{count} lines with {needle:?} in {}", self.0.display()),
            || {
                let seen = self.count(needle);
                (seen >= count).then_some(seen)
            },
        )
    }
}

/// True when something a test needs (`what`) is `present`. Under `CI=true`
/// a missing one is a failure, never a skip: `.ci/run` installs it.
pub fn require(what: &str, present: bool) -> bool {
    if !present {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{what} is missing, and CI=true requires it (.ci/run installs it)"
        );
        eprintln!("skipped: {what} is missing");
    }
    present
}

/// True when `program` is on the `PATH` (see [`require`]).
pub fn have_program(program: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    require(program, found)
}

/// Writes an executable shell script.
pub fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod script");
}

/// A temporary directory that other users (the `postfix` user) can traverse.
pub fn traversable_tempdir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("pk")
        .tempdir()
        .expect("create temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod temp dir");
    dir
}

/// A configuration directory and a queue directory with `public/` and
/// `private/`, as a Postfix installation has them.
pub struct QueueDir {
    pub root: PathBuf,
    pub config: PathBuf,
    pub queue: PathBuf,
}

impl QueueDir {
    /// Lays out `root/etc/main.cf` from `main_cf`, in which `{queue}` and
    /// `{root}` stand for `root/queue` and `root`.
    pub fn create(root: &Path, main_cf: &str) -> QueueDir {
        let config = root.join("etc");
        let queue = root.join("queue");
        for dir in [&config, &queue.join("public"), &queue.join("private")] {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        let main_cf = main_cf
            .replace("{queue}", &queue.display().to_string())
            .replace("{root}", &root.display().to_string());
        write_cold(&config.join("main.cf"), &main_cf);
        QueueDir {
            root: root.to_owned(),
            config,
            queue,
        }
    }

    /// `queue/class/service`.
    pub fn endpoint(&self, class: &str, service: &str) -> PathBuf {
        self.queue.join(class).join(service)
    }
}

/// Writes a configuration file dated a minute ago. Postfix re-reads a
/// `main.cf` changed within the last second (and repeats its warnings); we
/// drop that on purpose, so comparisons use files that are not "hot".
pub fn write_cold(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write config file");
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open config file");
    let past = std::time::SystemTime::now() - Duration::from_secs(60);
    file.set_modified(past).expect("set mtime");
}

/// One connection a fake server accepted.
#[derive(Clone, Debug)]
pub struct Connection {
    /// When it was accepted.
    pub accepted: std::time::SystemTime,
    /// What was read.
    pub bytes: Vec<u8>,
}

/// What a fake server received, shared with its thread.
#[derive(Clone, Default)]
pub struct Received(Arc<Mutex<Vec<Connection>>>);

impl Received {
    /// Every connection's bytes, in order.
    pub fn connections(&self) -> Vec<Vec<u8>> {
        self.log().into_iter().map(|c| c.bytes).collect()
    }

    /// Every connection, with its time.
    pub fn log(&self) -> Vec<Connection> {
        self.0.lock().expect("lock").clone()
    }

    /// How many connections so far.
    pub fn count(&self) -> usize {
        self.0.lock().expect("lock").len()
    }

    /// Waits until `count` connections have been recorded.
    pub fn wait_for(&self, count: usize, limit: Duration) -> Vec<Vec<u8>> {
        wait_for(limit, "connections to arrive", || {
            let got = self.connections();
            (got.len() >= count).then_some(got)
        })
    }
}

/// How a fake trigger server reads.
#[derive(Clone, Copy, Debug)]
pub enum ServerStyle {
    /// Reads until the NUL (or end of input), then closes: a polite peer.
    UntilNul,
    /// One read of at most 1024 bytes, then close: Postfix's trigger server,
    /// which often closes before the client's NUL is written.
    OneRead,
    /// Accepts and never closes or reads.
    Hung,
}

/// A UNIX-domain stream socket endpoint served by a thread.
pub struct SocketServer {
    pub received: Received,
    pub path: PathBuf,
}

impl SocketServer {
    pub fn start(path: &Path, style: ServerStyle) -> SocketServer {
        let listener = UnixListener::bind(path).expect("bind test socket");
        Self::serve(listener, path, style)
    }

    /// Like [`SocketServer::start`], at `directory/relative`, which may be
    /// too long for `sockaddr_un`: bound at a short path, then moved there
    /// (a listening socket keeps listening when its file is renamed).
    pub fn start_relative(directory: &Path, relative: &str, style: ServerStyle) -> SocketServer {
        let short = std::env::temp_dir().join(format!(
            "pk-{}-{}.sock",
            std::process::id(),
            relative.replace('/', "-")
        ));
        let _ = std::fs::remove_file(&short);
        let listener = UnixListener::bind(&short).expect("bind test socket");
        // A socket file can be moved; its listener stays.
        std::fs::rename(&short, directory.join(relative)).expect("move the socket into place");
        Self::serve(listener, &directory.join(relative), style)
    }

    fn serve(listener: UnixListener, path: &Path, style: ServerStyle) -> SocketServer {
        let received = Received::default();
        let sink = received.clone();
        thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let accepted = std::time::SystemTime::now();
                let mut got = Vec::new();
                match style {
                    ServerStyle::Hung => {
                        held.push(stream);
                        sink.0.lock().expect("lock").push(Connection {
                            accepted,
                            bytes: got,
                        });
                        continue;
                    }
                    ServerStyle::OneRead => {
                        let mut buf = [0u8; 1024];
                        if let Ok(n) = stream.read(&mut buf) {
                            got.extend_from_slice(&buf[..n]);
                        }
                    }
                    ServerStyle::UntilNul => {
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                        let mut buf = [0u8; 1024];
                        while let Ok(n) = stream.read(&mut buf) {
                            got.extend_from_slice(&buf[..n]);
                            if n == 0 || got.contains(&0) {
                                break;
                            }
                        }
                    }
                }
                // Recorded before the close, so that a client that has seen
                // the close can rely on the record.
                sink.0.lock().expect("lock").push(Connection {
                    accepted,
                    bytes: got,
                });
                drop(stream);
            }
        });
        SocketServer {
            received,
            path: path.to_owned(),
        }
    }
}

/// A socket file nobody listens on any more: connecting is refused.
pub fn stale_socket(path: &Path) {
    drop(UnixListener::bind(path).expect("bind"));
}

/// A live datagram socket, like Postfix's `public/postlog`.
pub fn datagram_socket(path: &Path) -> UnixDatagram {
    UnixDatagram::bind(path).expect("bind datagram")
}

/// A FIFO held open for reading and writing, as Postfix's master holds its
/// FIFOs; what writers put in it is read back with [`FifoServer::drain`].
pub struct FifoServer {
    file: std::fs::File,
}

/// Creates a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

impl FifoServer {
    pub fn start(path: &Path) -> FifoServer {
        mkfifo(path);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .expect("open fifo");
        FifoServer { file }
    }

    /// Everything written so far.
    pub fn drain(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.file.read(&mut buf) {
                Ok(0) | Err(_) => return all,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    }
}

/// A binary of the postkick package, built by Cargo beside the test or
/// benchmark executable that calls this (`target/PROFILE/NAME`).
pub fn built_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the running executable's path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the executable lives in target/PROFILE/deps")
        .join(name)
}

/// The `postkick` built from this package.
pub fn our_postkick() -> PathBuf {
    built_binary("postkick")
}

/// Postfix's own `postkick`: where our package diverted it, if installed.
/// Diverted by our package, it is reached through a link named `postkick`
/// so that its messages carry the same tag as when it is not.
pub fn postfix_postkick() -> PathBuf {
    let diverted = Path::new("/usr/sbin/postkick.postfix");
    if !diverted.exists() {
        return PathBuf::from("/usr/sbin/postkick");
    }
    let dir = std::env::temp_dir().join(format!("postfix-postkick-{}", std::process::id()));
    let link = dir.join("postkick");
    if !link.exists() {
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::os::unix::fs::symlink(diverted, &link);
    }
    link
}

/// True when Postfix is installed (see [`require`]).
pub fn postfix_installed(test: &str) -> bool {
    let installed = postfix_postkick().exists() && Path::new("/usr/sbin/postfix").exists();
    require(&format!("Postfix (for {test})"), installed)
}

/// Runs a kick command with a clean environment (no `MAIL_CONFIG`, no
/// `MAIL_VERBOSE`) plus `env`, in `cwd`.
pub fn run_kick(program: &Path, args: &[&OsStr], env: &[(&str, &OsStr)], cwd: &Path) -> Output {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_remove("MAIL_CONFIG")
        .env_remove("MAIL_VERBOSE")
        .current_dir(cwd);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run kick command")
}

/// Exit status (or 128 + signal) and stderr as text.
pub fn status_and_stderr(output: &Output) -> (i32, String) {
    use std::os::unix::process::ExitStatusExt;
    let status = output
        .status
        .code()
        .unwrap_or_else(|| 128 + output.status.signal().unwrap_or(0));
    (status, String::from_utf8_lossy(&output.stderr).into_owned())
}

/// One connection a [`HoldingServer`] served: when it was accepted and
/// when the server closed it.
#[derive(Clone, Copy, Debug)]
pub struct Held {
    pub accepted: Instant,
    pub closed: Instant,
}

/// A socket endpoint that reads each request, holds the connection for a
/// while (as pickup does while it scans), then closes it; one thread per
/// connection, so that overlapping kicks would overlap here too.
pub struct HoldingServer {
    served: Arc<Mutex<Vec<Held>>>,
}

impl HoldingServer {
    pub fn start(path: &Path, hold: Duration) -> HoldingServer {
        let listener = UnixListener::bind(path).expect("bind test socket");
        let served = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&served);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let accepted = Instant::now();
                let sink = Arc::clone(&sink);
                thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    let _ = stream.read(&mut buf);
                    thread::sleep(hold);
                    sink.lock().expect("lock").push(Held {
                        accepted,
                        closed: Instant::now(),
                    });
                    drop(stream);
                });
            }
        });
        HoldingServer { served }
    }

    /// Every connection served so far, by accept time.
    pub fn served(&self) -> Vec<Held> {
        let mut served = self.served.lock().expect("lock").clone();
        served.sort_by_key(|h| h.accepted);
        served
    }

    /// Pairs of connections that were open at the same time.
    pub fn overlaps(&self) -> usize {
        let served = self.served();
        let mut overlaps = 0;
        for (i, a) in served.iter().enumerate() {
            for b in &served[i + 1..] {
                if b.accepted < a.closed {
                    overlaps += 1;
                }
            }
        }
        overlaps
    }
}
