//! Asking the running daemon: `status`, `kick`, the control socket's
//! bounds, and SIGUSR1.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use postkick_testkit::daemon::postkickd;
use postkick_testkit::rules::Setup;
use postkick_testkit::{wait_for, HoldingServer};
use serde_json::Value;

fn rule<'s>(status: &'s Value, name: &str) -> &'s Value {
    status["rules"]
        .as_array()
        .and_then(|rules| rules.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no rule {name} in {status}"))
}

#[test]
fn status_shows_delivered_failed_and_a_refused_reload_and_exits_2_while_failing() {
    let setup = Setup::new(
        "rules:\n  - name: good\n    every: 1h\n    on_start: true\n    kick: public qmgr I\n  - name: bad\n    every: 1h\n    on_start: true\n    kick: public nothere W\n",
    );
    let _qmgr = setup.socket("public", "qmgr");
    let (daemon, control) = setup.start_with_control();
    let control_arg = control.as_str();
    daemon.wait_for_event("outcome", "failed", 1, Duration::from_secs(10));
    daemon.wait_for_event("outcome", "delivered", 1, Duration::from_secs(10));
    setup.write_rules("rules:\n  - name: broken\n    every: never\n    kick: public qmgr I\n");
    daemon.signal("HUP");
    daemon.wait_for_event("event", "reload_refused", 1, Duration::from_secs(10));
    let (status, stdout, stderr) = postkickd(&["status", "--json", "--control", control_arg]);
    assert_eq!(status, 2, "a failing rule is critical: {stderr}");
    assert!(
        stderr.contains("postkickd: CRITICAL: rule bad is failing")
            && stderr.contains("postkickd: WARNING: the last reload")
            && stderr.find("CRITICAL") < stderr.find("WARNING"),
        "{stderr}"
    );
    let document: Value = serde_json::from_str(&stdout).expect("JSON");
    let good = rule(&document, "good");
    assert_eq!(good["last_kick"]["outcome"], "delivered");
    assert_eq!(good["delivered"], 1);
    assert_eq!(good["consecutive_failures"], 0);
    let bad = rule(&document, "bad");
    assert_eq!(bad["last_kick"]["outcome"], "failed");
    assert_eq!(bad["consecutive_failures"], 1);
    assert!(
        bad["last_kick"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("unable to look up")),
        "{bad}"
    );
    assert_eq!(document["last_reload"]["result"], "refused");
    assert!(document["last_reload"]["error"]
        .as_str()
        .is_some_and(|e| e.contains("bad duration \"never\"")));
    assert_eq!(document["reloads"]["refused"], 1);
    assert_eq!(document["reloads"]["ok"], 0);
    assert_eq!(document["pid"], daemon.pid());
    let (_, metrics, _) = postkickd(&["status", "--metrics", "--control", control_arg]);
    for line in [
        "postkickd_kicks_total{rule=\"good\",outcome=\"delivered\"} 1",
        "postkickd_kicks_total{rule=\"bad\",outcome=\"failed\"} 1",
        "postkickd_reloads_total{result=\"refused\"} 1",
        "postkickd_reloads_total{result=\"ok\"} 0",
        "postkickd_rule_failing{rule=\"bad\"} 1",
        // Up to the longest timeout a rule may have.
        "postkickd_kick_duration_seconds_bucket{rule=\"good\",le=\"3600\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }
    // A raw kick has no answer: no series for the flush service's.
    assert!(!metrics.contains("outcome=\"ok\""), "{metrics}");
    let (_, table, _) = postkickd(&["status", "--control", control_arg]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("bad ") && l.contains("failed")),
        "{table}"
    );
    assert!(table.contains("last reload refused"), "{table}");
}

#[test]
fn kick_fires_a_rule_through_the_daemon() {
    let setup = Setup::new("rules:\n  - name: manual\n    every: 1h\n    kick: public qmgr D\n");
    let qmgr = setup.socket("public", "qmgr");
    let (_daemon, control) = setup.start_with_control();
    let control_arg = control.as_str();
    let (status, stdout, stderr) = postkickd(&["kick", "manual", "--control", control_arg]);
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stdout.starts_with("manual: delivered after 1 attempt"),
        "{stdout}"
    );
    assert_eq!(qmgr.received.connections(), vec![b"D\0".to_vec()]);
    let (status, _, stderr) = postkickd(&["kick", "nosuchrule", "--control", control_arg]);
    assert_eq!(status, 1);
    assert!(stderr.contains("no rule \"nosuchrule\""), "{stderr}");
}

/// `kick RULE` while a kick of the rule is in flight reports its own kick,
/// the one after, not the one that was already going.
#[test]
fn kick_during_a_kick_in_flight_waits_for_its_own() {
    let setup = Setup::new(
        "rules:\n  - name: slow\n    every: 1h\n    on_start: true\n    timeout: 10s\n    kick: public qmgr I\n",
    );
    let qmgr = HoldingServer::start(
        &setup.dir.endpoint("public", "qmgr"),
        Duration::from_secs(1),
    );
    let (_daemon, control) = setup.start_with_control();
    let control_arg = control.as_str();
    wait_for(Duration::from_secs(10), "the start kick in flight", || {
        let (_, stdout, _) = postkickd(&["status", "--json", "slow", "--control", control_arg]);
        let status: Value = serde_json::from_str(&stdout).ok()?;
        (status["rules"][0]["in_flight"] == true).then_some(())
    });
    let (status, stdout, stderr) = postkickd(&["kick", "slow", "--control", control_arg]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stdout.starts_with("slow: delivered"), "{stdout}");
    assert_eq!(
        qmgr.served().len(),
        2,
        "kick answered before its own kick ended"
    );
    assert_eq!(qmgr.overlaps(), 0);
}

#[test]
fn garbage_and_half_sent_requests_get_an_error_and_the_daemon_keeps_kicking() {
    let setup = Setup::new("rules:\n  - name: tick\n    every: 100ms\n    kick: public qmgr I\n");
    let qmgr = setup.socket("public", "qmgr");
    let (daemon, control) = setup.start_with_control();
    let answer = |request: &[u8], finish: bool| {
        let mut stream = UnixStream::connect(&control).expect("connect");
        stream.write_all(request).expect("send");
        if finish {
            stream
                .shutdown(std::net::Shutdown::Write)
                .expect("shutdown");
        }
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        text
    };
    assert!(answer(b"\xff\xfe\x00garbage\n", true).contains("\"error\""));
    assert!(answer(&[b'x'; 10_000], true).contains("at most 256 bytes"));
    // Half a request, then silence: the daemon gives up after 2 s.
    assert!(answer(b"stat", false).contains("no request within 2 s"));
    let before = qmgr.received.count();
    wait_for(Duration::from_secs(10), "more kicks", || {
        (qmgr.received.count() > before + 3).then_some(())
    });
    daemon.signal("USR1");
    daemon.wait_for_event("event", "status", 2, Duration::from_secs(10));
    let mut daemon = daemon;
    assert!(daemon.running(), "SIGUSR1 stopped the daemon");
}

/// The metrics pass Prometheus' own checker.
#[test]
fn metrics_pass_promtool() {
    if !postkick_testkit::require("promtool", postkick_testkit::have_program("promtool")) {
        return;
    }
    let setup = Setup::new(
        "rules:\n  - name: good\n    every: 1h\n    on_start: true\n    kick: public qmgr I\n  - name: \"odd.name-1\"\n    every: 1h\n    on_start: true\n    kick: public nothere W\n",
    );
    let _qmgr = setup.socket("public", "qmgr");
    let (daemon, control) = setup.start_with_control();
    let control_arg = control.as_str();
    daemon.wait_for_event("outcome", "failed", 1, Duration::from_secs(10));
    daemon.wait_for_event("outcome", "delivered", 1, Duration::from_secs(10));
    let (status, metrics, stderr) = postkickd(&["status", "--metrics", "--control", control_arg]);
    assert_eq!(status, 0, "{stderr}");
    assert!(
        metrics.contains("postkickd_kicks_total{rule=\"good\",outcome=\"delivered\"} 1"),
        "{metrics}"
    );
    promtool_accepts(&metrics);
}

/// The shipped alerting rules pass promtool's checks and their unit
/// tests (each alert firing and quiet), and name only metrics the daemon
/// exports.
#[test]
fn shipped_alert_rules_pass_promtool_and_name_real_metrics() {
    if !postkick_testkit::require("promtool", postkick_testkit::have_program("promtool")) {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("prometheus");
    for args in [
        ["check", "rules", "postkickd.rules.yml"],
        ["test", "rules", "postkickd.rules.test.yml"],
    ] {
        let output = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("promtool");
        assert!(
            output.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let setup = Setup::new(
        "rules:\n  - name: good\n    every: 1h\n    on_start: true\n    expect_success_within: 2h\n    kick: public qmgr I\n  - name: drop\n    watch: incoming\n    drain_within: 1m\n    kick: public qmgr I\n",
    );
    std::fs::create_dir(setup.dir.queue.join("incoming")).expect("mkdir");
    let _qmgr = setup.socket("public", "qmgr");
    let (daemon, control) = setup.start_with_control();
    daemon.wait_for_event("outcome", "delivered", 1, Duration::from_secs(10));
    let (_, metrics, _) = postkickd(&["status", "--metrics", "--control", &control]);
    let rules = std::fs::read_to_string(dir.join("postkickd.rules.yml")).expect("rules");
    let named: std::collections::BTreeSet<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with("postkickd_"))
        .collect();
    for name in named {
        assert!(
            metrics.contains(&format!("# TYPE {name} ")),
            "the alert rules name {name}, which the daemon does not export:\n{metrics}"
        );
    }
}

/// `promtool check metrics` passes `metrics`.
pub(crate) fn promtool_accepts(metrics: &str) {
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start promtool");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(metrics.as_bytes())
        .expect("feed promtool");
    let output = promtool.wait_with_output().expect("promtool ran");
    assert!(
        output.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn kicks_caused_by(daemon: &postkick_testkit::daemon::Daemon, prefix: &str) -> usize {
    daemon
        .events()
        .iter()
        .filter(|e| {
            e.get("outcome").is_some() && e.get("cause").is_some_and(|c| c.starts_with(prefix))
        })
        .count()
}

/// A cron slot that passed while the daemon was down fires once at start
/// with `catch_up: true`: the state file really is written at stop and read
/// at start (the rule without `catch_up`, a long gap, restarts and the
/// rhythm of `every` are unit tests of the timers on a simulated clock).
#[test]
fn catch_up_fires_once_for_slots_missed_while_down() {
    let setup = Setup::new(
        "rules:\n  - name: often\n    cron: \"*/2 * * * * *\"\n    catch_up: true\n    kick: public qmgr I\n",
    );
    let _qmgr = setup.socket("public", "qmgr");
    let state = setup.dir.root.join("state");
    let state_arg = state.to_str().expect("utf8");
    let first = setup.start(&["--state", state_arg]);
    first.wait_for_event("outcome", "delivered", 1, Duration::from_secs(10));
    let (status, _) = first.stop_with("TERM");
    assert_eq!(status.code(), Some(0));
    assert!(state.exists(), "no state file");
    // Two slots pass while the daemon is down.
    std::thread::sleep(Duration::from_millis(4500));
    let second = setup.start(&["--state", state_arg]);
    // A catch-up kick comes at start, before the first slot's.
    wait_for(Duration::from_secs(10), "a slot's kick", || {
        (second
            .events()
            .iter()
            .filter(|e| e.get("outcome").is_some())
            .count()
            > kicks_caused_by(&second, "catch up"))
        .then_some(())
    });
    assert_eq!(
        kicks_caused_by(&second, "catch up"),
        1,
        "{}",
        second.log_text()
    );
}

/// `metrics_file:` is written for node_exporter's textfile collector, and
/// passes promtool too.
#[test]
fn the_metrics_file_is_written_whole() {
    let setup = Setup::new(
        "rules:\n  - name: good\n    every: 1h\n    on_start: true\n    kick: public qmgr I\n",
    );
    let _qmgr = setup.socket("public", "qmgr");
    let file = setup.dir.root.join("postkickd.prom");
    setup.write_rules(&format!(
        "metrics_file: {}\nrules:\n  - name: good\n    every: 1h\n    on_start: true\n    kick: public qmgr I\n",
        file.display()
    ));
    let daemon = setup.start(&[]);
    daemon.wait_for_event("outcome", "delivered", 1, Duration::from_secs(10));
    let (status, _) = daemon.stop_with("TERM");
    assert_eq!(status.code(), Some(0));
    let text = std::fs::read_to_string(&file).expect("the metrics file");
    assert!(
        text.contains("postkickd_kicks_total{rule=\"good\",outcome=\"delivered\"} 1"),
        "{text}"
    );
    assert!(!file.with_extension("prom.tmp").exists());
    if postkick_testkit::have_program("promtool") {
        promtool_accepts(&text);
    }
    setup.write_rules("metrics_file: relative.prom\nrules:\n  - name: good\n    every: 1h\n    kick: public qmgr I\n");
    let (status, _, stderr) = postkickd(&["check", "--rules", setup.rules.to_str().expect("utf8")]);
    assert_eq!(status, 1);
    assert!(
        stderr.contains("must be an absolute path ending in .prom"),
        "{stderr}"
    );
}

/// A quiet rule's delivered kicks are counted but logged at debug only;
/// its failures stay visible.
#[test]
fn quiet_rules_log_only_failures() {
    let setup = Setup::new(
        "defaults:\n  quiet: true\nrules:\n  - name: busy\n    every: 100ms\n    kick: public qmgr I\n  - name: broken\n    every: 1h\n    on_start: true\n    kick: public nothere W\n",
    );
    let qmgr = setup.socket("public", "qmgr");
    let daemon = setup.start(&[]);
    qmgr.received.wait_for(3, Duration::from_secs(10));
    daemon.wait_for_event("outcome", "failed", 1, Duration::from_secs(10));
    assert_eq!(
        daemon.count_where("outcome", "delivered"),
        0,
        "{}",
        daemon.log_text()
    );
}

/// systemd's STATUS= follows the counters: rules, kicks, failing rules.
#[test]
fn systemd_status_line_follows_the_counters() {
    let setup = Setup::new(
        "rules:\n  - name: good\n    every: 100ms\n    kick: public qmgr I\n  - name: bad\n    every: 1h\n    on_start: true\n    kick: public nothere W\n",
    );
    let _qmgr = setup.socket("public", "qmgr");
    let socket_path = setup.dir.root.join("notify.sock");
    let systemd = std::os::unix::net::UnixDatagram::bind(&socket_path).expect("bind notify socket");
    systemd
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let _daemon = postkick_testkit::daemon::Daemon::start_with_env(
        &setup.rules,
        &[],
        &setup.dir.root.join("daemon.log"),
        &[("NOTIFY_SOCKET", socket_path.to_str().expect("utf8"))],
    );
    let mut buf = [0u8; 4096];
    let line = wait_for(
        Duration::from_secs(10),
        "a STATUS= with the counters",
        || {
            let n = systemd.recv(&mut buf).ok()?;
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            message
                .lines()
                .find(|l| l.starts_with("STATUS=2 rules, ") && l.contains("failing: bad"))
                .map(str::to_owned)
        },
    );
    assert!(line.contains(" kicks, "), "{line}");
}

/// The control socket is the daemon's own: a second daemon on the same
/// path is refused before it kicks anything and the first answers on; a
/// path that is not a socket is never touched; a stale socket is replaced;
/// the socket goes when the daemon stops.
#[test]
fn the_control_socket_is_owned() {
    let setup = Setup::new(
        "rules:\n  - name: once\n    every: 1h\n    on_start: true\n    kick: public qmgr I\n",
    );
    let qmgr = setup.socket("public", "qmgr");
    let (first, control) = setup.start_with_control();
    qmgr.received.wait_for(1, Duration::from_secs(10));
    let rules = setup.rules.to_str().expect("utf8");
    let (status, _, stderr) = postkickd(&["run", "--rules", rules, "--control", &control]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("another postkickd answers"), "{stderr}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(qmgr.received.count(), 1, "the refused daemon kicked");
    let (status, _, stderr) = postkickd(&["status", "--control", &control]);
    assert_eq!(status, 0, "{stderr}");

    let (status, _) = first.stop_with("TERM");
    assert_eq!(status.code(), Some(0));
    assert!(
        !std::path::Path::new(&control).exists(),
        "the socket stayed"
    );

    let file = setup.dir.root.join("not-a-socket");
    std::fs::write(&file, "keep me").expect("write");
    let shown = file.to_str().expect("utf8");
    let (status, _, stderr) = postkickd(&["run", "--rules", rules, "--control", shown]);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("is a file, not a control socket"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "keep me");

    // A socket nobody answers on, as a daemon killed with SIGKILL leaves.
    drop(std::os::unix::net::UnixListener::bind(&control).expect("bind"));
    let second = setup.start(&["--control", &control]);
    let (status, _, stderr) = postkickd(&["status", "--control", &control]);
    assert_eq!(status, 0, "{stderr}");
    drop(second);
}

/// A reader that goes away early (`| head -c 1`) ends the output
/// quietly: no panic, and the command's own exit status.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    // Enough rules for the table to overflow a pipe's buffer.
    let rules: String = (0..1500)
        .map(|i| format!("  - name: tick-{i}\n    every: 1h\n    kick: public qmgr I\n"))
        .collect();
    let setup = Setup::new(&format!("rules:\n{rules}"));
    let (daemon, control) = setup.start_with_control();
    let rules = setup.rules.to_str().expect("utf8");
    for command in [
        format!("status --control {control}"),
        format!("status --json --control {control}"),
        format!("next --rules {rules} --count 20"),
    ] {
        let output = Command::new("bash")
            .args(["-o", "pipefail", "-c"])
            .arg(format!(
                "{} {command} | head -c 1 >/dev/null",
                postkick_testkit::daemon::binary().display()
            ))
            .output()
            .expect("bash");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.is_empty(), "{command}: {stderr}");
        assert!(output.status.success(), "{command}: {:?}", output.status);
    }
    drop(daemon);
}

/// Control clients that never ask, and clients that ask `metrics` and
/// never read, all at once under a small descriptor limit: the timer's
/// kicks all go out, the daemon stays within its descriptors without
/// spinning, and answers again once they are gone.
#[test]
fn idle_and_non_reading_clients_cannot_starve_the_kicks() {
    use postkick_testkit::proc::{cpu_ticks, open_fds};
    // Enough rules for the metrics to overflow a socket's buffer.
    let quiet: String = (0..300)
        .map(|i| format!("  - name: hourly-{i}\n    every: 1h\n    kick: public qmgr I\n"))
        .collect();
    let setup = Setup::new(&format!(
        "rules:\n  - name: tick\n    every: 1s\n    kick: public pickup W\n{quiet}"
    ));
    let pickup = setup.socket("public", "pickup");
    let _qmgr = setup.socket("public", "qmgr");
    let limited = setup.dir.root.join("limited");
    postkick_testkit::write_script(
        &limited,
        &format!(
            "#!/bin/sh\nulimit -n 128\nexec {} \"$@\"\n",
            postkick_testkit::daemon::binary().display()
        ),
    );
    let control = setup.dir.root.join("control");
    let daemon = postkick_testkit::daemon::Daemon::start_with_program(
        &limited,
        &setup.rules,
        &["--control", control.to_str().expect("utf8")],
        &setup.dir.root.join("daemon.log"),
    );
    pickup.received.wait_for(1, Duration::from_secs(10));
    let mut clients = Vec::new();
    for i in 0..250 {
        let mut client = UnixStream::connect(&control).expect("connect");
        if i % 2 == 0 {
            client.write_all(b"metrics\n").expect("ask");
        }
        clients.push(client);
    }
    let (kicks_before, cpu_before) = (pickup.received.count(), cpu_ticks(daemon.pid()));
    let mut most_fds = 0;
    let held = std::time::Instant::now();
    while held.elapsed() < Duration::from_secs(4) {
        most_fds = most_fds.max(open_fds(daemon.pid()));
        std::thread::sleep(Duration::from_millis(50));
    }
    let seconds = held.elapsed().as_secs_f64();
    let cpu = (cpu_ticks(daemon.pid()) - cpu_before) as f64 / 100.0 / seconds;
    let kicks = pickup.received.count() - kicks_before;
    assert!(
        kicks >= 2,
        "{kicks} kicks in {seconds:.1} s among the clients"
    );
    assert!(most_fds <= 100, "{most_fds} descriptors open (limit 128)");
    assert!(
        cpu < 0.5,
        "the daemon used {cpu:.2} of a core among the clients"
    );
    drop(clients);
    let document: Value = wait_for(Duration::from_secs(60), "status after the clients", || {
        let (status, stdout, _) = postkickd(&["status", "--json", "--control", control.to_str()?]);
        (status == 0).then(|| serde_json::from_str(&stdout).ok())?
    });
    assert_eq!(rule(&document, "tick")["failed"], 0, "{document}");
    assert!(
        daemon.events_where("outcome", "failed").is_empty(),
        "{}",
        daemon.log_text()
    );
}

/// A daemon that takes the request and never answers: `status` says so
/// in bounded time instead of blaming a daemon that is not running.
#[test]
fn a_silent_daemon_is_reported_as_silent() {
    let tmp = postkick_testkit::traversable_tempdir();
    let control = tmp.path().join("control");
    let _silent = HoldingServer::start(&control, Duration::from_secs(60));
    let started = std::time::Instant::now();
    let (status, _, stderr) = postkickd(&["status", "--control", control.to_str().expect("utf8")]);
    assert_eq!(status, 2, "a silent daemon is critical: {stderr}");
    assert!(stderr.contains("sent no answer within 10 s"), "{stderr}");
    assert!(!stderr.contains("is it running"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

/// `status` exits as monitoring-plugins' checks do: 0 when all is well, 1
/// after a refused reload (the old rules run on), 2 while a directory
/// holds files past drain_within or nothing answers, each reason on
/// stderr.
#[test]
fn status_exits_as_monitoring_reads_it() {
    let (setup, watched, _pickup) = Setup::watching_incoming();
    setup.write_rules(
        "rules:\n  - name: drop\n    watch: incoming\n    drain_within: 300ms\n    kick: public pickup W\n",
    );
    let (daemon, control) = setup.start_with_control();
    let (status, _, stderr) = postkickd(&["status", "--control", &control]);
    assert_eq!((status, stderr.as_str()), (0, ""));

    setup.write_rules("rules:\n  - name: broken\n    every: never\n    kick: public qmgr I\n");
    daemon.signal("HUP");
    daemon.wait_for_event("event", "reload_refused", 1, Duration::from_secs(10));
    let (status, _, stderr) = postkickd(&["status", "--control", &control]);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.starts_with("postkickd: WARNING: the last reload") && stderr.contains("still run"),
        "{stderr}"
    );

    // pickup (a fake) takes nothing: the file stays past drain_within.
    std::fs::write(watched.join("stuck"), "x").expect("drop");
    daemon.wait_for_event("event", "not_draining", 1, Duration::from_secs(10));
    let (status, _, stderr) = postkickd(&["status", "--json", "--control", &control]);
    assert_eq!(status, 2, "{stderr}");
    assert!(
        stderr.contains("CRITICAL: rule drop: 1 file waiting past drain_within"),
        "{stderr}"
    );

    drop(daemon);
    let (status, _, stderr) = postkickd(&["status", "--control", &control]);
    assert_eq!(status, 2, "no daemon is critical: {stderr}");
    assert!(
        stderr.contains("CRITICAL: cannot reach postkickd"),
        "{stderr}"
    );

    // An instance whose main.cf cannot be read to name its daemon: unknown.
    let missing = setup.dir.root.join("no-such-config");
    let (status, _, stderr) = postkickd(&["status", "-c", &missing.display().to_string()]);
    assert_eq!(status, 3, "{stderr}");
    assert!(
        stderr.contains("UNKNOWN: ") && stderr.contains("no-such-config/main.cf"),
        "{stderr}"
    );
}
