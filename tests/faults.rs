//! Faults: misbehaving endpoints, a hostile file system, reload storms and
//! bad input. Each test asserts what the daemon logs and that it keeps
//! running.

mod common;

use std::os::unix::net::UnixListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::daemon::{as_user, binary, Daemon};
use common::rules::Setup;
use common::{mkfifo, stale_socket, traversable_tempdir, wait_for, ServerStyle, SocketServer};

/// The inotify overflow test shrinks a machine-wide limit for the moment
/// its daemon starts; every other daemon here starts outside that moment.
static INOTIFY_LIMIT: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// Starts the daemon on `setup` outside the overflow test's moment.
fn start(setup: &Setup) -> Daemon {
    let _normal_limit = INOTIFY_LIMIT.read().unwrap_or_else(|e| e.into_inner());
    setup.start(&[])
}

/// Like [`start`], through a wrapper script that runs postkickd.
fn start_through(wrapper: &std::path::Path, setup: &Setup) -> Daemon {
    let _normal_limit = INOTIFY_LIMIT.read().unwrap_or_else(|e| e.into_inner());
    Daemon::start_with_program(
        wrapper,
        &setup.rules,
        &[],
        &setup.dir.root.join("daemon.log"),
    )
}

/// Log lines of one rule.
fn lines_of(daemon: &Daemon, rule: &str) -> Vec<String> {
    let needle = format!("rule={rule} ");
    daemon
        .log_text()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_owned)
        .collect()
}

/// The `elapsed_ms=` of a log line.
fn elapsed_ms(line: &str) -> f64 {
    line.split("elapsed_ms=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no elapsed_ms in {line}"))
}

#[test]
fn misbehaving_endpoints_end_within_their_timeout_and_never_delay_other_rules() {
    let rule = |name: &str, service: &str| {
        format!("  - name: {name}\n    every: 100ms\n    timeout: 300ms\n    kick: public {service} I\n")
    };
    let body = format!(
        "rules:\n{}{}{}{}{}{}{}",
        rule("healthy", "healthy"),
        rule("hung", "hung"),
        rule("deaf", "deaf"),
        rule("slow", "slow"),
        rule("stale", "stale"),
        rule("fifo", "fifo"),
        rule("replaced", "replaced"),
    );
    let setup = Setup::new(&body);
    let healthy = SocketServer::start(
        &setup.dir.endpoint("public", "healthy"),
        ServerStyle::UntilNul,
    );
    let _hung = SocketServer::start(&setup.dir.endpoint("public", "hung"), ServerStyle::Hung);
    // Bound and listening, never accepting: connections wait in the backlog.
    let _deaf = UnixListener::bind(setup.dir.endpoint("public", "deaf")).expect("bind");
    let slow_listener = UnixListener::bind(setup.dir.endpoint("public", "slow")).expect("bind");
    std::thread::spawn(move || {
        for stream in slow_listener.incoming().flatten() {
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(150));
                drop(stream);
            });
        }
    });
    stale_socket(&setup.dir.endpoint("public", "stale"));
    mkfifo(&setup.dir.endpoint("public", "fifo"));
    let replaced = SocketServer::start(
        &setup.dir.endpoint("public", "replaced"),
        ServerStyle::UntilNul,
    );
    let mut daemon = start(&setup);
    replaced.received.wait_for(1, Duration::from_secs(10));
    std::fs::remove_file(setup.dir.endpoint("public", "replaced")).expect("rm socket");
    std::fs::write(setup.dir.endpoint("public", "replaced"), b"").expect("regular file");
    let started = Instant::now();
    for rule in ["hung", "deaf", "slow", "stale", "fifo", "replaced"] {
        wait_for(
            Duration::from_secs(20),
            &format!("a logged kick of {rule}"),
            || (lines_of(&daemon, rule).len() >= 3).then_some(()),
        );
    }
    let healthy_kicks = healthy.received.count();
    let rate = healthy_kicks as f64 / started.elapsed().as_secs_f64().max(1.0);
    assert!(rate >= 3.0, "healthy rule slowed to {rate:.1} kicks/s");
    for rule in ["hung", "deaf", "slow"] {
        for line in lines_of(&daemon, rule) {
            assert!(
                elapsed_ms(&line) < 1000.0,
                "{rule} kick outlasted its timeout: {line}"
            );
        }
    }
    let hung = lines_of(&daemon, "hung").join("\n");
    assert!(hung.contains("server=still open at timeout"), "{hung}");
    let stale = lines_of(&daemon, "stale").join("\n");
    assert!(
        stale.contains("Connection refused") && stale.contains("hint=a stale socket"),
        "{stale}"
    );
    let fifo = lines_of(&daemon, "fifo").join("\n");
    assert!(fifo.contains("No such device or address"), "{fifo}");
    let replaced_log = lines_of(&daemon, "replaced").join("\n");
    assert!(
        replaced_log.contains("is not a socket or a fifo"),
        "{replaced_log}"
    );
    assert!(daemon.running());
}

/// Run unprivileged against a private/ it cannot enter: the log says why
/// and what to do.
#[test]
fn private_without_permission_names_the_fix() {
    let setup = Setup::new("rules:\n  - name: anvil\n    every: 1h\n    on_start: true\n    kick: private anvil refresh\n");
    let _anvil = SocketServer::start(
        &setup.dir.endpoint("private", "anvil"),
        ServerStyle::UntilNul,
    );
    std::fs::set_permissions(
        setup.dir.queue.join("private"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod");
    let wrapper = as_user(&setup.dir.root, "nobody", "nogroup");
    let daemon = start_through(&wrapper, &setup);
    daemon.wait_for_log("outcome=failed", 1, Duration::from_secs(10));
    let text = daemon.log_text();
    assert!(text.contains("Permission denied"), "{text}");
    assert!(
        text.contains("hint=run postkickd as the postfix user"),
        "{text}"
    );
}

#[test]
fn watched_directory_renamed_away_then_replaced_by_a_symlink() {
    let (setup, watched, pickup) = Setup::watching_incoming();
    let daemon = start(&setup);
    std::fs::rename(&watched, setup.dir.queue.join("incoming.old")).expect("rename away");
    daemon.wait_for_log("watched directory is gone", 1, Duration::from_secs(10));
    let elsewhere = setup.dir.root.join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("mkdir");
    std::os::unix::fs::symlink(&elsewhere, &watched).expect("symlink");
    daemon.wait_for_log("watched directory is back", 1, Duration::from_secs(10));
    let before = pickup.received.count();
    std::fs::write(elsewhere.join("through-the-link"), b"x").expect("write");
    wait_for(
        Duration::from_secs(10),
        "a kick for a file behind the symlink",
        || (pickup.received.count() > before).then_some(()),
    );
}

/// With a tiny inotify queue, a burst while the daemon is stopped overflows
/// it: the overflow counts as an event, and a kick still comes after the
/// last file.
#[test]
fn inotify_queue_overflow_still_kicks_after_the_last_file() {
    let limit_path = "/proc/sys/fs/inotify/max_queued_events";
    let Ok(original) = std::fs::read_to_string(limit_path) else {
        eprintln!("skipped: cannot read {limit_path}");
        return;
    };
    let (setup, watched, pickup) = Setup::watching_incoming();
    let small_limit = INOTIFY_LIMIT.write().unwrap_or_else(|e| e.into_inner());
    if std::fs::write(limit_path, "16").is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs as root and must shrink {limit_path}"
        );
        eprintln!("skipped: cannot shrink {limit_path} (not root)");
        return;
    }
    // The limit is taken when the daemon's inotify instance is created.
    let daemon = setup.start(&[]);
    std::fs::write(limit_path, original.trim()).expect("restore the inotify limit");
    drop(small_limit);
    // Stopped, the daemon reads nothing: the kernel's 16-event queue must
    // overflow during the burst.
    daemon.signal("STOP");
    for i in 0..2000 {
        std::fs::write(watched.join(format!("f{i}")), b"x").expect("write");
    }
    let last_file = std::time::SystemTime::now();
    daemon.signal("CONT");
    wait_for(
        Duration::from_secs(20),
        "a kick after the last file",
        || {
            pickup
                .received
                .log()
                .iter()
                .any(|c| c.accepted > last_file)
                .then_some(())
        },
    );
    assert!(
        daemon.count("inotify queue overflow") >= 1,
        "{}",
        daemon.log_text()
    );
}

/// 100 SIGHUPs in about a second, valid and invalid files alternating: no
/// crash, no lost rule, and the last valid file wins.
#[test]
fn reload_storm_ends_with_the_last_valid_file() {
    let valid = |service: &str| {
        format!("rules:\n  - name: r-{service}\n    every: 50ms\n    kick: public {service} I\n")
    };
    let setup = Setup::new(&valid("first"));
    let first = SocketServer::start(
        &setup.dir.endpoint("public", "first"),
        ServerStyle::UntilNul,
    );
    let last = SocketServer::start(&setup.dir.endpoint("public", "last"), ServerStyle::UntilNul);
    let mut daemon = start(&setup);
    first.received.wait_for(1, Duration::from_secs(10));
    for i in 0..100 {
        if i % 2 == 0 {
            setup.write_rules(
                "rules:\n  - name: broken\n    every: nope\n    kick: public first I\n",
            );
        } else {
            setup.write_rules(&valid("first"));
        }
        daemon.signal("HUP");
        std::thread::sleep(Duration::from_millis(10));
    }
    setup.write_rules(&valid("last"));
    daemon.signal("HUP");
    last.received.wait_for(3, Duration::from_secs(10));
    let settled = first.received.count();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        first.received.count(),
        settled,
        "an old rule survived the storm"
    );
    assert!(daemon.running());
    assert!(daemon.count("reload refused") >= 1);
}

fn check(text: &[u8]) -> (i32, String) {
    let tmp = traversable_tempdir();
    let path = tmp.path().join("rules.yaml");
    std::fs::write(&path, text).expect("write rules");
    let started = Instant::now();
    let output = Command::new(binary())
        .args(["check", "--rules"])
        .arg(&path)
        .output()
        .expect("run check");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "check took {:?}",
        started.elapsed()
    );
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn hostile_rules_files_get_a_clear_error_quickly() {
    let (status, stderr) = check(&vec![b'#'; 2 << 20]);
    assert_eq!(status, 1);
    assert!(
        stderr.contains("more than the 1048576 a rules file may have"),
        "{stderr}"
    );

    let deep = format!("rules: {}{}\n", "[".repeat(20_000), "]".repeat(20_000));
    let (status, stderr) = check(deep.as_bytes());
    assert_eq!(status, 1);
    assert!(stderr.contains("YAML syntax"), "{stderr}");

    let mut laughs = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        laughs.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 9].join(",")
        ));
    }
    laughs.push_str("rules: *i\n");
    let (status, stderr) = check(laughs.as_bytes());
    assert_eq!(status, 1);
    assert!(stderr.contains("YAML syntax"), "{stderr}");

    let (status, stderr) =
        check(b"rules:\n  - name: \xff\xfe\n    every: 1m\n    kick: public qmgr I\n");
    assert_eq!(status, 1);
    assert!(
        stderr.contains("cannot read the rules file") && stderr.contains("UTF-8"),
        "{stderr}"
    );
}

#[test]
fn hostile_names_are_refused_with_a_reason() {
    for (kick, reason) in [
        (
            "{class: public, service: \"a/b\", request: I}",
            "must not contain \"/\"",
        ),
        (
            "{class: \"..\", service: qmgr, request: I}",
            "must not be \".\" or \"..\"",
        ),
        (
            "{class: public, service: \"q\\0m\", request: I}",
            "control characters",
        ),
        (
            "{class: public, service: \"\", request: I}",
            "must not be empty",
        ),
    ] {
        let text = format!("rules:\n  - name: x\n    every: 1m\n    kick: {kick}\n");
        let (status, stderr) = check(text.as_bytes());
        assert_eq!(status, 1, "{kick}");
        assert!(stderr.contains(reason), "{kick}: {stderr}");
    }
    let long = "x".repeat(2000);
    let text = format!("rules:\n  - name: x\n    every: 1m\n    kick: {{class: public, service: qmgr, request: {long}}}\n");
    let (status, stderr) = check(text.as_bytes());
    assert_eq!(status, 1);
    assert!(stderr.contains("read at most 1024"), "{stderr}");
}

/// A service name that makes the socket path 108 bytes or longer: `check`
/// warns, and the daemon's kick fails with the reason and the fix.
#[test]
fn socket_paths_too_long_for_sockaddr_un_are_reported() {
    let service = "s".repeat(110);
    let setup = Setup::new(&format!(
        "rules:\n  - name: long\n    every: 1h\n    on_start: true\n    kick: public {service} I\n"
    ));
    let real = setup.dir.endpoint("private", "real");
    let _server = SocketServer::start(&real, ServerStyle::UntilNul);
    std::os::unix::fs::symlink(&real, setup.dir.endpoint("public", &service)).expect("symlink");
    let output = Command::new(binary())
        .args(["check", "--rules"])
        .arg(&setup.rules)
        .output()
        .expect("run check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("UNIX-domain socket paths must be shorter than 108"),
        "{stderr}"
    );
    let daemon = start(&setup);
    daemon.wait_for_log("outcome=failed", 1, Duration::from_secs(10));
    let text = daemon.log_text();
    assert!(
        text.contains("unix-domain name too long") && text.contains("hint=shorten queue_directory"),
        "{text}"
    );
}

/// A watched directory on overlayfs (where inotify misses changes made in
/// the lower layers): a start-up warning that names the fix, unless the
/// rule already polls.
#[test]
fn blind_file_systems_are_named_at_start_up() {
    if !common::have_program("unshare") {
        return;
    }
    let setup = Setup::new("rules: []\n");
    let layers = setup.dir.root.join("overlay");
    for part in ["lower", "upper", "work", "merged"] {
        std::fs::create_dir_all(layers.join(part)).expect("mkdir");
    }
    let merged = layers.join("merged");
    let wrapper = setup.dir.root.join("in-overlay.sh");
    common::write_script(
        &wrapper,
        &format!(
            "#!/bin/sh\nexec unshare -m sh -c 'mount -t overlay overlay -o lowerdir={l},upperdir={u},workdir={w} {m} && exec \"$0\" \"$@\"' {bin} \"$@\"\n",
            l = layers.join("lower").display(),
            u = layers.join("upper").display(),
            w = layers.join("work").display(),
            m = merged.display(),
            bin = binary().display(),
        ),
    );
    for (poll, warned) in [("", true), ("    poll: 30s\n", false)] {
        setup.write_rules(&format!(
            "rules:\n  - name: drop\n    watch: {}\n{poll}    kick: public pickup W\n",
            merged.display()
        ));
        let daemon = start_through(&wrapper, &setup);
        let text = daemon.log_text();
        assert_eq!(
            text.contains(
                "is on overlay, where inotify misses changes made elsewhere: add \"poll: 30s\""
            ),
            warned,
            "{text}"
        );
    }
}
