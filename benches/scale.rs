//! `postkickd` at scale: idle cost with 100 rules, start-up and reload with
//! 1,000 rules and 100 watched directories, and a soak at 1,000 kicks/s.
//!
//! `cargo bench --bench scale` runs the idle and scale measurements
//! (`-- idle [--postkickd PATH]`: the idle one alone, of another build;
//! `-- quiet [--postkickd PATH]`: 30 s idle with 20 hourly rules and 100
//! watch rules over 50 directories, the case that shows any polling);
//! `cargo bench --bench scale -- soak SECONDS` runs the soak instead
//! (600 s is the documented run): 50 rules kicking a local endpoint every
//! 50 ms each, SIGHUP every 10 s, RSS and open descriptors at start and
//! end, and every kick the daemon logged as delivered counted against what
//! the endpoint received. `cargo bench --bench scale -- crowd` runs 1,000
//! timer rules under `ulimit -n 256` while 400 control clients connect and
//! never ask and 300 ask for the metrics and never read: kicks due against
//! kicks delivered, the daemon's RSS, CPU and descriptors. Prints figures;
//! asserts nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use postkick_testkit::daemon::{events_in, Daemon};
use postkick_testkit::proc::{cpu_ticks, open_fds, status_field, wakeups};
use postkick_testkit::{traversable_tempdir, wait_for, QueueDir, ServerStyle, SocketServer};

/// A rules file of `cron` cron rules and `watch` watch rules, each watching
/// one of `directories` directories, kicking endpoints that exist.
fn many_rules(dir: &QueueDir, cron: usize, watch: usize, directories: usize) -> String {
    let mut text = format!(
        "postfix:\n  config_directory: {}\nrules:\n",
        dir.config.display()
    );
    for i in 0..cron {
        text.push_str(&format!(
            "  - name: cron-{i}\n    cron: \"{} {} * * *\"\n    kick: public qmgr I\n",
            i % 60,
            i % 24
        ));
    }
    for i in 0..watch {
        let watched = dir.queue.join(format!("w{}", i % directories));
        std::fs::create_dir_all(&watched).expect("mkdir");
        text.push_str(&format!(
            "  - name: watch-{i}\n    watch: {}\n    kick: public pickup W\n",
            watched.display()
        ));
    }
    text
}

/// 20 `every: 1h` rules beside `many_rules`' rules.
fn hourly_rules(count: usize) -> String {
    (0..count)
        .map(|i| format!("  - name: hourly-{i}\n    every: 1h\n    kick: public qmgr I\n"))
        .collect()
}

/// What an idle daemon costs: `cron` daily rules, `hourly` hourly ones and
/// `watch` watch rules over `directories` directories, `seconds` long.
fn idle(
    seconds: u64,
    program: &Path,
    cron: usize,
    hourly: usize,
    watch: usize,
    directories: usize,
) {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), "queue_directory = {queue}\n");
    let _qmgr = SocketServer::start(&dir.endpoint("public", "qmgr"), ServerStyle::UntilNul);
    let _pickup = SocketServer::start(&dir.endpoint("public", "pickup"), ServerStyle::UntilNul);
    let rules = tmp.path().join("rules.yaml");
    std::fs::write(
        &rules,
        many_rules(&dir, cron, watch, directories) + &hourly_rules(hourly),
    )
    .expect("write rules");
    let daemon = Daemon::start_with_program(program, &rules, &[], &tmp.path().join("daemon.log"));
    std::thread::sleep(Duration::from_secs(1));
    let pid = daemon.pid();
    let (w0, c0) = (wakeups(pid), cpu_ticks(pid));
    std::thread::sleep(Duration::from_secs(seconds));
    let (w1, c1) = (wakeups(pid), cpu_ticks(pid));
    println!(
        "idle {seconds} s with {} rules ({cron} daily cron, {hourly} every 1h, {watch} watch over {directories} directories): RSS {} KiB, CPU {} ms, {} context switches (all threads)",
        cron + hourly + watch,
        status_field(pid, "VmRSS:"),
        (c1 - c0) * 10,
        w1 - w0
    );
}

fn scale() {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), "queue_directory = {queue}\n");
    let _qmgr = SocketServer::start(&dir.endpoint("public", "qmgr"), ServerStyle::UntilNul);
    let _pickup = SocketServer::start(&dir.endpoint("public", "pickup"), ServerStyle::UntilNul);
    let rules = tmp.path().join("rules.yaml");
    std::fs::write(&rules, many_rules(&dir, 500, 500, 100)).expect("write rules");
    let control = tmp.path().join("control");
    let started = Instant::now();
    let daemon = Daemon::start(
        &rules,
        &["--control", control.to_str().expect("utf8")],
        &tmp.path().join("daemon.log"),
    );
    let startup = started.elapsed();
    let rss = status_field(daemon.pid(), "VmRSS:");
    // `status` through the control socket, as the client does it.
    let mut answers: Vec<Duration> = (0..100)
        .map(|_| {
            use std::io::{Read, Write};
            let asked = Instant::now();
            let mut stream = std::os::unix::net::UnixStream::connect(&control).expect("connect");
            stream.write_all(b"status\n").expect("ask");
            let mut answer = String::new();
            stream.read_to_string(&mut answer).expect("answer");
            assert!(answer.contains("\"rules\""));
            asked.elapsed()
        })
        .collect();
    answers.sort_unstable();
    let reload_started = Instant::now();
    daemon.signal("HUP");
    daemon.wait_for_event("event", "reloaded", 1, Duration::from_secs(60));
    let reload = reload_started.elapsed();
    println!(
        "1,000 rules (500 cron, 500 watch over 100 directories): start-up to ready {:.1} ms, RSS {rss} KiB, reload {:.1} ms; status --json answered in {:.2} ms (median of 100, max {:.2} ms)",
        startup.as_secs_f64() * 1e3,
        reload.as_secs_f64() * 1e3,
        answers[50].as_secs_f64() * 1e3,
        answers[99].as_secs_f64() * 1e3,
    );
}

fn soak(seconds: u64) {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), "queue_directory = {queue}\n");
    let qmgr = SocketServer::start(&dir.endpoint("public", "qmgr"), ServerStyle::UntilNul);
    let rules = tmp.path().join("rules.yaml");
    let mut text = format!(
        "postfix:\n  config_directory: {}\nrules:\n",
        dir.config.display()
    );
    for i in 0..50 {
        text.push_str(&format!(
            "  - name: soak-{i}\n    every: 50ms\n    kick: public qmgr I\n"
        ));
    }
    std::fs::write(&rules, text).expect("write rules");
    let log = tmp.path().join("daemon.log");
    let daemon = Daemon::start(&rules, &[], &log);
    std::thread::sleep(Duration::from_secs(2));
    let pid = daemon.pid();
    let (rss0, fds0) = (status_field(pid, "VmRSS:"), open_fds(pid));
    let started = Instant::now();
    let mut reloads = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_secs(10));
        daemon.signal("HUP");
        reloads += 1;
    }
    let (rss1, fds1) = (status_field(pid, "VmRSS:"), open_fds(pid));
    let (status, _) = daemon.stop_with("TERM");
    let events = events_in(&log);
    let logged = events
        .iter()
        .filter(|e| e.is("outcome", "delivered"))
        .count();
    let received = wait_for(Duration::from_secs(10), "the endpoint to settle", || {
        let n = qmgr.received.count();
        (n >= logged).then_some(n)
    });
    let failed = events.iter().filter(|e| e.is("outcome", "failed")).count();
    println!(
        "soak {seconds} s, 50 rules every 50 ms (1,000 kicks/s), SIGHUP every 10 s ({reloads} reloads): \
         {logged} kicks logged delivered, {received} received, {failed} failed; \
         RSS {rss0} -> {rss1} KiB; open fds {fds0} -> {fds1}; exit {:?}",
        status.code()
    );
}

fn crowd(seconds: u64) {
    use std::io::Write;
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), "queue_directory = {queue}\n");
    let qmgr = SocketServer::start(&dir.endpoint("public", "qmgr"), ServerStyle::UntilNul);
    let rules = tmp.path().join("rules.yaml");
    let mut text = format!(
        "postfix:\n  config_directory: {}\nrules:\n",
        dir.config.display()
    );
    for i in 0..1000 {
        text.push_str(&format!(
            "  - name: timer-{i}\n    every: 10s\n    quiet: true\n    kick: public qmgr I\n"
        ));
    }
    std::fs::write(&rules, text).expect("write rules");
    let limited = tmp.path().join("limited");
    postkick_testkit::write_script(
        &limited,
        &format!(
            "#!/bin/sh\nulimit -n 256\nexec {} \"$@\"\n",
            postkick_testkit::daemon::binary().display()
        ),
    );
    let control = tmp.path().join("control");
    let log = tmp.path().join("daemon.log");
    let daemon = Daemon::start_with_program(
        &limited,
        &rules,
        &["--control", control.to_str().expect("utf8")],
        &log,
    );
    let pid = daemon.pid();
    std::thread::sleep(Duration::from_secs(2));
    let ask = |request: &[u8]| {
        let mut client = std::os::unix::net::UnixStream::connect(&control).expect("connect");
        if !request.is_empty() {
            client.write_all(request).expect("ask");
        }
        client
    };
    let started = Instant::now();
    let (cpu0, received0) = (cpu_ticks(pid), qmgr.received.count());
    let mut clients: Vec<_> = (0..400).map(|_| ask(b"")).collect();
    clients.extend((0..300).map(|_| ask(b"metrics\n")));
    let (mut rss, mut fds) = (0, 0);
    while started.elapsed() < Duration::from_secs(seconds) {
        rss = rss.max(status_field(pid, "VmRSS:"));
        fds = fds.max(open_fds(pid));
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (cpu1, received1) = (cpu_ticks(pid), qmgr.received.count());
    drop(clients);
    let (status, _) = daemon.stop_with("TERM");
    let failed = events_in(&log)
        .iter()
        .filter(|e| e.is("outcome", "failed"))
        .count();
    println!(
        "crowd {elapsed:.0} s, 1,000 rules every 10 s under ulimit -n 256, 400 idle and 300 non-reading control clients: \
         {} kicks received (due about {:.0}), {failed} failed; RSS at most {rss} KiB; at most {fds} descriptors; CPU {:.1}% of a core; exit {:?}",
        received1 - received0,
        1000.0 * elapsed / 10.0,
        (cpu1 - cpu0) as f64 / elapsed,
        status.code()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "crowd") {
        crowd(60);
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "soak") {
        let seconds = args.get(at + 1).and_then(|s| s.parse().ok()).unwrap_or(600);
        soak(seconds);
        return;
    }
    let program = args
        .iter()
        .position(|a| a == "--postkickd")
        .and_then(|at| args.get(at + 1))
        .map_or_else(postkick_testkit::daemon::binary, std::path::PathBuf::from);
    if args.iter().any(|a| a == "idle") {
        idle(60, &program, 50, 0, 50, 50);
        return;
    }
    if args.iter().any(|a| a == "quiet") {
        idle(30, &program, 0, 20, 100, 50);
        return;
    }
    idle(60, &program, 50, 0, 50, 50);
    idle(30, &program, 0, 20, 100, 50);
    scale();
}
