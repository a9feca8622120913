//! Hostile paths at every file the daemon reads or writes: the rules file,
//! the state file, the metrics file, the control socket, main.cf and the
//! zone named by `TZ`, each in turn a FIFO, a symlink to someone else's
//! file, a directory, /dev/zero, a 2 GB sparse file or a path in a missing
//! directory. `check` and `run` must never hang, never hold more than
//! 64 MB, and never write anything but their own files.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use postkick_testkit::daemon::{binary, postkickd};
use postkick_testkit::proc::{wait_with_peak, Ended};
use postkick_testkit::{mkfifo, traversable_tempdir, QueueDir, ServerStyle, SocketServer};

/// The most memory either command may hold, in KiB.
const MOST_KIB: u64 = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Rules,
    State,
    Metrics,
    Control,
    MainCf,
    Zone,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Hostile {
    Fifo,
    SymlinkToVictim,
    Directory,
    DevZero,
    Sparse2G,
    MissingDirectory,
}

const HOSTILE: [Hostile; 6] = [
    Hostile::Fifo,
    Hostile::SymlinkToVictim,
    Hostile::Directory,
    Hostile::DevZero,
    Hostile::Sparse2G,
    Hostile::MissingDirectory,
];

/// Puts `kind` where `path` would be; returns the path to name (another
/// one, in a directory that does not exist, for a missing directory).
fn plant(path: &Path, kind: Hostile, victim: &Path) -> PathBuf {
    if path.exists() {
        std::fs::remove_file(path).expect("clear the path");
    }
    match kind {
        Hostile::Fifo => mkfifo(path),
        Hostile::SymlinkToVictim => std::os::unix::fs::symlink(victim, path).expect("symlink"),
        Hostile::Directory => {
            std::fs::create_dir(path).expect("mkdir");
            std::fs::write(path.join("inside"), "someone's\n").expect("write inside");
        }
        Hostile::DevZero => std::os::unix::fs::symlink("/dev/zero", path).expect("symlink"),
        Hostile::Sparse2G => File::create(path)
            .and_then(|f| f.set_len(2 << 30))
            .expect("sparse file"),
        Hostile::MissingDirectory => {
            let root = path.parent().and_then(Path::parent).expect("a deep path");
            let parent = path.parent().and_then(Path::file_name).expect("a parent");
            let name = path.file_name().expect("a name");
            return root.join("missing").join(parent).join(name);
        }
    }
    path.to_owned()
}

/// What is at a path, as far as a change to it would show.
#[derive(Debug, PartialEq)]
enum Seen {
    File { len: u64, modified: i64, nanos: i64 },
    Directory,
    Link(PathBuf),
    Other,
}

/// Everything under `root`, without following links, except `own`.
fn snapshot(root: &Path, own: &[PathBuf]) -> BTreeMap<PathBuf, Seen> {
    let mut seen = BTreeMap::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let kind = if meta.file_type().is_symlink() {
                Seen::Link(std::fs::read_link(&path).unwrap_or_default())
            } else if meta.is_dir() {
                pending.push(path.clone());
                Seen::Directory
            } else if meta.is_file() {
                Seen::File {
                    len: meta.len(),
                    modified: meta.mtime(),
                    nanos: meta.mtime_nsec(),
                }
            } else {
                Seen::Other
            };
            if !own.contains(&path) {
                seen.insert(path, kind);
            }
        }
    }
    seen
}

/// One role's files, with the hostile one planted.
struct Case {
    _tmp: tempfile::TempDir,
    _qmgr: SocketServer,
    root: PathBuf,
    rules: PathBuf,
    state: PathBuf,
    control: PathBuf,
    zone: Option<PathBuf>,
    /// The files the daemon may write: its own.
    own: Vec<PathBuf>,
    /// The path made hostile.
    hostile: PathBuf,
}

impl Case {
    fn new(role: Role, kind: Hostile) -> Case {
        let tmp = traversable_tempdir();
        let root = tmp.path().to_owned();
        let dir = QueueDir::create(&root, "queue_directory = {queue}\n");
        let qmgr = SocketServer::start(&dir.endpoint("public", "qmgr"), ServerStyle::UntilNul);
        let victim = root.join("victim");
        std::fs::write(&victim, "someone else's file\n").expect("victim");
        for made in ["var", "run", "prom"] {
            std::fs::create_dir_all(root.join(made)).ok();
        }
        let at = |path: PathBuf, this: Role| {
            if role == this {
                plant(&path, kind, &victim)
            } else {
                path
            }
        };
        let state = at(root.join("var").join("state"), Role::State);
        let control = at(root.join("run").join("control"), Role::Control);
        let metrics = at(root.join("prom").join("postkickd.prom"), Role::Metrics);
        let main_cf = at(dir.config.join("main.cf"), Role::MainCf);
        let zone =
            (role == Role::Zone).then(|| plant(&root.join("etc").join("zone"), kind, &victim));
        let rules = at(root.join("etc").join("rules.yaml"), Role::Rules);
        if role != Role::Rules {
            std::fs::write(
                &rules,
                format!(
                    "postfix:\n  config_directory: {}\nmetrics_file: {}\nrules:\n  - name: second\n    cron: \"* * * * * *\"\n    catch_up: true\n    kick: public qmgr I\n",
                    main_cf.parent().expect("a config directory").display(),
                    metrics.display()
                ),
            )
            .expect("write rules");
        }
        let hostile = match role {
            Role::Rules => rules.clone(),
            Role::State => state.clone(),
            Role::Metrics => metrics.clone(),
            Role::Control => control.clone(),
            Role::MainCf => main_cf,
            Role::Zone => zone.clone().expect("a zone"),
        };
        let mut own = vec![root.join("daemon.log"), root.join("check.log")];
        own.extend([state.clone(), metrics]);
        if role != Role::Control {
            own.push(control.clone());
        }
        Case {
            _tmp: tmp,
            _qmgr: qmgr,
            root,
            rules,
            state,
            control,
            zone,
            own,
            hostile,
        }
    }

    fn spawn(&self, args: &[&str], log: &str) -> Child {
        let out = File::create(self.root.join(log)).expect("log");
        let mut command = Command::new(binary());
        command
            .args(args)
            .arg("--rules")
            .arg(&self.rules)
            .env_remove("MAIL_CONFIG")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out);
        if let Some(zone) = &self.zone {
            command.env("TZ", zone);
        }
        command.spawn().expect("spawn postkickd")
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.root.join(name)).unwrap_or_default()
    }
}

/// Waits for `child` to end within `limit`; kills it and fails if not.
fn must_end(child: &Child, limit: Duration, peak: &mut u64, what: &str, log: &str) -> Ended {
    if let Some(ended) = wait_with_peak(child, limit, peak) {
        return ended;
    }
    // SAFETY: kill(2) on our own child, which has not been reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    let _ = wait_with_peak(child, Duration::from_secs(5), peak);
    panic!("{what} hung: {log}");
}

/// Runs `check` and `run` on one case; what they did, for the table.
#[expect(
    clippy::zombie_processes,
    reason = "wait_with_peak reaps them with waitpid, reading their memory first"
)]
fn try_case(role: Role, kind: Hostile) -> String {
    let case = Case::new(role, kind);
    let what = format!("{role:?} as {kind:?} ({})", case.hostile.display());
    let before = snapshot(&case.root, &case.own);

    let check = case.spawn(&["check"], "check.log");
    let checked = must_end(
        &check,
        Duration::from_secs(10),
        &mut 0,
        &format!("check with {what}"),
        "",
    );
    let check_log = case.log("check.log");
    assert!(
        checked.peak_kib <= MOST_KIB,
        "check with {what} held {} KiB: {check_log}",
        checked.peak_kib
    );

    let state = case.state.display().to_string();
    let control = case.control.display().to_string();
    let run = case.spawn(
        &[
            "run",
            "--log-format",
            "json",
            "--state",
            &state,
            "--control",
            &control,
        ],
        "daemon.log",
    );
    let started = Instant::now();
    let mut peak = 0;
    let early = loop {
        if let Some(ended) = wait_with_peak(&run, Duration::ZERO, &mut peak) {
            break Some(ended);
        }
        if case.log("daemon.log").contains("\"started\"") {
            break None;
        }
        if started.elapsed() > Duration::from_secs(10) {
            must_end(
                &run,
                Duration::ZERO,
                &mut peak,
                &format!("run with {what}"),
                &case.log("daemon.log"),
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let ran = match early {
        Some(ended) => {
            let log = case.log("daemon.log");
            assert_ne!(ended.code, 0, "run with {what} exited 0 at start: {log}");
            let named = case
                .hostile
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("?");
            assert!(
                log.contains(named),
                "run with {what} refused to start without naming {named}: {log}"
            );
            ended
        }
        None => {
            // Time for a fire, a state save and a metrics write.
            std::thread::sleep(Duration::from_millis(1500));
            if role != Role::Control {
                let asked = Instant::now();
                let (status, _, stderr) = postkickd(&["status", "--control", &control]);
                assert!(
                    asked.elapsed() < Duration::from_secs(5),
                    "status with {what} took {:?}: {stderr}",
                    asked.elapsed()
                );
                assert!(
                    status == 0 || status == 1,
                    "status with {what}: {status} {stderr}"
                );
            }
            // SAFETY: kill(2) on our own child, which has not been reaped.
            unsafe { libc::kill(run.id() as libc::pid_t, libc::SIGTERM) };
            let ended = must_end(
                &run,
                Duration::from_secs(3),
                &mut peak,
                &format!("stopping run with {what}"),
                &case.log("daemon.log"),
            );
            assert_eq!(
                ended.code,
                0,
                "run with {what} at SIGTERM: {}",
                case.log("daemon.log")
            );
            ended
        }
    };
    assert!(
        ran.peak_kib <= MOST_KIB,
        "run with {what} held {} KiB: {}",
        ran.peak_kib,
        case.log("daemon.log")
    );
    let after = snapshot(&case.root, &case.own);
    assert_eq!(
        before, after,
        "{what}: something other than the daemon's own files changed"
    );
    format!(
        "{what}: check exit {} ({} KiB), run {} ({} KiB)",
        checked.code,
        checked.peak_kib,
        if early.is_some() { "refused" } else { "ran" },
        ran.peak_kib
    )
}

#[test]
fn hostile_paths_never_hang_grow_or_write_elsewhere() {
    let roles = [
        Role::Rules,
        Role::State,
        Role::Metrics,
        Role::Control,
        Role::MainCf,
        Role::Zone,
    ];
    let seen: Vec<String> = std::thread::scope(|scope| {
        let threads: Vec<_> = roles
            .iter()
            .map(|role| scope.spawn(move || HOSTILE.map(|kind| try_case(*role, kind))))
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    eprintln!("{}", seen.join("\n"));
}
