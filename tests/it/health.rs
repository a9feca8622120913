//! The running daemon names the broken link of Postfix's path, against a
//! private Postfix, within twice `drain_within` (2 s) of each fault:
//! pickup commented out of master.cf, master stopped, the public/pickup
//! endpoint removed (each in the kick's error and the `not_draining`
//! warning as well as `status`), the maildrop's mode wrong, qmgr commented
//! out, showq removed from master.cf (in `status`, which exits 2). And no
//! false alarm while a thousand messages flow.

use std::process::Command;
use std::time::{Duration, Instant};

use postkick_testkit::daemon::{postkickd, Daemon};
use postkick_testkit::{postfix, postfix_installed, wait_for};

const DRAIN_WITHIN: Duration = Duration::from_secs(2);

fn rules(instance: &postfix::Instance) -> std::path::PathBuf {
    instance.write_rules(
        "rules:\n  - name: drop\n    watch: maildrop\n    drain_within: 2s\n    retry: {attempts: 1}\n    kick: public pickup W\n",
    )
}

/// A private Postfix whose pickup never polls, and a daemon watching its
/// maildrop; the daemon's control socket.
fn watched(options: postfix::Options) -> (postfix::Instance, Daemon, String) {
    let instance = postfix::Instance::start(&postfix::Options {
        pickup_wakeup: Some("-"),
        ..options
    });
    let control = instance.root.join("control").display().to_string();
    let daemon = Daemon::start(
        &rules(&instance),
        &["--control", &control],
        &instance.root.join("daemon.log"),
    );
    (instance, daemon, control)
}

/// Waits until `status` exits 2 naming every one of `says`; within twice
/// drain_within of `since`.
fn status_names(control: &str, since: Instant, says: &[&str]) {
    let (mut last_status, mut last) = (0, String::new());
    while since.elapsed() < DRAIN_WITHIN * 2 {
        let (status, _, stderr) = postkickd(&["status", "--control", control]);
        if status == 2 && says.iter().all(|s| stderr.contains(s)) {
            return;
        }
        (last_status, last) = (status, stderr);
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "status did not name {says:?} within {:?}: {last_status} {last}",
        DRAIN_WITHIN * 2
    );
}

/// A message dropped into the maildrop as postdrop does (Postfix's own
/// sendmail, with pickup's notification going nowhere).
fn drop_message(instance: &postfix::Instance) {
    let submit = instance.sendmail_config("nowhere");
    instance.sendmail(&submit, "fault");
}

/// The daemon's `event`s (or failed kicks) naming all of `says`, within
/// twice drain_within of `since`.
fn log_names(daemon: &Daemon, field: &str, value: &str, since: Instant, says: &[&str]) {
    let left = (since + DRAIN_WITHIN * 2).saturating_duration_since(Instant::now());
    wait_for(left, &format!("a {value} naming {says:?}"), || {
        daemon.events_where(field, value).into_iter().find(|e| {
            let text = format!(
                "{} {}",
                e.get("message").unwrap_or_default(),
                e.get("hint").unwrap_or_default()
            );
            says.iter().all(|s| text.contains(s))
        })
    });
}

#[test]
fn pickup_commented_out_is_named_where_the_admin_looks() {
    if !postfix_installed("pickup_commented_out_is_named_where_the_admin_looks") {
        return;
    }
    let (instance, daemon, control) = watched(postfix::Options {
        pickup_disabled: true,
        ..postfix::Options::default()
    });
    let since = Instant::now();
    drop_message(&instance);
    let says = [
        "pickup is not in",
        "(commented out at line",
        "restore that entry, then postfix reload",
    ];
    log_names(&daemon, "outcome", "failed", since, &says);
    log_names(&daemon, "event", "not_draining", since, &says);
    status_names(&control, since, &says);
}

#[test]
fn a_stopped_master_is_named_where_the_admin_looks() {
    if !postfix_installed("a_stopped_master_is_named_where_the_admin_looks") {
        return;
    }
    let (instance, daemon, control) = watched(postfix::Options::default());
    instance.stop();
    let since = Instant::now();
    drop_message(&instance);
    let says = ["Postfix is not running: no master process", "start"];
    log_names(&daemon, "outcome", "failed", since, &says);
    log_names(&daemon, "event", "not_draining", since, &says);
    status_names(&control, since, &says);
}

#[test]
fn a_removed_pickup_endpoint_is_named_where_the_admin_looks() {
    if !postfix_installed("a_removed_pickup_endpoint_is_named_where_the_admin_looks") {
        return;
    }
    let (instance, daemon, control) = watched(postfix::Options::default());
    std::fs::remove_file(instance.queue_path("public/pickup")).expect("rm");
    let since = Instant::now();
    drop_message(&instance);
    let says = [
        "public/pickup is not usable while master runs",
        "postfix reload",
    ];
    log_names(&daemon, "outcome", "failed", since, &says);
    log_names(&daemon, "event", "not_draining", since, &says);
    status_names(&control, since, &says);
}

#[test]
fn a_maildrop_with_the_wrong_mode_is_named_by_status() {
    if !postfix_installed("a_maildrop_with_the_wrong_mode_is_named_by_status") {
        return;
    }
    let (instance, _daemon, control) = watched(postfix::Options::default());
    std::fs::set_permissions(
        instance.queue_path("maildrop"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    status_names(
        &control,
        Instant::now(),
        &["maildrop", "0755", "set-permissions"],
    );
}

fn postconf_and_reload(instance: &postfix::Instance, args: &[&str]) {
    let c = instance.config_str();
    assert!(Command::new("postconf")
        .args(["-c", c])
        .args(args)
        .status()
        .expect("postconf")
        .success());
    let output = Command::new("postfix")
        .args(["-c", c, "reload"])
        .output()
        .expect("reload");
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn qmgr_commented_out_is_named_by_status() {
    if !postfix_installed("qmgr_commented_out_is_named_by_status") {
        return;
    }
    let (instance, _daemon, control) = watched(postfix::Options::default());
    postconf_and_reload(&instance, &["-M#", "qmgr/unix"]);
    status_names(
        &control,
        Instant::now(),
        &["qmgr is not in", "(commented out at line"],
    );
}

#[test]
fn showq_removed_is_named_by_status() {
    if !postfix_installed("showq_removed_is_named_by_status") {
        return;
    }
    let (instance, _daemon, control) = watched(postfix::Options::default());
    postconf_and_reload(&instance, &["-MX", "showq/unix"]);
    status_names(
        &control,
        Instant::now(),
        &["showq is not in", "add showq back"],
    );
}

/// A thousand messages through sendmail while drain_within is 2 s: no
/// warning, every kick delivered, status clean.
#[test]
fn a_thousand_messages_raise_no_false_alarm() {
    if !postfix_installed("a_thousand_messages_raise_no_false_alarm") {
        return;
    }
    let instance = postfix::Instance::start(&postfix::Options::default());
    let control = instance.root.join("control").display().to_string();
    let daemon = Daemon::start(
        &rules(&instance),
        &["--control", &control],
        &instance.root.join("daemon.log"),
    );
    let submit = instance.sendmail_config("pickup");
    let started = Instant::now();
    for i in 0..1000 {
        instance.sendmail(&submit, &format!("flow {i}"));
    }
    let maildrop = instance.queue_path("maildrop");
    wait_for(Duration::from_secs(60), "the maildrop to empty", || {
        (std::fs::read_dir(&maildrop).map(|d| d.count()).unwrap_or(1) == 0).then_some(())
    });
    // A whole drain look more, after the last message.
    std::thread::sleep(DRAIN_WITHIN);
    let took = started.elapsed();
    assert_eq!(
        daemon.count_where("event", "not_draining"),
        0,
        "{}",
        daemon.log_text()
    );
    assert_eq!(daemon.count_where("outcome", "failed"), 0);
    let (status, _, stderr) = postkickd(&["status", "--control", &control]);
    assert!(
        status == 0 || !stderr.contains("CRITICAL"),
        "{status} {stderr}"
    );
    eprintln!(
        "1000 messages in {took:?}: {} kicks, 0 warnings",
        daemon.count_where("outcome", "delivered")
    );
}
