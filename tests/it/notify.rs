//! `notify: postmaster` against a private Postfix that delivers the
//! postmaster's mail to a file: a rule kicking a service master.cf lacks
//! mails one notice (not one per failure), and its fix one recovery
//! notice; with pickup down the notice waits in the maildrop, the log
//! says so, and it arrives once pickup is back (at its first wakeup).

use std::path::PathBuf;
use std::time::Duration;

use postkick_testkit::daemon::Daemon;
use postkick_testkit::{postfix, postfix_installed, wait_for};

const LIMIT: Duration = Duration::from_secs(60);

/// A Postfix that delivers mail for postmaster into a file; the file.
fn delivering(pickup_disabled: bool) -> (postfix::Instance, PathBuf) {
    let mailbox_dir = tempfile::Builder::new()
        .prefix("pkmail")
        .tempdir()
        .expect("tempdir")
        .keep();
    std::fs::set_permissions(
        &mailbox_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let mailbox = mailbox_dir.join("postmaster");
    std::fs::write(&mailbox, "").expect("mailbox");
    std::fs::set_permissions(
        &mailbox,
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .expect("chmod");
    let instance = postfix::Instance::start(&postfix::Options {
        pickup_disabled,
        main_cf: format!(
            "mydestination = $myhostname, localhost\nalias_maps = inline:{{ postmaster={} }}\nalias_database =\nlocal_recipient_maps =\n",
            mailbox.display()
        ),
        ..postfix::Options::default()
    });
    (instance, mailbox)
}

/// Messages in the mailbox whose subject contains `subject`.
fn delivered(mailbox: &PathBuf, subject: &str) -> usize {
    std::fs::read_to_string(mailbox)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("Subject: ") && l.contains(subject))
        .count()
}

const FAILING: &str = "defaults:\n  notify: postmaster\nrules:\n  - name: ghost\n    every: 1s\n    retry: {attempts: 1}\n    kick: public pikcup W\n";
const FIXED: &str = "defaults:\n  notify: postmaster\nrules:\n  - name: ghost\n    every: 1s\n    retry: {attempts: 1}\n    kick: public pickup W\n";

#[test]
fn a_failing_rule_mails_the_postmaster_once_and_its_fix_once() {
    if !postfix_installed("a_failing_rule_mails_the_postmaster_once_and_its_fix_once") {
        return;
    }
    let (instance, mailbox) = delivering(false);
    let rules = instance.write_rules(FAILING);
    let daemon = Daemon::start(&rules, &[], &instance.root.join("daemon.log"));
    let started = std::time::Instant::now();
    while delivered(&mailbox, "rule ghost is failing") != 1 {
        assert!(
            started.elapsed() < LIMIT,
            "no failure notice in {}: {}\n{}",
            mailbox.display(),
            daemon.log_text(),
            instance.log().text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(&mailbox).expect("mailbox");
    assert!(
        text.contains("pikcup is not in") && text.contains("Auto-Submitted: auto-generated"),
        "{text}"
    );
    // More failures of the same cause within the hour: no more notices.
    daemon.wait_for_event("outcome", "failed", 5, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(delivered(&mailbox, "rule ghost is failing"), 1);
    assert!(
        daemon.count_where("event", "notice_held") >= 1
            || daemon.count_where("event", "notice_sent") == 1
    );

    instance.write_rules(FIXED);
    daemon.signal("HUP");
    wait_for(LIMIT, "the recovery notice", || {
        (delivered(&mailbox, "rule ghost works again") == 1).then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(delivered(&mailbox, "rule ghost works again"), 1);
    assert_eq!(delivered(&mailbox, "rule ghost is failing"), 1);
}

#[test]
fn with_pickup_down_the_notice_waits_in_the_maildrop_and_arrives_when_it_is_back() {
    if !postfix_installed(
        "with_pickup_down_the_notice_waits_in_the_maildrop_and_arrives_when_it_is_back",
    ) {
        return;
    }
    let (instance, mailbox) = delivering(true);
    let rules = instance.write_rules(FAILING);
    let daemon = Daemon::start(&rules, &[], &instance.root.join("daemon.log"));
    let waiting = &daemon.wait_for_event("event", "notice_waiting", 1, LIMIT)[0];
    assert!(
        waiting
            .get("message")
            .is_some_and(|m| m.contains("waits in the maildrop") && m.contains("pickup is not in")),
        "{waiting:?}"
    );
    assert_eq!(delivered(&mailbox, "rule ghost is failing"), 0);
    // Back in master.cf, pickup scans the maildrop at master's first
    // wakeup (every 60 s in master.cf).
    instance.enable_pickup();
    wait_for(LIMIT * 2, "the notice once pickup is back", || {
        (delivered(&mailbox, "rule ghost is failing") == 1).then_some(())
    });
}
