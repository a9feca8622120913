//! `postkickd` measured: drop-to-pickup latency against a real Postfix
//! (beside an `inotifywait` loop running Postfix's own postkick), file
//! event to kick latency over many single drops (beside incron running
//! Postfix's postkick, with the configuration in `benches/incron/`), bursts
//! of files, a per-second cron rule, and the daemon's idle footprint.
//!
//! Run with `cargo bench --bench daemon` (as root, with Postfix installed;
//! `inotify-tools` and `incron` for the comparisons; `-- DROPS` sets the
//! number of single drops, 1000 by default). Prints figures; asserts
//! nothing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use postkick_testkit::daemon::Daemon;
use postkick_testkit::proc::{rss_kib, wakeups};
use postkick_testkit::{
    postfix, traversable_tempdir, wait_for, QueueDir, ServerStyle, SocketServer,
};

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

/// Drop-to-empty times for `DROPS` messages, one at a time, spaced wider
/// than the watch rule's debounce window so that each is a single drop.
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
    let rules = instance.root.join("rules.yaml");
    postkick_testkit::rules::write(
        &rules,
        &instance.config,
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

fn burst(files: usize) {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), "queue_directory = {queue}\n");
    let watched = dir.queue.join("incoming");
    std::fs::create_dir(&watched).expect("mkdir");
    let pickup = SocketServer::start(&dir.endpoint("public", "pickup"), ServerStyle::UntilNul);
    let rules = tmp.path().join("rules.yaml");
    postkick_testkit::rules::write(
        &rules,
        &dir.config,
        "rules:\n  - name: drop\n    watch: incoming\n    kick: public pickup W\n",
    );
    let _daemon = Daemon::start(&rules, &[], &tmp.path().join("daemon.log"));
    let first = SystemTime::now();
    for i in 0..files {
        std::fs::write(watched.join(format!("f{i}")), b"x").expect("write");
    }
    let last_file = SystemTime::now();
    wait_for(
        Duration::from_secs(60),
        "a kick after the last file",
        || {
            let log = pickup.received.log();
            log.iter().any(|c| c.accepted > last_file).then_some(())
        },
    );
    // Let any folded kick land.
    std::thread::sleep(Duration::from_millis(500));
    let log = pickup.received.log();
    let kicks = log.len();
    let last_kick = log.iter().map(|c| c.accepted).max().unwrap_or(first);
    println!(
        "burst of {files} files in {}: {kicks} kicks; last kick {} after the last file",
        ms(last_file.duration_since(first).unwrap_or_default()),
        ms(last_kick.duration_since(last_file).unwrap_or_default()),
    );
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

/// A test queue with a socket at public/pickup and a rules file watching
/// `incoming/` with it.
struct EventBench {
    tmp: tempfile::TempDir,
    dir: QueueDir,
    watched: std::path::PathBuf,
    pickup: SocketServer,
}

impl EventBench {
    fn new() -> EventBench {
        let tmp = traversable_tempdir();
        let dir = QueueDir::create(tmp.path(), "queue_directory = {queue}\n");
        let watched = dir.queue.join("incoming");
        std::fs::create_dir(&watched).expect("mkdir");
        let pickup = SocketServer::start(&dir.endpoint("public", "pickup"), ServerStyle::UntilNul);
        EventBench {
            tmp,
            dir,
            watched,
            pickup,
        }
    }

    /// Event-to-kick times of `drops` single files, 100 ms apart.
    fn drops(&self, drops: usize, label: &str) -> Vec<Duration> {
        let mut times = Vec::with_capacity(drops);
        for i in 0..drops {
            let before = self.pickup.received.count();
            let dropped = SystemTime::now();
            std::fs::write(self.watched.join(format!("{label}-{i}")), b"x").expect("write");
            let kicked = wait_for(Duration::from_secs(10), "a kick for the drop", || {
                let log = self.pickup.received.log();
                (log.len() > before).then(|| log[before].accepted)
            });
            times.push(kicked.duration_since(dropped).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(100));
        }
        times
    }
}

fn event_latency(drops: usize) {
    println!("file event (write and close) to kick arriving at a socket endpoint, {drops} single drops 100 ms apart:");
    let bench = EventBench::new();
    let rules = bench.tmp.path().join("rules.yaml");
    postkick_testkit::rules::write(
        &rules,
        &bench.dir.config,
        "rules:\n  - name: drop\n    watch: incoming\n    kick: public pickup W\n",
    );
    {
        let _daemon = Daemon::start(&rules, &[], &bench.tmp.path().join("daemon.log"));
        report("postkickd", &bench.drops(drops, "postkickd"));
    }
    let postfix_postkick = postkick_testkit::postfix_postkick();
    let postkick = postfix_postkick
        .exists()
        .then(|| postfix_postkick.to_str().expect("utf8 path"));
    match (postkick, Command::new("incrond").arg("--about").output()) {
        (Some(postkick), Ok(_)) => {
            let root = bench.tmp.path();
            let fill = |text: &str| {
                text.replace("@DIR@", &root.display().to_string())
                    .replace("@WATCHED@", &bench.watched.display().to_string())
                    .replace("@POSTKICK@", postkick)
                    .replace("@CONFIG@", &bench.dir.config.display().to_string())
            };
            let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/incron");
            let read = |name: &str| {
                std::fs::read_to_string(here.join(name)).expect("read incron template")
            };
            for dir in ["incron.d", "incron.users"] {
                std::fs::create_dir_all(root.join(dir)).expect("mkdir");
            }
            for file in ["incron.allow", "incron.deny"] {
                std::fs::write(root.join(file), "").expect("write");
            }
            std::fs::write(root.join("incron.conf"), fill(&read("incron.conf"))).expect("write");
            std::fs::write(
                root.join("incron.d/postkick"),
                fill(&read("postkick.table")),
            )
            .expect("write");
            let mut incrond = Command::new("incrond")
                .args(["-n", "-f"])
                .arg(root.join("incron.conf"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start incrond");
            std::thread::sleep(Duration::from_millis(1000));
            report("incron + Postfix's postkick", &bench.drops(drops, "incron"));
            let _ = incrond.kill();
            let _ = incrond.wait();
        }
        _ => println!("incron + Postfix's postkick: incron or Postfix missing, skipped"),
    }
    println!(
        "Postfix's pickup polling (wakeup 60 s): expected mean 30 s, worst 60 s (not measured)"
    );
}

fn main() {
    let drops = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    maildrop_latency();
    event_latency(drops);
    burst(10_000);
    burst(100_000);
    cron_seconds(10);
    idle();
}
