//! Watch rules at any event rate and for every way a file can arrive:
//! kicks at once, never two in flight, level-triggered at start and
//! reload, directories known by what they are, parents replaced, and the
//! drain check against a real Postfix whose pickup is stopped.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant, SystemTime};

use postkick_testkit::rules::Setup;
use postkick_testkit::{postfix, postfix_installed, wait_for, HoldingServer, SocketServer};

/// Files at a steady 200 a second (the writer does not wait) against an
/// endpoint that takes 20 ms a kick: no more kicks than files, never two
/// in flight, and a kick that starts after the last file.
#[test]
fn a_steady_rate_against_a_slow_endpoint_never_overlaps_and_ends_after_the_last_file() {
    let setup =
        Setup::new("rules:\n  - name: drop\n    watch: incoming\n    kick: public pickup W\n");
    let watched = setup.dir.queue.join("incoming");
    std::fs::create_dir(&watched).expect("mkdir");
    let pickup = HoldingServer::start(
        &setup.dir.endpoint("public", "pickup"),
        Duration::from_millis(20),
    );
    let _daemon = setup.start(&[]);
    let started = Instant::now();
    let files = 400;
    for i in 0..files {
        let due = started + Duration::from_millis(5) * i;
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        std::fs::write(watched.join(format!("f{i}")), b"x").expect("write");
    }
    let last_file = Instant::now();
    wait_for(
        Duration::from_secs(20),
        "a kick after the last file",
        || {
            pickup
                .served()
                .iter()
                .any(|h| h.accepted > last_file)
                .then_some(())
        },
    );
    let served = pickup.served();
    assert!(served.len() <= files as usize, "{} kicks", served.len());
    assert_eq!(pickup.overlaps(), 0);
}

fn watching(extra: &str) -> (Setup, std::path::PathBuf, SocketServer) {
    let setup = Setup::new(&format!(
        "rules:\n  - name: drop\n    watch: incoming\n{extra}    kick: public pickup W\n"
    ));
    let watched = setup.dir.queue.join("incoming");
    std::fs::create_dir(&watched).expect("mkdir");
    let pickup = setup.socket("public", "pickup");
    (setup, watched, pickup)
}

fn kick_after(pickup: &SocketServer, moment: SystemTime, what: &str) {
    wait_for(Duration::from_secs(10), what, || {
        pickup
            .received
            .log()
            .iter()
            .any(|c| c.accepted > moment)
            .then_some(())
    });
}

#[test]
fn a_file_waiting_before_start_is_kicked_without_on_start() {
    let (setup, watched, pickup) = watching("");
    std::fs::write(watched.join("early"), b"x").expect("write");
    let _daemon = setup.start(&[]);
    pickup.received.wait_for(1, Duration::from_secs(10));
}

#[test]
fn a_file_that_arrives_during_a_reload_is_kicked() {
    let (setup, watched, pickup) = watching("");
    let daemon = setup.start(&[]);
    let mut last = SystemTime::now();
    // One SIGHUP at a time: two sent before the daemon reads them are one
    // signal to the kernel.
    for i in 0..5 {
        daemon.signal("HUP");
        std::fs::write(watched.join(format!("during-{i}")), b"x").expect("write");
        last = SystemTime::now();
        daemon.wait_for_event("event", "reloaded", i + 1, Duration::from_secs(10));
    }
    kick_after(
        &pickup,
        last - Duration::from_millis(1),
        "a kick for the last file",
    );
}

#[test]
fn a_file_created_with_its_final_mode_is_kicked() {
    let (setup, watched, pickup) = watching("    ready: executable\n");
    let _daemon = setup.start(&[]);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(watched.join("ready-at-birth"))
        .expect("create");
    file.write_all(b"complete").expect("write");
    drop(file);
    pickup.received.wait_for(1, Duration::from_secs(10));
}

#[test]
fn a_hard_link_into_the_directory_is_kicked() {
    let (setup, watched, pickup) = watching("");
    let _daemon = setup.start(&[]);
    let outside = setup.dir.root.join("made-elsewhere");
    std::fs::write(&outside, b"complete").expect("write");
    std::fs::hard_link(&outside, watched.join("linked-in")).expect("link");
    pickup.received.wait_for(1, Duration::from_secs(10));
}

/// A consumer takes a file and the producer writes one of the same name
/// at once: a new arrival, kicked again however soon it comes.
#[test]
fn a_name_written_again_at_once_is_kicked_again() {
    let (setup, watched, pickup) = watching("");
    let _daemon = setup.start(&[]);
    let flag = watched.join("flag");
    std::fs::write(&flag, b"first").expect("write");
    pickup.received.wait_for(1, Duration::from_secs(10));
    std::fs::remove_file(&flag).expect("take the file");
    std::fs::write(&flag, b"second").expect("write again");
    pickup.received.wait_for(2, Duration::from_secs(10));
}

#[test]
fn two_spellings_of_one_directory_both_kick() {
    let setup = Setup::new(
        "rules:\n  - name: plain\n    watch: incoming\n    kick: public pickup W\n  - name: roundabout\n    watch: incoming/../incoming\n    kick: public qmgr I\n",
    );
    std::fs::create_dir(setup.dir.queue.join("incoming")).expect("mkdir");
    let pickup = setup.socket("public", "pickup");
    let qmgr = setup.socket("public", "qmgr");
    let _daemon = setup.start(&[]);
    std::fs::write(setup.dir.queue.join("incoming/one"), b"x").expect("write");
    pickup.received.wait_for(1, Duration::from_secs(10));
    qmgr.received.wait_for(1, Duration::from_secs(10));
}

/// `mv spool spool.old; ln -s spool.new spool` above the watched
/// directory: the rule follows the path to the new directory.
#[test]
fn a_parent_replaced_by_a_symlink_is_followed() {
    let setup = Setup::new("rules: []\n");
    let spool = setup.dir.root.join("spool");
    std::fs::create_dir_all(spool.join("in")).expect("mkdir");
    setup.write_rules(&format!(
        "rules:\n  - name: drop\n    watch: {}\n    kick: public pickup W\n",
        spool.join("in").display()
    ));
    let pickup = setup.socket("public", "pickup");
    let daemon = setup.start(&[]);
    let new_spool = setup.dir.root.join("spool.new");
    std::fs::create_dir_all(new_spool.join("in")).expect("mkdir");
    std::fs::rename(&spool, setup.dir.root.join("spool.old")).expect("move away");
    std::os::unix::fs::symlink(&new_spool, &spool).expect("symlink");
    wait_for(
        Duration::from_secs(10),
        "the new directory to be watched",
        || {
            (daemon.count_where("event", "directory_replaced")
                + daemon.count_where("event", "directory_back")
                > 0)
            .then_some(())
        },
    );
    let before = SystemTime::now();
    std::fs::write(new_spool.join("in/after"), b"x").expect("write");
    kick_after(&pickup, before, "a kick for a file in the new directory");
    let old = pickup.received.count();
    std::fs::write(setup.dir.root.join("spool.old/in/stale"), b"x").expect("write");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        pickup.received.count(),
        old,
        "the old directory still kicks"
    );
}

/// A real Postfix with pickup out of master.cf: the maildrop does not
/// drain; the daemon says so within drain_within + 1 s, names the file,
/// and says when it has drained once pickup is back.
#[test]
fn a_stuck_maildrop_is_reported_and_its_drain_logged() {
    if !postfix_installed("a_stuck_maildrop_is_reported_and_its_drain_logged") {
        return;
    }
    let instance = postfix::Instance::start(&postfix::Options {
        pickup_disabled: true,
        ..postfix::Options::default()
    });
    let rules = instance.write_rules("rules:\n  - name: maildrop\n    watch: maildrop\n    drain_within: 2s\n    timeout: 1s\n    kick: public pickup W\n",
    );
    let control = instance.root.join("control");
    let control_arg = control.to_str().expect("utf8");
    let daemon = postkick_testkit::daemon::Daemon::start(
        &rules,
        &["--control", control_arg],
        &instance.root.join("daemon.log"),
    );
    let waiting_past_drain = || {
        let (_, stdout, _) = postkick_testkit::daemon::postkickd(&[
            "status",
            "--json",
            "maildrop",
            "--control",
            control_arg,
        ]);
        let status: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
        status["rules"][0]["files_waiting_past_drain"].clone()
    };
    let submit = instance.sendmail_config("pickup");
    instance.sendmail(&submit, "while pickup is away");
    let submitted = Instant::now();
    let warned = daemon.wait_for_event("event", "not_draining", 1, Duration::from_secs(10));
    assert!(
        submitted.elapsed() <= Duration::from_secs(3),
        "warned {:?} after the message",
        submitted.elapsed()
    );
    let maildrop = instance.queue_path("maildrop").display().to_string();
    assert!(
        warned[0]
            .get("oldest")
            .is_some_and(|f| f.starts_with(&maildrop)),
        "{warned:?}"
    );
    assert!(warned[0].is("waiting", "1"), "{warned:?}");
    assert_eq!(waiting_past_drain(), 1);
    instance.enable_pickup();
    daemon.wait_for_event("event", "drained", 1, Duration::from_secs(30));
    assert_eq!(waiting_past_drain(), 0);
    let left = std::fs::read_dir(instance.queue_path("maildrop"))
        .expect("maildrop")
        .count();
    assert_eq!(left, 0);
}

/// A file named with a newline and a terminal escape cannot forge a text
/// log line nor reach the terminal raw: both are escaped.
#[test]
fn a_file_name_cannot_forge_a_text_log_line() {
    let (setup, watched, pickup) = Setup::watching_incoming();
    let log = setup.dir.root.join("text.log");
    let mut daemon = std::process::Command::new(postkick_testkit::daemon::binary())
        .args(["run", "-v", "--rules"])
        .arg(&setup.rules)
        .args(postkick_testkit::daemon::own_files(&log, &[]))
        .env_remove("JOURNAL_STREAM")
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn");
    let text = postkick_testkit::LogFile(log.clone());
    text.wait_for("rules running", 1, Duration::from_secs(10));
    std::fs::write(watched.join("evil\nERROR forged\u{1b}[2J"), "x").expect("drop");
    pickup.received.wait_for(1, Duration::from_secs(10));
    text.wait_for("evil\\nERROR forged\\u{1b}[2J", 1, Duration::from_secs(10));
    let _ = daemon.kill();
    let _ = daemon.wait();
    let written = text.text();
    assert!(
        !written.lines().any(|line| line.starts_with("ERROR forged"))
            && !written.contains('\u{1b}'),
        "{written}"
    );
}
