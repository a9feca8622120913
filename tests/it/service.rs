//! The hardened service still does its job: the unit passes systemd's own
//! checks, endpoints on a read-only mount still take kicks, and the daemon
//! running as the `postfix` user kicks a real Postfix.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use postkick_testkit::daemon::{as_user, binary, Daemon};
use postkick_testkit::{
    our_postkick, postfix, postfix_installed, traversable_tempdir, FifoServer, QueueDir,
    ServerStyle, SocketServer,
};

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/postkickd.service");

/// The unit with its binary pointed at the one this build made.
fn unit_copy(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(UNIT).expect("read unit");
    let text = text.replace("/usr/sbin/postkickd", binary().to_str().expect("utf8"));
    let path = dir.join("postkickd.service");
    std::fs::write(&path, text).expect("write unit");
    path
}

#[test]
fn unit_passes_systemd_analyze_verify() {
    if !postkick_testkit::have_program("systemd-analyze") {
        return;
    }
    let tmp = traversable_tempdir();
    let unit = unit_copy(tmp.path());
    let output = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit)
        .output()
        .expect("run systemd-analyze");
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn unit_exposure_is_at_most_1_5() {
    if !postkick_testkit::have_program("systemd-analyze") {
        return;
    }
    let tmp = traversable_tempdir();
    let unit = unit_copy(tmp.path());
    let output = Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&unit)
        .output()
        .expect("run systemd-analyze");
    let text = String::from_utf8_lossy(&output.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for postkickd.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in:\n{text}"));
    assert!(score <= 1.5, "exposure {score}");
}

/// `ProtectSystem=strict` leaves the queue read-only: connecting to a
/// socket and opening a FIFO must still work there.
#[test]
fn endpoints_on_a_read_only_bind_mount_still_take_kicks() {
    if !postkick_testkit::have_program("unshare") {
        return;
    }
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), "queue_directory = {queue}\n");
    let qmgr = SocketServer::start(&dir.endpoint("public", "qmgr"), ServerStyle::UntilNul);
    let mut pickup = FifoServer::start(&dir.endpoint("public", "pickup"));
    let queue = dir.queue.display().to_string();
    let kick = format!("{} -c {}", our_postkick().display(), dir.config.display());
    let script = format!(
        "set -e; mount --bind {queue} {queue}; mount -o remount,bind,ro {queue}; \
         if touch {queue}/probe 2>/dev/null; then echo 'not read-only' >&2; exit 9; fi; \
         {kick} public qmgr I; {kick} public pickup W"
    );
    let output = Command::new("unshare")
        .args(["--mount", "sh", "-c", &script])
        .output()
        .expect("run unshare");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(qmgr.received.connections(), vec![b"I\0".to_vec()]);
    assert_eq!(pickup.drain(), b"W");
}

/// The daemon as the unit runs it (user postfix, group postdrop) kicks a
/// real Postfix's public/pickup and private/anvil.
#[test]
fn unprivileged_daemon_kicks_a_real_postfix() {
    if !postfix_installed("unprivileged_daemon_kicks_a_real_postfix")
        || !postkick_testkit::have_program("setpriv")
    {
        return;
    }
    let instance = postfix::Instance::start(&postfix::Options::default());
    let rules = instance.write_rules("rules:\n  - name: pickup\n    every: 1h\n    on_start: true\n    kick: public pickup W\n  - name: anvil\n    every: 1h\n    on_start: true\n    kick: private anvil refresh\n  - name: maildrop\n    watch: maildrop\n    kick: public pickup W\n");
    let log = instance.root.join("daemon.log");
    let wrapper = as_user(&instance.root, "postfix", "postdrop");
    let daemon = Daemon::start_with_program(&wrapper, &rules, &[], &log);
    daemon.wait_for_event("rule", "pickup", 1, Duration::from_secs(10));
    daemon.wait_for_event("rule", "anvil", 1, Duration::from_secs(10));
    assert_eq!(
        daemon.count_where("outcome", "delivered"),
        2,
        "{}",
        daemon.log_text()
    );
    instance.wait_for_log(
        "premature end-of-input on anvil socket while reading input attribute name",
        1,
        Duration::from_secs(30),
    );
    instance.wait_for_log(
        "trigger_server_accept_local: trigger arrived",
        1,
        Duration::from_secs(30),
    );
    let status = Command::new("ps")
        .args(["-o", "user=,group=", "-p", &daemon.pid().to_string()])
        .output()
        .expect("ps");
    let owner = String::from_utf8_lossy(&status.stdout);
    assert_eq!(
        owner.split_whitespace().collect::<Vec<_>>(),
        ["postfix", "postdrop"]
    );
}
