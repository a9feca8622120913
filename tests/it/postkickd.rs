//! End-to-end behaviour of `postkickd`: its commands, its triggers, reloads
//! and stops, against endpoints the tests create and a real Postfix.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use postkick_testkit::daemon::{binary, postkickd, Daemon};
use postkick_testkit::rules::Setup;
use postkick_testkit::{
    postfix, postfix_installed, traversable_tempdir, wait_for, FifoServer, ServerStyle,
    SocketServer,
};

#[test]
fn check_reports_every_mistake_with_its_line() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ten-mistakes.yaml");
    let rules = fixture.to_str().expect("utf8");
    let setup = Setup::new("rules: []\n");
    let config = setup.dir.config.to_str().expect("utf8");
    let (status, stdout, stderr) = postkickd(&["check", "--rules", rules, "-c", config]);
    assert_eq!(status, 1, "{stderr}");
    assert_eq!(stdout, "");
    let located: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            l.starts_with(&format!("{rules}:"))
                && l[rules.len() + 1..].starts_with(|c: char| c.is_ascii_digit())
        })
        .collect();
    assert_eq!(located.len(), 10, "{stderr}");
    for line in [
        "3:5:", "4:5:", "7:12:", "10:11:", "14:15:", "18:5:", "22:11:", "25:11:", "29:23:",
        "30:11:",
    ] {
        assert!(
            stderr.contains(&format!("{rules}:{line}")),
            "no error at {line} in\n{stderr}"
        );
    }
    assert!(
        stderr.ends_with("10 errors: postkickd run would fail\n"),
        "{stderr}"
    );
}

#[test]
fn check_passes_the_shipped_example_and_summarises() {
    let setup = Setup::new("rules: []\n");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.example.yaml");
    let config = setup.dir.config.to_str().expect("utf8");
    let (status, stdout, stderr) = postkickd(&[
        "check",
        "--rules",
        example.to_str().expect("utf8"),
        "-c",
        config,
    ]);
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stdout.contains(": valid: 6 rules (2 cron, 2 every, 2 watch; 2 disabled)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("warning: rule \"pickup-on-maildrop\": endpoint"),
        "{stderr}"
    );
}

#[test]
fn check_warns_about_requests_a_service_will_not_understand() {
    let setup =
        Setup::new("rules:\n  - name: anvil\n    every: 1h\n    kick: private anvil refresh\n");
    let _anvil = setup.socket("private", "anvil");
    let (status, stdout, stderr) =
        postkickd(&["check", "--rules", setup.rules.to_str().expect("utf8")]);
    assert_eq!(status, 0);
    assert!(
        stdout.contains("valid: 1 rule (0 cron, 1 every, 0 watch), 1 warning"),
        "{stdout}"
    );
    assert!(
        stderr.contains("premature end-of-input on anvil socket"),
        "{stderr}"
    );
    // What does work instead: nothing resets anvil; its counts expire.
    assert!(
        stderr.contains("anvil has no request that resets its counters")
            && stderr.contains("anvil_rate_time_unit"),
        "{stderr}"
    );
}

#[test]
fn next_lists_coming_fire_times() {
    let setup = Setup::new(
        "rules:\n  - name: yearly\n    cron: \"@yearly\"\n    timezone: UTC\n    kick: public qmgr I\n  - name: watcher\n    watch: maildrop\n    kick: public pickup W\n",
    );
    let (status, stdout, _) = postkickd(&[
        "next",
        "--rules",
        setup.rules.to_str().expect("utf8"),
        "-n",
        "2",
    ]);
    assert_eq!(status, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("-01-01 00:00:00 +00:00 UTC  yearly")),
        "{stdout}"
    );
}

/// `next` is one timeline: every rule's fires merged in time order.
#[test]
fn next_merges_the_rules_into_one_timeline() {
    let setup = Setup::new(
        "rules:\n  - name: daily\n    cron: \"0 12 * * *\"\n    timezone: UTC\n    kick: public qmgr I\n  - name: hourly\n    cron: \"30 * * * *\"\n    timezone: UTC\n    kick: public qmgr I\n",
    );
    let (status, stdout, stderr) = postkickd(&[
        "next",
        "--rules",
        setup.rules.to_str().expect("utf8"),
        "-n",
        "3",
        "--after",
        "2026-12-03T10:00:00Z",
    ]);
    assert_eq!(status, 0, "{stderr}");
    let order: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_once("  ").map(|(_, rest)| rest))
        .collect();
    assert_eq!(
        order,
        ["hourly", "hourly", "daily", "hourly", "daily", "daily"],
        "{stdout}"
    );
    assert!(
        stdout.starts_with("2026-12-03 10:30:00 +00:00 UTC  hourly"),
        "{stdout}"
    );
}

#[test]
fn cron_with_seconds_fires_every_second_on_the_second() {
    let setup =
        Setup::new("rules:\n  - name: tick\n    cron: \"* * * * * *\"\n    kick: public qmgr I\n");
    let server = setup.socket("public", "qmgr");
    let daemon = setup.start(&[]);
    let got = server.received.wait_for(3, Duration::from_secs(10));
    drop(daemon);
    for connection in &got[..3] {
        assert_eq!(connection, b"I\0");
    }
    for connection in server.received.log().iter().take(3) {
        let millis = connection
            .accepted
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after epoch")
            .subsec_millis();
        assert!(millis < 500, "kick {millis} ms after its second");
    }
}

#[test]
fn every_and_on_start() {
    let setup = Setup::new(
        "rules:\n  - name: fast\n    every: 100ms\n    kick: {class: public, service: qmgr, request: D}\n  - name: once\n    every: 1h\n    on_start: true\n    kick: public flush W\n",
    );
    let qmgr = setup.socket("public", "qmgr");
    let mut flush = FifoServer::start(&setup.dir.endpoint("public", "flush"));
    let daemon = setup.start(&[]);
    qmgr.received.wait_for(5, Duration::from_secs(10));
    daemon.wait_for_event("rule", "once", 1, Duration::from_secs(10));
    assert_eq!(flush.drain(), b"W");
    assert!(daemon.count_where("outcome", "delivered") >= 1);
}

#[test]
fn dry_run_sends_nothing() {
    let setup = Setup::new("rules:\n  - name: fast\n    every: 50ms\n    kick: public qmgr I\n");
    let qmgr = setup.socket("public", "qmgr");
    let daemon = setup.start(&["--dry-run"]);
    daemon.wait_for_event("outcome", "dry-run", 3, Duration::from_secs(10));
    assert_eq!(qmgr.received.count(), 0);
}

/// 10,000 files in one burst: events during a kick fold into one kick
/// after it, so there are fewer kicks than files, and the last one starts
/// after the last file.
#[test]
fn burst_of_files_folds_into_fewer_kicks_ending_after_the_last_file() {
    let (setup, watched, pickup) = Setup::watching_incoming();
    let _daemon = setup.start(&[]);
    for i in 0..10_000 {
        std::fs::write(watched.join(format!("f{i}")), b"x").expect("write");
    }
    let last_file = SystemTime::now();
    let log = wait_for(
        Duration::from_secs(20),
        "a kick after the last file",
        || {
            let log = pickup.received.log();
            log.iter().any(|c| c.accepted > last_file).then_some(log)
        },
    );
    let kicks = log.len();
    assert!((1..10_000).contains(&kicks), "{kicks} kicks");
}

#[test]
fn pattern_limits_which_files_count() {
    let setup = Setup::new("rules:\n  - name: eml\n    watch: incoming\n    pattern: \"*.eml\"\n    kick: public pickup W\n");
    let watched = setup.dir.queue.join("incoming");
    std::fs::create_dir(&watched).expect("mkdir");
    let pickup = setup.socket("public", "pickup");
    let daemon = setup.start(&[]);
    std::fs::write(watched.join("ignored.tmp"), b"x").expect("write");
    std::fs::write(watched.join("message.eml"), b"x").expect("write");
    pickup.received.wait_for(1, Duration::from_secs(10));
    daemon.wait_for_event("rule", "eml", 1, Duration::from_secs(5));
    // The .tmp file came first; had it counted, its kick would have folded
    // the .eml one into a second kick after the debounce window.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(pickup.received.count(), 1);
}

/// postdrop marks a finished maildrop file by making it executable; pickup
/// skips it until then, so that mode change is what kicks.
#[test]
fn maildrop_files_count_once_they_are_executable() {
    use std::os::unix::fs::PermissionsExt;
    let setup =
        Setup::new("rules:\n  - name: drop\n    watch: maildrop\n    kick: public pickup W\n");
    let maildrop = setup.dir.queue.join("maildrop");
    std::fs::create_dir(&maildrop).expect("mkdir");
    let pickup = setup.socket("public", "pickup");
    let _daemon = setup.start(&[]);
    let file = maildrop.join("12345.678");
    std::fs::write(&file, b"being written").expect("write");
    std::fs::rename(&file, maildrop.join("ABCDEF")).expect("rename");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        pickup.received.count(),
        0,
        "a file that is not finished kicked"
    );
    let ready = std::fs::Permissions::from_mode(0o744);
    std::fs::set_permissions(maildrop.join("ABCDEF"), ready).expect("chmod");
    pickup.received.wait_for(1, Duration::from_secs(10));
}

#[test]
fn watched_directory_removed_and_recreated_is_watched_again() {
    let (setup, watched, pickup) = Setup::watching_incoming();
    let daemon = setup.start(&[]);
    std::fs::remove_dir(&watched).expect("rmdir");
    daemon.wait_for_event("event", "directory_gone", 1, Duration::from_secs(10));
    std::fs::create_dir(&watched).expect("mkdir again");
    daemon.wait_for_event("event", "directory_back", 1, Duration::from_secs(10));
    let before = pickup.received.count();
    std::fs::write(watched.join("after"), b"x").expect("write");
    wait_for(
        Duration::from_secs(10),
        "a kick for the file in the new directory",
        || (pickup.received.count() > before).then_some(()),
    );
}

#[test]
fn missing_endpoint_that_appears_later_is_kicked_and_the_daemon_keeps_going() {
    let setup = Setup::new("rules:\n  - name: fast\n    every: 100ms\n    kick: public qmgr I\n");
    let mut daemon = setup.start(&[]);
    let failed = daemon.wait_for_event("outcome", "failed", 2, Duration::from_secs(10));
    assert!(
        failed.iter().any(|e| e
            .get("error")
            .is_some_and(|text| text.contains("unable to look up"))),
        "{}",
        daemon.log_text()
    );
    let qmgr = setup.socket("public", "qmgr");
    qmgr.received.wait_for(2, Duration::from_secs(10));
    assert!(daemon.running());
}

#[test]
fn failed_kicks_are_retried_with_backoff() {
    let setup = Setup::new(
        "rules:\n  - name: once\n    every: 1h\n    on_start: true\n    retry: {attempts: 3, backoff: 100ms}\n    kick: public qmgr I\n",
    );
    let daemon = setup.start(&[]);
    let failed = daemon.wait_for_event("outcome", "failed", 1, Duration::from_secs(10));
    assert_eq!(
        daemon.count_where("outcome", "retrying"),
        2,
        "{}",
        daemon.log_text()
    );
    assert!(failed[0].is("attempts", "3"), "{failed:?}");
}

#[test]
fn reload_keeps_old_rules_on_a_broken_file_and_switches_on_a_fixed_one() {
    let setup = Setup::new("rules:\n  - name: old\n    every: 100ms\n    kick: public qmgr I\n");
    let qmgr = setup.socket("public", "qmgr");
    let pickup = setup.socket("public", "pickup");
    let daemon = setup.start(&[]);
    qmgr.received.wait_for(1, Duration::from_secs(10));
    setup.write_rules(
        "rules:\n  - name: new\n    every: 100ms\n    kick: public pickup W\n    bogus: 1\n",
    );
    daemon.signal("HUP");
    let refused = daemon.wait_for_event("event", "reload_refused", 1, Duration::from_secs(10));
    assert!(
        refused.iter().any(|e| e
            .get("message")
            .is_some_and(|m| m.contains("unknown key \"bogus\""))),
        "{}",
        daemon.log_text()
    );
    let before = qmgr.received.count();
    qmgr.received.wait_for(before + 2, Duration::from_secs(10));
    setup.write_rules("rules:\n  - name: new\n    every: 100ms\n    kick: public pickup W\n");
    daemon.signal("HUP");
    daemon.wait_for_event("event", "reloaded", 1, Duration::from_secs(10));
    pickup.received.wait_for(2, Duration::from_secs(10));
    let settled = qmgr.received.count();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(qmgr.received.count(), settled, "the old rule kept running");
}

#[test]
fn sigterm_during_a_hung_kick_exits_0_within_a_second_and_says_what_it_abandoned() {
    let setup = Setup::new("rules:\n  - name: hang\n    every: 1h\n    on_start: true\n    timeout: 60s\n    kick: public qmgr I\n");
    let hung = SocketServer::start(&setup.dir.endpoint("public", "qmgr"), ServerStyle::Hung);
    let daemon = setup.start(&[]);
    hung.received.wait_for(1, Duration::from_secs(10));
    let log = daemon.log.clone();
    let (status, took) = daemon.stop_with("TERM");
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(1), "{took:?}");
    let abandoned: Vec<_> = postkick_testkit::daemon::events_in(&log)
        .into_iter()
        .filter(|e| e.is("event", "kick_abandoned"))
        .collect();
    assert_eq!(
        abandoned.len(),
        1,
        "{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert!(abandoned[0].get("rule").is_some_and(|r| r == "hang"));
}

/// A fake systemd: what the daemon sends to `NOTIFY_SOCKET`.
#[test]
fn tells_systemd_ready_reloading_stopping_and_pets_the_watchdog() {
    let setup = Setup::new("rules:\n  - name: slow\n    every: 1h\n    kick: public qmgr I\n");
    let socket_path = setup.dir.root.join("notify.sock");
    let systemd = std::os::unix::net::UnixDatagram::bind(&socket_path).expect("bind notify socket");
    systemd
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let notify_socket = socket_path.to_str().expect("utf8");
    let daemon = Daemon::start_with_env(
        &setup.rules,
        &[],
        &setup.dir.root.join("daemon.log"),
        &[
            ("NOTIFY_SOCKET", notify_socket),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let mut buf = [0u8; 4096];
    let mut next = || {
        let n = systemd.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let ready = next();
    assert!(
        ready.contains("READY=1") && ready.contains("STATUS=1 rules running"),
        "{ready:?}"
    );
    // STATUS= updates may come between.
    wait_for(Duration::from_secs(10), "WATCHDOG=1", || {
        next().contains("WATCHDOG=1").then_some(())
    });
    daemon.signal("HUP");
    let reloading = wait_for(Duration::from_secs(10), "RELOADING=1", || {
        let message = next();
        message.contains("RELOADING=1").then_some(message)
    });
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading:?}");
    let (status, _) = daemon.stop_with("TERM");
    assert_eq!(status.code(), Some(0));
    wait_for(Duration::from_secs(10), "STOPPING=1", || {
        next().contains("STOPPING=1").then_some(())
    });
}

/// A server that takes a while: kicks of one rule never overlap, and the
/// triggers that came meanwhile fold into one kick after each.
#[test]
fn kicks_of_one_rule_never_pile_up() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let setup = Setup::new("rules:\n  - name: fast\n    every: 20ms\n    kick: public qmgr I\n");
    let listener =
        std::os::unix::net::UnixListener::bind(setup.dir.endpoint("public", "qmgr")).expect("bind");
    let active = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    {
        let (active, most, served) = (Arc::clone(&active), Arc::clone(&most), Arc::clone(&served));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (active, most, served) =
                    (Arc::clone(&active), Arc::clone(&most), Arc::clone(&served));
                std::thread::spawn(move || {
                    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(200));
                    active.fetch_sub(1, Ordering::SeqCst);
                    served.fetch_add(1, Ordering::SeqCst);
                    drop(stream);
                });
            }
        });
    }
    let started = std::time::Instant::now();
    let _daemon = setup.start(&[]);
    wait_for(Duration::from_secs(10), "five slow kicks", || {
        (served.load(Ordering::SeqCst) >= 5).then_some(())
    });
    assert_eq!(most.load(Ordering::SeqCst), 1, "kicks overlapped");
    // Fifty 20 ms ticks per second, but only one kick per 200 ms server.
    let per_second = served.load(Ordering::SeqCst) as f64 / started.elapsed().as_secs_f64();
    assert!(per_second < 6.0, "{per_second} kicks/s");
}

#[test]
fn sigint_stops_too() {
    let setup = Setup::new("rules:\n  - name: fast\n    every: 1h\n    kick: public qmgr I\n");
    let daemon = setup.start(&[]);
    let (status, _) = daemon.stop_with("INT");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn run_refuses_an_invalid_rules_file_with_every_error() {
    let setup = Setup::new("rules:\n  - name: x\n    every: 1q\n    kick: public\n");
    let (status, _, stderr) = postkickd(&["run", "--rules", setup.rules.to_str().expect("utf8")]);
    assert_eq!(status, 1);
    assert!(stderr.contains("bad duration \"1q\""), "{stderr}");
    assert!(stderr.contains("kick \"public\" must be"), "{stderr}");
}

/// Drops a message into a real Postfix's maildrop with `sendmail`, whose own
/// kick of pickup goes nowhere and whose pickup never polls: only the
/// daemon's watch rule can make pickup take it.
#[test]
fn live_postfix_maildrop_is_emptied_by_the_watch_rule() {
    if !postfix_installed("live_postfix_maildrop_is_emptied_by_the_watch_rule") {
        return;
    }
    let instance = postfix::Instance::start(&postfix::Options {
        pickup_wakeup: Some("-"),
        ..postfix::Options::default()
    });
    let submit = instance.sendmail_config("nowhere");
    let maildrop = instance.queue_path("maildrop");
    instance.sendmail(&submit, "before the daemon");
    let waiting = std::fs::read_dir(&maildrop).expect("maildrop").count();
    assert_eq!(
        waiting, 1,
        "sendmail should leave its message in the maildrop"
    );
    let rules = instance.write_rules("rules:\n  - name: pickup-on-maildrop\n    watch: maildrop\n    on_start: true\n    kick: public pickup W\n");
    let daemon = Daemon::start(&rules, &[], &instance.root.join("daemon.log"));
    let empty = || {
        std::fs::read_dir(&maildrop)
            .map(|d| d.count() == 0)
            .unwrap_or(false)
            .then_some(())
    };
    wait_for(
        Duration::from_secs(10),
        "the maildrop to empty after start",
        empty,
    );
    for i in 0..5 {
        instance.sendmail(&submit, &format!("message {i}"));
        wait_for(Duration::from_secs(5), "the maildrop to empty", empty);
    }
    assert!(daemon.count_where("rule", "pickup-on-maildrop") >= 2);
}

#[test]
fn demo_shows_kicks_arriving_without_a_mail_system() {
    let (status, stdout, stderr) = postkickd(&["demo", "--seconds", "4"]);
    assert_eq!(status, 0, "{stderr}");
    for line in [
        "endpoint public/flush received \"W\"",
        "endpoint public/qmgr received \"AD\"",
        "endpoint public/pickup received \"W\"",
        "endpoint public/flush received \"request=send_site site=example.com\"",
    ] {
        assert!(stdout.contains(line), "no {line:?} in\n{stdout}");
    }
}

/// A test queue served by `postkickd endpoints` takes kicks from our
/// `postkick`, and prints them.
#[test]
fn endpoints_serve_a_test_queue() {
    use std::io::{BufRead, BufReader};
    let tmp = traversable_tempdir();
    let dir = tmp.path().join("testq");
    let mut child = Command::new(binary())
        .arg("endpoints")
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn endpoints");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready = lines.next().expect("a line").expect("text");
    assert!(ready.starts_with("endpoints: test queue"), "{ready}");
    let args = [
        std::ffi::OsStr::new("-c"),
        dir.as_os_str(),
        std::ffi::OsStr::new("public"),
        std::ffi::OsStr::new("qmgr"),
        std::ffi::OsStr::new("I"),
    ];
    let output =
        postkick_testkit::run_kick(&postkick_testkit::our_postkick(), &args, &[], tmp.path());
    assert_eq!(
        postkick_testkit::status_and_stderr(&output),
        (0, String::new())
    );
    let got = lines.next().expect("a line").expect("text");
    assert_eq!(got, "endpoint public/qmgr received \"I\"");
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = wait_for(Duration::from_secs(10), "endpoints to exit", || {
        child.try_wait().ok().flatten()
    });
    assert!(status.success());
}

/// `demo | head -1`: a closed pipe ends the output quietly (no panic,
/// exit 0) and the throw-away queue is removed.
#[test]
fn demo_into_a_closed_pipe_exits_cleanly_and_leaves_nothing() {
    let tmp = traversable_tempdir();
    let output = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{} demo --seconds 2 | head -1; exit ${{PIPESTATUS[0]}}",
            binary().display()
        ))
        .env("TMPDIR", tmp.path())
        .output()
        .expect("sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.starts_with("demo: a test queue in"),
        "{stdout}{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("read")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
