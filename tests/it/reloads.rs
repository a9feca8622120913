//! Rules keep their identity across reloads: one kicker per rule name,
//! `on_start` once, and a reload storm that leaves one watch behind; and
//! many cron rules within a small file limit. That timers keep their place
//! across reloads is a unit test of the timers on a simulated clock.

use std::time::{Duration, Instant};

use postkick_testkit::daemon::Daemon;
use postkick_testkit::proc::{inotify_instances, status_field};
use postkick_testkit::rules::Setup;
use postkick_testkit::{wait_for, write_script, HoldingServer};

/// Ten SIGHUPs 100 ms apart while files arrive and kicks take seconds:
/// a rule's kicks never overlap, across the reloads.
#[test]
fn reloads_never_put_two_kicks_of_one_rule_in_flight() {
    let setup = Setup::new(
        "rules:\n  - name: drop\n    watch: incoming\n    kick: public pickup W\n  - name: sweep\n    every: 200ms\n    kick: public qmgr I\n",
    );
    let watched = setup.dir.queue.join("incoming");
    std::fs::create_dir(&watched).expect("mkdir");
    let pickup = HoldingServer::start(
        &setup.dir.endpoint("public", "pickup"),
        Duration::from_secs(3),
    );
    let qmgr = HoldingServer::start(
        &setup.dir.endpoint("public", "qmgr"),
        Duration::from_secs(2),
    );
    let daemon = setup.start(&[]);
    for i in 0..10 {
        std::fs::write(watched.join(format!("f{i}")), b"x").expect("write");
        daemon.signal("HUP");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Long enough for several held kicks of each rule.
    wait_for(Duration::from_secs(30), "three kicks of each rule", || {
        (pickup.served().len() >= 2 && qmgr.served().len() >= 3).then_some(())
    });
    assert_eq!(pickup.overlaps(), 0, "{:?}", pickup.served());
    assert_eq!(qmgr.overlaps(), 0, "{:?}", qmgr.served());
}

#[test]
fn on_start_fires_once_whatever_the_reloads() {
    let setup = Setup::new(
        "rules:\n  - name: once\n    every: 1h\n    on_start: true\n    kick: public flush W\n",
    );
    let flush = setup.socket("public", "flush");
    let daemon = setup.start(&[]);
    flush.received.wait_for(1, Duration::from_secs(10));
    // One SIGHUP at a time: two that arrive before the daemon reads them
    // are one signal.
    for i in 0..8 {
        daemon.signal("HUP");
        daemon.wait_for_event("event", "reloaded", i + 1, Duration::from_secs(10));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(flush.received.count(), 1);
}

/// 500 SIGHUPs leave one inotify instance and no extra threads.
#[test]
fn a_reload_storm_leaves_one_watch_and_no_extra_threads() {
    let (setup, _watched, _pickup) = Setup::watching_incoming();
    let daemon = setup.start(&[]);
    let pid = daemon.pid();
    let threads = status_field(pid, "Threads:");
    for _ in 0..500 {
        daemon.signal("HUP");
        std::thread::sleep(Duration::from_millis(2));
    }
    let settled = Instant::now() + Duration::from_secs(1);
    wait_for(
        Duration::from_secs(10),
        "one inotify instance and the threads of before",
        || (inotify_instances(pid) == 1 && status_field(pid, "Threads:") <= threads).then_some(()),
    );
    assert!(
        Instant::now() <= settled + Duration::from_millis(500),
        "took longer than a second to settle"
    );
}

/// 2,000 cron rules under `ulimit -n 1024`: they share one timer, kicks
/// are capped to fit the limit, and every rule's kick is delivered.
#[test]
fn two_thousand_cron_rules_fit_in_1024_descriptors() {
    let mut body = String::from("rules:\n");
    for i in 0..2000 {
        body.push_str(&format!(
            "  - name: c{i}\n    cron: \"* * * * * *\"\n    kick: public qmgr I\n"
        ));
    }
    let setup = Setup::new(&body);
    let qmgr = setup.socket("public", "qmgr");
    let wrapper = setup.dir.root.join("ulimit.sh");
    write_script(
        &wrapper,
        &format!(
            "#!/bin/sh\nulimit -n 1024 || exit 1\nexec {} \"$@\"\n",
            postkick_testkit::daemon::binary().display()
        ),
    );
    let daemon = Daemon::start_with_program(
        &wrapper,
        &setup.rules,
        &[],
        &setup.dir.root.join("daemon.log"),
    );
    wait_for(
        Duration::from_secs(60),
        "a delivered kick of every rule",
        || {
            let delivered: std::collections::HashSet<String> = daemon
                .events_where("outcome", "delivered")
                .iter()
                .filter_map(|e| e.get("rule"))
                .collect();
            (delivered.len() == 2000).then_some(())
        },
    );
    assert_eq!(
        daemon.count_where("outcome", "failed"),
        0,
        "{}",
        daemon
            .events_where("outcome", "failed")
            .first()
            .map(|e| format!("{e:?}"))
            .unwrap_or_default()
    );
    assert!(qmgr.received.count() >= 2000);
}

/// Relative `--rules`, `--control` and `--state` mean the directory the
/// daemon was started in, not the queue directory it works in: a reload
/// reads the same rules file, and the socket and state land beside it.
#[test]
fn relative_paths_mean_the_directory_the_daemon_started_in() {
    let setup = Setup::new("rules:\n  - name: tick\n    every: 200ms\n    kick: public qmgr I\n");
    let qmgr = setup.socket("public", "qmgr");
    let root = setup.dir.root.clone();
    let wrapper = root.join("from-here");
    write_script(
        &wrapper,
        &format!(
            "#!/bin/sh\ncd {} && exec {} \"$@\"\n",
            root.display(),
            postkick_testkit::daemon::binary().display()
        ),
    );
    let daemon = Daemon::start_with_program(
        &wrapper,
        std::path::Path::new("rules.yaml"),
        &["--control", "control", "--state", "state"],
        &root.join("daemon.log"),
    );
    assert!(root.join("control").exists(), "no socket beside the rules");
    assert!(!setup.dir.queue.join("control").exists());
    daemon.signal("HUP");
    daemon.wait_for_event("event", "reloaded", 1, Duration::from_secs(10));
    assert_eq!(daemon.count_where("event", "reload_refused"), 0);
    qmgr.received.wait_for(1, Duration::from_secs(10));
    let (status, _) = daemon.stop_with("TERM");
    assert_eq!(status.code(), Some(0));
    assert!(root.join("state").exists(), "no state beside the rules");
    assert!(!setup.dir.queue.join("state").exists());
}

/// `kill -9` at random moments of a daemon whose `catch_up` rule fires
/// every second: after each restart no slot is kicked twice, and a slot
/// is lost only by a kill in the instant between its record and its kick
/// (postkickd(8)): 1 in 200 kills on a loaded machine, so at most one
/// here (see `postkick_testkit::crash`).
#[test]
fn a_crash_at_any_moment_never_repeats_a_slot() {
    let counts = postkick_testkit::crash::kill_at_random_moments(30);
    assert_eq!(counts.repeated, 0, "{counts:?}");
    assert!(counts.lost <= 1, "{counts:?}");
    assert!(
        counts.exact >= 15,
        "too few runs could be attributed: {counts:?}"
    );
}

/// A reload that keeps a watch rule as it was does not look through its
/// directory again (a SIGHUP storm on a directory of 100,000 files cost a
/// core, and kicked for every file already kicked); a reload that changes
/// the rule does.
#[test]
fn a_reload_looks_through_only_the_directories_whose_rules_changed() {
    let (setup, watched, pickup) = Setup::watching_incoming();
    let daemon = setup.start(&[]);
    // A file pickup has not taken: kicked once when it came.
    std::fs::write(watched.join("waiting"), "x").expect("drop");
    pickup.received.wait_for(1, Duration::from_secs(10));
    for reloads in 1..=3 {
        daemon.signal("HUP");
        daemon.wait_for_event("event", "reloaded", reloads, Duration::from_secs(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        pickup.received.count(),
        1,
        "an unchanged rule was kicked by a reload"
    );
    setup.write_rules("rules:\n  - name: drop\n    watch: incoming\n    pattern: \"*\"\n    kick: public pickup W\n");
    daemon.signal("HUP");
    daemon.wait_for_event("event", "reloaded", 4, Duration::from_secs(10));
    pickup.received.wait_for(2, Duration::from_secs(10));
}

/// `drain_within` on a directory of 100,000 files: its looks space out
/// so that they stay a small share of a core (each was a full listing
/// four times a second, on the runtime's own thread).
#[test]
fn drain_checks_of_a_huge_directory_stay_cheap() {
    use postkick_testkit::proc::cpu_ticks;
    let (setup, watched, _pickup) = Setup::watching_incoming();
    for i in 0..100_000 {
        std::fs::File::create(watched.join(format!("f{i}"))).expect("create");
    }
    setup.write_rules("rules:\n  - name: drop\n    watch: incoming\n    drain_within: 1s\n    kick: public pickup W\n");
    let daemon = setup.start(&[]);
    std::thread::sleep(Duration::from_secs(2));
    let (before, since) = (cpu_ticks(daemon.pid()), Instant::now());
    std::thread::sleep(Duration::from_secs(6));
    let share = (cpu_ticks(daemon.pid()) - before) as f64 / 100.0 / since.elapsed().as_secs_f64();
    assert!(
        share < 0.2,
        "drain checks took {:.0}% of a core",
        share * 100.0
    );
}
