//! `postkickd` measured: drop-to-pickup latency against a real Postfix
//! (beside an `inotifywait` loop running Postfix's own postkick), a
//! per-second cron rule, and the daemon's idle footprint. Watch rules at
//! steady rates and in bursts, beside incron and watchexec, are in
//! `benches/watch.rs`.
//!
//! Run with `cargo bench --bench daemon` (as root, with Postfix installed;
//! `inotify-tools` for the comparison). `cargo bench --bench daemon --
//! crash 200` instead kills the daemon with SIGKILL at 200 random moments
//! while a `catch_up` rule fires every second, and counts repeated and
//! lost slots (`postkick_testkit::crash`). `cargo bench --bench daemon --
//! huge-directory [--postkickd PATH]` measures the CPU a directory of
//! 100,000 files costs under a SIGHUP storm and under `drain_within: 1s`
//! (PATH: another build of postkickd, to compare). Prints figures;
//! asserts nothing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use postkick_testkit::daemon::Daemon;
use postkick_testkit::proc::{cpu_ticks, rss_kib, wakeups};
use postkick_testkit::{postfix, traversable_tempdir, QueueDir, ServerStyle, SocketServer};

const DROPS: usize = 40;

fn percentile(mut values: Vec<Duration>, p: f64) -> Duration {
    values.sort_unstable();
    let index = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[index]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn maildrop_empty(maildrop: &Path) -> bool {
    std::fs::read_dir(maildrop)
        .map(|d| d.count() == 0)
        .unwrap_or(false)
}

/// Drop-to-empty times for `DROPS` messages, one at a time, each after
/// the previous one has left the maildrop.
fn drops(instance: &postfix::Instance, submit: &Path) -> Vec<Duration> {
    let maildrop = instance.queue_path("maildrop");
    (0..DROPS)
        .map(|i| {
            instance.sendmail(submit, &format!("bench {i}"));
            let dropped = Instant::now();
            while !maildrop_empty(&maildrop) {
                assert!(
                    dropped.elapsed() < Duration::from_secs(30),
                    "maildrop never emptied"
                );
                std::thread::sleep(Duration::from_micros(100));
            }
            let took = dropped.elapsed();
            std::thread::sleep(Duration::from_millis(100));
            took
        })
        .collect()
}

fn report(label: &str, times: &[Duration]) {
    println!(
        "{label:30} p50 {:>9}  p90 {:>9}  p99 {:>9}  max {:>9}  (n={})",
        ms(percentile(times.to_vec(), 0.5)),
        ms(percentile(times.to_vec(), 0.9)),
        ms(percentile(times.to_vec(), 0.99)),
        ms(times.iter().copied().max().unwrap_or_default()),
        times.len()
    );
}

fn maildrop_latency() {
    if !Path::new("/usr/sbin/postfix").exists() {
        println!("maildrop latency: Postfix is not installed, skipped");
        return;
    }
    let instance = postfix::Instance::start(&postfix::Options {
        pickup_wakeup: Some("-"),
        ..postfix::Options::default()
    });
    let submit = instance.sendmail_config("nowhere");
    let rules = instance.write_rules(
        "rules:\n  - name: pickup-on-maildrop\n    watch: maildrop\n    kick: public pickup W\n",
    );
    println!("drop (sendmail returns) to empty maildrop, real Postfix 3.7, pickup polling off:");
    {
        let _daemon = Daemon::start(&rules, &[], &instance.root.join("daemon.log"));
        report("postkickd watch rule", &drops(&instance, &submit));
    }
    if Command::new("inotifywait").arg("--help").output().is_err() {
        println!("inotifywait + postkick: inotify-tools is not installed, skipped");
        return;
    }
    let maildrop = instance.queue_path("maildrop");
    let script = format!(
        "inotifywait -m -q -e close_write,moved_to,attrib {} | while read -r _; do /usr/sbin/postkick -c {} public pickup W; done",
        maildrop.display(),
        instance.config.display()
    );
    let mut shell = Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the inotifywait loop");
    // inotifywait needs a moment to set its watch; one drop proves it.
    std::thread::sleep(Duration::from_millis(500));
    report("inotifywait + postfix postkick", &drops(&instance, &submit));
    let _ = Command::new("kill")
        .args(["--", &format!("-{}", shell.id())])
        .status();
    let _ = shell.wait();
}

fn cron_seconds(seconds: u64) {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), "queue_directory = {queue}\n");
    let qmgr = SocketServer::start(&dir.endpoint("public", "qmgr"), ServerStyle::UntilNul);
    let rules = tmp.path().join("rules.yaml");
    postkick_testkit::rules::write(
        &rules,
        &dir.config,
        "rules:\n  - name: tick\n    cron: \"* * * * * *\"\n    kick: public qmgr I\n",
    );
    let daemon = Daemon::start(&rules, &[], &tmp.path().join("daemon.log"));
    std::thread::sleep(Duration::from_secs(seconds));
    let rss = rss_kib(daemon.pid());
    drop(daemon);
    let offsets: Vec<Duration> = qmgr
        .received
        .log()
        .iter()
        .map(|c| {
            let since_epoch = c
                .accepted
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            Duration::from_nanos(u64::from(since_epoch.subsec_nanos()))
        })
        .collect();
    println!(
        "cron \"* * * * * *\" over {seconds} s: {} kicks; offset after the second: median {}, max {}; daemon RSS {rss} KiB",
        offsets.len(),
        ms(percentile(offsets.clone(), 0.5)),
        ms(offsets.iter().copied().max().unwrap_or_default()),
    );
}

fn idle() {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), "queue_directory = {queue}\n");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.example.yaml");
    let daemon = Daemon::start(
        &example,
        &["-c", dir.config.to_str().expect("utf8")],
        &tmp.path().join("daemon.log"),
    );
    std::thread::sleep(Duration::from_secs(2));
    let before = wakeups(daemon.pid());
    std::thread::sleep(Duration::from_secs(10));
    let after = wakeups(daemon.pid());
    println!(
        "idle with rules.example.yaml: RSS {} KiB; {} context switches in 10 s (all threads)",
        rss_kib(daemon.pid()),
        after - before
    );
}

/// The share of a core `pid` used over `seconds`, while `during` runs
/// every 100 ms.
fn core_share(pid: u32, seconds: u64, mut during: impl FnMut()) -> f64 {
    let (before, since) = (cpu_ticks(pid), Instant::now());
    while since.elapsed() < Duration::from_secs(seconds) {
        during();
        std::thread::sleep(Duration::from_millis(100));
    }
    (cpu_ticks(pid) - before) as f64 / 100.0 / since.elapsed().as_secs_f64()
}

/// A watched directory of 100,000 files that pickup never takes: CPU
/// under ten SIGHUPs a second, and idle with `drain_within: 1s`.
fn huge_directory(program: &Path) {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), "queue_directory = {queue}\n");
    let pickup = SocketServer::start(&dir.endpoint("public", "pickup"), ServerStyle::UntilNul);
    let watched = dir.queue.join("incoming");
    std::fs::create_dir(&watched).expect("mkdir");
    for i in 0..100_000 {
        std::fs::File::create(watched.join(format!("f{i}"))).expect("create");
    }
    let rules = tmp.path().join("rules.yaml");
    for (label, body, hup) in [
        (
            "SIGHUP every 100 ms for 10 s",
            "rules:\n  - name: drop\n    watch: incoming\n    kick: public pickup W\n",
            true,
        ),
        (
            "drain_within: 1s, idle for 10 s",
            "rules:\n  - name: drop\n    watch: incoming\n    drain_within: 1s\n    kick: public pickup W\n",
            false,
        ),
    ] {
        postkick_testkit::rules::write(&rules, &dir.config, body);
        let daemon =
            Daemon::start_with_program(program, &rules, &[], &tmp.path().join("daemon.log"));
        std::thread::sleep(Duration::from_secs(2));
        let kicks = pickup.received.count();
        let share = core_share(daemon.pid(), 10, || {
            if hup {
                daemon.signal("HUP");
            }
        });
        println!(
            "100,000 files, {label}: {:.1}% of a core, {} kicks meanwhile, RSS {} KiB",
            share * 100.0,
            pickup.received.count() - kicks,
            rss_kib(daemon.pid())
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "huge-directory") {
        let program = args
            .iter()
            .position(|a| a == "--postkickd")
            .and_then(|at| args.get(at + 1))
            .map_or_else(postkick_testkit::daemon::binary, std::path::PathBuf::from);
        huge_directory(&program);
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "crash") {
        let kills = args.get(at + 1).and_then(|s| s.parse().ok()).unwrap_or(200);
        let counts = postkick_testkit::crash::kill_at_random_moments(kills);
        println!(
            "kill -9 at {kills} random moments, a catch_up rule firing every second: {} kicks received; {} runs exact, {} not attributable (start straddled a slot); {} slots kicked twice, {} lost",
            counts.kicks, counts.exact, counts.unclear, counts.repeated, counts.lost
        );
        return;
    }
    maildrop_latency();
    cron_seconds(10);
    idle();
}
