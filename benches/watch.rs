//! Watch rules measured the way users meet them, beside the tools they
//! would otherwise use, all in one run:
//!
//! 1. Files arriving at steady rates (10, 50, 200 and 1,000 a second; the
//!    writer does not wait for kicks), against an endpoint that closes at
//!    once and one that takes 20 ms a kick (as pickup does while it
//!    scans): event-to-kick p50/p99/max and kicks sent, for postkickd,
//!    incron running Postfix's postkick, an `inotifywait -m | while read`
//!    loop running it, and watchexec with its default debounce and with
//!    `--debounce 0`. The event is the moment a file is complete (just
//!    before its close); its latency runs to the first kick the endpoint
//!    accepts after it.
//! 2. Bursts of 10,000 and 100,000 files against the 20 ms endpoint: kicks
//!    sent, kicks in flight at once, and when the last kick started.
//! 3. A real Postfix with pickup's polling off: `postsuper -r ALL` on 1,000
//!    held messages, time from postsuper's start until the maildrop is
//!    empty (pickup's last unlink there, as inotify reports it: polling the
//!    directory would slow pickup down in one case and not the other), five
//!    runs each way, which goes first alternating: with postkickd, and with
//!    one postkick sent by hand the moment postsuper ends (pickup's own
//!    work: the floor), and how many kicks pickup took.
//!
//! Run with `cargo bench --bench watch` (as root, with Postfix, incron,
//! inotify-tools and watchexec installed; a missing peer is skipped and
//! said so). Prints figures; asserts nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use postkick_testkit::daemon::Daemon;
use postkick_testkit::{
    postfix, postfix_postkick, traversable_tempdir, wait_for, HoldingServer, QueueDir,
};

const RATES: [u32; 4] = [10, 50, 200, 1000];

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A process started for a measurement, killed with its process group.
struct Peer(Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_group(script: &str) -> Peer {
    Peer(
        Command::new("setsid")
            .args(["sh", "-c", script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a peer"),
    )
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What watches the directory in a measurement.
#[derive(Clone, Copy)]
enum Watcher {
    Postkickd,
    Incron,
    InotifywaitLoop,
    Watchexec(Option<&'static str>),
}

impl Watcher {
    fn label(self) -> String {
        match self {
            Self::Postkickd => "postkickd".into(),
            Self::Incron => "incron + Postfix's postkick".into(),
            Self::InotifywaitLoop => "inotifywait loop + Postfix's postkick".into(),
            Self::Watchexec(None) => "watchexec (default debounce)".into(),
            Self::Watchexec(Some(d)) => format!("watchexec --debounce {d}"),
        }
    }

    fn available(self) -> Result<(), String> {
        let postkick = postfix_postkick().exists();
        let missing = match self {
            Self::Postkickd => None,
            Self::Incron if !(have("incrond") && postkick) => Some("incron or Postfix"),
            Self::InotifywaitLoop if !(have("inotifywait") && postkick) => {
                Some("inotify-tools or Postfix")
            }
            Self::Watchexec(_) if !(have("watchexec") && postkick) => {
                Some("watchexec (cargo install watchexec-cli) or Postfix")
            }
            _ => None,
        };
        missing.map_or(Ok(()), |what| Err(format!("{what} missing, skipped")))
    }
}

/// A watched directory and its endpoint, with whatever watches it.
struct Setup {
    tmp: tempfile::TempDir,
    dir: QueueDir,
    watched: PathBuf,
    pickup: HoldingServer,
}

/// Whatever watches the directory; dropping it stops it.
struct Running {
    _daemon: Option<Daemon>,
    _peer: Option<Peer>,
}

impl Setup {
    fn new(hold: Duration) -> Setup {
        let tmp = traversable_tempdir();
        let dir = QueueDir::create(tmp.path(), "queue_directory = {queue}\n");
        let watched = dir.queue.join("incoming");
        std::fs::create_dir(&watched).expect("mkdir");
        let pickup = HoldingServer::start(&dir.endpoint("public", "pickup"), hold);
        Setup {
            tmp,
            dir,
            watched,
            pickup,
        }
    }

    fn start(&self, watcher: Watcher) -> Running {
        let postkick = postfix_postkick();
        let kick = format!(
            "{} -c {} public pickup W",
            postkick.display(),
            self.dir.config.display()
        );
        let root = self.tmp.path();
        let running = match watcher {
            Watcher::Postkickd => {
                let rules = root.join("rules.yaml");
                postkick_testkit::rules::write(
                    &rules,
                    &self.dir.config,
                    "rules:\n  - name: drop\n    watch: incoming\n    kick: public pickup W\n",
                );
                return Running {
                    _daemon: Some(Daemon::start(&rules, &[], &root.join("daemon.log"))),
                    _peer: None,
                };
            }
            Watcher::Incron => {
                let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/incron");
                let fill = |name: &str| {
                    std::fs::read_to_string(here.join(name))
                        .expect("read incron template")
                        .replace("@DIR@", &root.display().to_string())
                        .replace("@WATCHED@", &self.watched.display().to_string())
                        .replace("@POSTKICK@", &postkick.display().to_string())
                        .replace("@CONFIG@", &self.dir.config.display().to_string())
                };
                for dir in ["incron.d", "incron.users"] {
                    std::fs::create_dir_all(root.join(dir)).expect("mkdir");
                }
                for file in ["incron.allow", "incron.deny"] {
                    std::fs::write(root.join(file), "").expect("write");
                }
                std::fs::write(root.join("incron.conf"), fill("incron.conf")).expect("write");
                std::fs::write(root.join("incron.d/postkick"), fill("postkick.table"))
                    .expect("write");
                spawn_group(&format!(
                    "exec incrond -n -f {}",
                    root.join("incron.conf").display()
                ))
            }
            Watcher::InotifywaitLoop => spawn_group(&format!(
                "inotifywait -m -q -e close_write,moved_to,attrib {} | while read -r _; do {kick}; done",
                self.watched.display()
            )),
            Watcher::Watchexec(debounce) => spawn_group(&format!(
                "exec watchexec --postpone --quiet --ignore-nothing --shell=none{} -W {} -- {kick}",
                debounce.map_or(String::new(), |d| format!(" --debounce {d}")),
                self.watched.display()
            )),
        };
        // The peers need a moment to set their watches: a file proves it.
        let probe = Instant::now();
        let mut n = 0;
        let ready = std::iter::repeat_with(|| {
            n += 1;
            std::fs::write(self.watched.join(format!("probe-{n}")), b"x").expect("write");
            std::thread::sleep(Duration::from_millis(200));
            self.pickup.served().iter().any(|h| h.accepted > probe)
        })
        .take(50)
        .any(|kicked| kicked);
        assert!(ready, "{} never kicked", watcher.label());
        // Let the probe's kicks finish.
        std::thread::sleep(Duration::from_millis(500));
        Running {
            _daemon: None,
            _peer: Some(running),
        }
    }

    /// Writes `files` files at `rate` a second without waiting for kicks;
    /// returns the moment each was complete.
    fn open_loop(&self, rate: u32, files: usize) -> Vec<Instant> {
        let start = Instant::now();
        let every = Duration::from_secs(1) / rate;
        (0..files)
            .map(|i| {
                let due = start + every * u32::try_from(i).unwrap_or(u32::MAX);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                let mut file = std::fs::File::create(self.watched.join(format!("f{rate}-{i}")))
                    .expect("create");
                file.write_all(b"x").expect("write");
                let complete = Instant::now();
                drop(file);
                complete
            })
            .collect()
    }
}

/// For each event, the time to the first kick accepted after it.
fn latencies(events: &[Instant], accepted: &[Instant]) -> (Vec<Duration>, usize) {
    let mut missed = 0;
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        let first = accepted.partition_point(|a| a <= event);
        match accepted.get(first) {
            Some(a) => out.push(a.duration_since(*event)),
            None => missed += 1,
        }
    }
    out.sort_unstable();
    (out, missed)
}

fn rates(hold: Duration, watchers: &[Watcher]) {
    println!(
        "\nopen-loop file arrivals, endpoint {} per kick (event = file complete, latency = to the next kick accepted):",
        if hold.is_zero() {
            "closing at once".to_owned()
        } else {
            ms(hold)
        }
    );
    println!(
        "{:38} {:>6} {:>6} {:>6} {:>10} {:>10} {:>10}",
        "watcher", "rate/s", "files", "kicks", "p50", "p99", "max"
    );
    for &watcher in watchers {
        if let Err(why) = watcher.available() {
            println!("{:38} {why}", watcher.label());
            continue;
        }
        for rate in RATES {
            let setup = Setup::new(hold);
            let running = setup.start(watcher);
            let before = setup.pickup.served().len();
            let files = usize::try_from(rate * 2).unwrap_or(20).max(20);
            let events = setup.open_loop(rate, files);
            let last = *events.last().expect("files");
            // A watcher that drops events may never kick after the last
            // file: that shows as files without a kick after them.
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline
                && !setup.pickup.served().iter().any(|h| h.accepted > last)
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis(300) + hold * 2);
            drop(running);
            let served = setup.pickup.served();
            let accepted: Vec<Instant> = served[before..].iter().map(|h| h.accepted).collect();
            let (times, missed) = latencies(&events, &accepted);
            println!(
                "{:38} {rate:>6} {files:>6} {:>6} {:>10} {:>10} {:>10}{}",
                watcher.label(),
                accepted.len(),
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.99)),
                ms(times.last().copied().unwrap_or_default()),
                if missed > 0 {
                    format!("  ({missed} files without a kick after them)")
                } else {
                    String::new()
                }
            );
        }
    }
}

fn burst(files: usize, hold: Duration) {
    let setup = Setup::new(hold);
    let _daemon = setup.start(Watcher::Postkickd);
    let first = Instant::now();
    for i in 0..files {
        std::fs::write(setup.watched.join(format!("b{i}")), b"x").expect("write");
    }
    let last_file = Instant::now();
    wait_for(
        Duration::from_secs(60),
        "a kick after the last file",
        || {
            setup
                .pickup
                .served()
                .iter()
                .any(|h| h.accepted > last_file)
                .then_some(())
        },
    );
    std::thread::sleep(hold * 5 + Duration::from_millis(300));
    let served = setup.pickup.served();
    let last_start = served.iter().map(|h| h.accepted).max().unwrap_or(first);
    println!(
        "burst of {files} files in {}, endpoint {} per kick: {} kicks, {} pairs in flight at once, last kick started {} after the last file",
        ms(last_file - first),
        ms(hold),
        served.len(),
        setup.pickup.overlaps(),
        ms(last_start.saturating_duration_since(last_file)),
    );
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(output.status.success(), "{program} {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn maildrop_files(instance: &postfix::Instance) -> usize {
    std::fs::read_dir(instance.queue_path("maildrop")).map_or(0, |d| d.count())
}

/// One requeue: time from `postsuper -r ALL`'s start until the maildrop
/// is empty, how long postsuper ran, and the kicks pickup took meanwhile
/// (its `-v` log: one "trigger arrived" a kick).
struct Requeued {
    emptied: Duration,
    postsuper: Duration,
    requeued: usize,
    triggers: usize,
}

/// `postsuper -r ALL` on `messages` held messages, pickup polling off,
/// `runs` times each way, alternating: one postkick by hand the moment
/// postsuper ends (the floor: pickup's own work after one scan), and
/// postkickd's maildrop rule.
fn requeue(messages: usize, runs: usize, program: &Path) {
    if !Path::new("/usr/sbin/postfix").exists() {
        println!("\npostsuper -r: Postfix is not installed, skipped");
        return;
    }
    let instance = postfix::Instance::start(&postfix::Options {
        pickup_wakeup: Some("-"),
        ..postfix::Options::default()
    });
    let c = instance.config_str().to_owned();
    // Every message goes on hold as cleanup reads it, and again after each
    // requeue: the queue stays put between measurements.
    let checks = instance.root.join("header_checks");
    std::fs::write(&checks, "/^Subject: requeue/ HOLD\n").expect("write header_checks");
    run(
        "postconf",
        &[
            "-c",
            &c,
            "-e",
            &format!("header_checks = regexp:{}", checks.display()),
        ],
    );
    run("postfix", &["-c", &c, "reload"]);
    std::thread::sleep(Duration::from_secs(1));
    let submit = instance.sendmail_config("pickup");
    for i in 0..messages {
        instance.sendmail(&submit, &format!("requeue {i}"));
    }
    let held = || std::fs::read_dir(instance.queue_path("hold")).map_or(0, |d| d.count());
    let all_held = || {
        wait_for(Duration::from_secs(120), "every message on hold", || {
            (held() == messages && maildrop_files(&instance) == 0).then_some(())
        });
    };
    all_held();
    let postkick = postkick_testkit::our_postkick().display().to_string();
    let rules = instance.write_rules(
        "rules:\n  - name: maildrop\n    watch: maildrop\n    kick: public pickup W\n",
    );
    let log = instance.log();
    // Until the log stops growing: pickup writes every record it reads
    // (-v), and a run must not start while the last one's lines are still
    // being written (they slow pickup down: an A/A run showed +50% for
    // whichever came second).
    let settle = || {
        let mut size = 0;
        loop {
            std::thread::sleep(Duration::from_millis(300));
            let now = std::fs::metadata(&instance.log).map_or(0, |m| m.len());
            if now == size {
                break;
            }
            size = now;
        }
    };
    let once = |with_daemon: bool| -> Requeued {
        let daemon = with_daemon.then(|| {
            Daemon::start_with_program(program, &rules, &[], &instance.root.join("daemon.log"))
        });
        settle();
        let triggers_before = log.count("trigger_server_accept_local: trigger arrived");
        // The end is pickup's last unlink in the maildrop, as inotify says
        // it: looking at the directory meanwhile would compete with pickup
        // for it (and for the CPU) in one case and not the other.
        let mut deletes = inotify::Inotify::init().expect("inotify");
        deletes
            .watches()
            .add(instance.queue_path("maildrop"), inotify::WatchMask::DELETE)
            .expect("watch the maildrop");
        let started = Instant::now();
        let output = Command::new("postsuper")
            .args(["-c", &c, "-r", "ALL"])
            .output()
            .expect("postsuper");
        let postsuper = started.elapsed();
        let requeued: usize = String::from_utf8_lossy(&output.stderr)
            .split_whitespace()
            .skip_while(|word| *word != "Requeued:")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if !with_daemon {
            run(&postkick, &["-c", &c, "public", "pickup", "W"]);
        }
        let mut buffer = vec![0u8; 64 * 1024];
        let mut removed = 0;
        while removed < messages {
            removed += deletes
                .read_events_blocking(&mut buffer)
                .expect("read inotify")
                .count();
        }
        let emptied = started.elapsed();
        assert_eq!(maildrop_files(&instance), 0, "files left in the maildrop");
        all_held();
        settle();
        drop(daemon);
        Requeued {
            emptied,
            postsuper,
            requeued,
            triggers: log.count("trigger_server_accept_local: trigger arrived") - triggers_before,
        }
    };
    println!(
        "\npostsuper -r ALL on {messages} held messages, real Postfix, pickup polling off, {runs} runs each way alternating, each after the log settled (time from postsuper's start until the maildrop is empty):"
    );
    // One cycle unmeasured: the first pass through pickup is the slowest.
    once(false);
    let (mut by_hand, mut with_daemon) = (Vec::new(), Vec::new());
    for run in 1..=runs {
        // Which goes first alternates too.
        let order = if run % 2 == 1 {
            [false, true]
        } else {
            [true, false]
        };
        for daemon in order {
            let r = once(daemon);
            println!(
                "  run {run} {:30} maildrop empty {} (postsuper ran {}, requeued {}); pickup took {} kicks",
                if daemon {
                    "with postkickd"
                } else {
                    "one postkick by hand after it"
                },
                ms(r.emptied),
                ms(r.postsuper),
                r.requeued,
                r.triggers
            );
            if daemon {
                &mut with_daemon
            } else {
                &mut by_hand
            }
            .push(r.emptied);
        }
    }
    by_hand.sort_unstable();
    with_daemon.sort_unstable();
    let (hand, daemon) = (by_hand[runs / 2], with_daemon[runs / 2]);
    println!(
        "  median: by hand {}, with postkickd {} ({:+.1}%)",
        ms(hand),
        ms(daemon),
        (daemon.as_secs_f64() / hand.as_secs_f64() - 1.0) * 100.0
    );
}

fn main() {
    // `cargo bench --bench watch -- requeue 100 [--postkickd PATH]` runs
    // only that part; `-- rates` only the steady rates.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "requeue") {
        requeue(
            args.get(at + 1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(1000),
            5,
            &args
                .iter()
                .position(|a| a == "--postkickd")
                .and_then(|at| args.get(at + 1))
                .map_or_else(postkick_testkit::daemon::binary, std::path::PathBuf::from),
        );
        return;
    }
    let only_rates = args.iter().any(|a| a == "rates");
    let watchers = [
        Watcher::Postkickd,
        Watcher::Incron,
        Watcher::InotifywaitLoop,
        Watcher::Watchexec(None),
        Watcher::Watchexec(Some("0")),
    ];
    rates(Duration::ZERO, &watchers);
    rates(Duration::from_millis(20), &watchers);
    if only_rates {
        return;
    }
    println!();
    burst(10_000, Duration::from_millis(20));
    burst(100_000, Duration::from_millis(20));
    requeue(1000, 5, &postkick_testkit::daemon::binary());
}
