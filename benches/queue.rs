//! The request protocol measured against a real private Postfix, beside
//! Postfix's own clients in the same run:
//!
//! 1. Queue sizes: a held queue of 1,000, 10,000 and 100,000 messages
//!    (1,000 submitted with sendmail and held with `postsuper -h`, the rest
//!    copies of those files under new queue IDs): the time `postqueue -p`
//!    and `postqueue -j` take to list it, and the time postkickd's showq
//!    read takes (`status --json`'s `read_ms`, and the whole `status`
//!    command), whether it was complete, and the daemon's resident memory
//!    before and after (and its peak).
//! 2. Flush round trips: `postqueue -s SITE` beside `postkickd kick RULE`
//!    for a `flush: {site: SITE}` rule (both spawn a client; the daemon's
//!    goes through its control socket and kicker).
//!
//! Run with `cargo bench --bench queue -- [SIZE...]` (as root, with Postfix
//! installed). Prints figures; asserts nothing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use postkick_testkit::daemon::{postkickd, Daemon};
use postkick_testkit::proc::{rss_kib, status_field};
use postkick_testkit::{postfix, wait_for};

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn timed(program: &str, args: &[&str]) -> (Duration, String) {
    let started = Instant::now();
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    (
        started.elapsed(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

/// Adds copies of the held messages under new queue IDs until `size` are
/// held.
fn grow_hold(hold: &Path, size: usize) {
    let originals: Vec<_> = std::fs::read_dir(hold)
        .expect("hold")
        .flatten()
        .map(|e| e.path())
        .collect();
    let mut count = originals.len();
    let mut serial: u64 = 0x1_0000_0000;
    while count < size {
        let source = &originals[count % originals.len()];
        let target = hold.join(format!("{serial:X}"));
        serial += 1;
        if target.exists() {
            continue;
        }
        std::fs::copy(source, &target).expect("copy queue file");
        count += 1;
    }
    let status = Command::new("chown")
        .args(["-R", "postfix", &hold.display().to_string()])
        .status()
        .expect("chown");
    assert!(status.success());
}

fn main() {
    if !Path::new("/usr/sbin/postfix").exists() {
        println!("Postfix is not installed: nothing measured");
        return;
    }
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000, 10_000, 100_000]
    } else {
        sizes
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let instance = postfix::Instance::start(&postfix::Options {
        main_cf: format!("relayhost = [127.0.0.1]:{port}\nrelay_domains = partner.example\n"),
        ..postfix::Options::default()
    });
    let config = instance.config_str().to_owned();
    let submit = instance.sendmail_config("pickup");
    let first = sizes.iter().copied().min().unwrap_or(1000).min(1000);
    let started = Instant::now();
    for i in 0..first {
        instance.sendmail_to(&submit, "someone@partner.example", &format!("bench {i}"));
    }
    println!("submitted {first} messages in {}", ms(started.elapsed()));
    wait_for(Duration::from_secs(300), "the maildrop to empty", || {
        let left = std::fs::read_dir(instance.queue_path("maildrop"))
            .ok()?
            .count();
        (left == 0).then_some(())
    });
    let held = Command::new("postsuper")
        .args(["-c", &config, "-h", "ALL"])
        .output()
        .expect("postsuper -h");
    assert!(held.status.success());

    let rules = instance.write_rules(
        "rules:\n  - name: partner\n    every: 1h\n    flush: {site: partner.example}\n",
    );
    let control = instance.root.join("control");
    let control_arg = control.to_str().expect("utf8").to_owned();
    let daemon = Daemon::start(
        &rules,
        &["--control", &control_arg],
        &instance.root.join("daemon.log"),
    );
    wait_for(Duration::from_secs(10), "the control socket", || {
        control.exists().then_some(())
    });

    println!("\nqueue sizes (held messages; postkickd reads at most 100,000 in at most 5 s)");
    println!(
        "{:>8}  {:>13}  {:>13}  {:>12}  {:>14}  {:>9}  {:>22}",
        "messages",
        "postqueue -p",
        "postqueue -j",
        "showq read",
        "status command",
        "complete",
        "RSS before/after/peak"
    );
    let mut last_read = Instant::now() - Duration::from_secs(60);
    for &size in &sizes {
        grow_hold(&instance.queue_path("hold"), size);
        let (p_time, listing) = timed("postqueue", &["-c", &config, "-p"]);
        let requests = listing.lines().last().unwrap_or_default().to_owned();
        let (j_time, json) = timed("postqueue", &["-c", &config, "-j"]);
        // A reading younger than 10 s is reused: wait the rest out.
        std::thread::sleep(Duration::from_secs(11).saturating_sub(last_read.elapsed()));
        let before = rss_kib(daemon.pid());
        let started = Instant::now();
        let (_, stdout, stderr) = postkickd(&["status", "--json", "--control", &control_arg]);
        let command = started.elapsed();
        last_read = Instant::now();
        let after = rss_kib(daemon.pid());
        let peak = status_field(daemon.pid(), "VmHWM:");
        let document: serde_json::Value =
            serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
        let queue = &document["queue"];
        println!(
            "{size:>8}  {:>13}  {:>13}  {:>9.1} ms  {:>14}  {:>9}  {:>22}",
            ms(p_time),
            ms(j_time),
            queue["read_ms"].as_f64().unwrap_or(f64::NAN),
            ms(command),
            format!("{} ({})", queue["complete"], queue["messages"]),
            format!("{before}/{after}/{peak} KiB"),
        );
        println!(
            "          postqueue -p: {requests:?}; postqueue -j: {} lines",
            json.lines().count()
        );
    }

    let log = std::fs::read_to_string(&instance.log).unwrap_or_default();
    let showq_warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("showq") && l.contains("warning"))
        .collect();
    println!(
        "showq warnings in the mail log: {}{}",
        showq_warnings.len(),
        showq_warnings
            .first()
            .map_or(String::new(), |l| format!(", first: {l}"))
    );

    println!("\nflush round trips (20 each, partner.example in fast_flush_domains)");
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..20 {
        let (t, _) = timed("postqueue", &["-c", &config, "-s", "partner.example"]);
        theirs.push(t);
        let started = Instant::now();
        let (status, out, err) = postkickd(&["kick", "partner", "--control", &control_arg]);
        assert_eq!(status, 0, "{out}{err}");
        ours.push(started.elapsed());
    }
    for (label, mut times) in [
        ("postqueue -s", theirs),
        ("postkickd kick (flush site)", ours),
    ] {
        times.sort_unstable();
        println!(
            "{label:30} p50 {:>9}  max {:>9}",
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1])
        );
    }
    println!(
        "answers logged by the daemon: {} ok",
        daemon.count_where("outcome", "ok")
    );
}
