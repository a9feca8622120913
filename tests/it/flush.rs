//! Flush rules and queue sizes against a real private Postfix: a message
//! deferred for a fast-flush site is retried at once by `flush: {site:}`
//! and the outcome is the service's `ok`; a site `fast_flush_domains`
//! does not cover is refused by `check` and answered `deny` by the
//! service; `flush: all` sends qmgr `FADI` and pickup `W`; `status` and
//! the metrics count a held queue as `postqueue` does.

use std::process::Command;
use std::time::Duration;

use postkick_testkit::daemon::{postkickd, Daemon};
use postkick_testkit::{postfix, postfix_installed, wait_for};
use serde_json::Value;

/// A loopback port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// A Postfix that relays everything to a closed local port (every
/// delivery is deferred) and keeps fast-flush logs for partner.example.
fn relaying_instance() -> postfix::Instance {
    postfix::Instance::start(&postfix::Options {
        main_cf: format!(
            "relayhost = [127.0.0.1]:{}\nrelay_domains = partner.example\n",
            closed_port()
        ),
        ..postfix::Options::default()
    })
}

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn flush_site_retries_a_deferred_message_at_once_and_reports_ok() {
    if !postfix_installed("flush_site_retries_a_deferred_message_at_once_and_reports_ok") {
        return;
    }
    let instance = relaying_instance();
    let submit = instance.sendmail_config("pickup");
    instance.sendmail_to(&submit, "someone@partner.example", "deferred");
    instance.wait_for_log("status=deferred", 1, LIMIT);
    // The delivery agent tells the flush service after it logs the
    // deferral: wait for the site's log (dots become underscores) to
    // name the message.
    let site_log = instance.queue_path("flush/partner_example");
    wait_for(LIMIT, "the fast-flush log of partner.example", || {
        std::fs::metadata(&site_log)
            .is_ok_and(|m| m.len() > 0)
            .then_some(())
    });
    let rules = instance.write_rules("rules:\n  - name: partner\n    every: 1h\n    on_start: true\n    flush: {site: partner.example}\n",
    );
    let (status, _, stderr) = postkickd(&["check", "--rules", rules.to_str().expect("utf8")]);
    assert_eq!(status, 0, "{stderr}");
    let daemon = Daemon::start(&rules, &[], &instance.root.join("daemon.log"));
    daemon.wait_for_event("rule", "partner", 1, LIMIT);
    assert_eq!(
        daemon.count_where("outcome", "ok"),
        1,
        "{}",
        daemon.log_text()
    );
    // Without the flush the message would wait minimal_backoff_time (300 s).
    let attempts = instance.wait_for_log("status=deferred", 2, LIMIT);
    assert!(attempts >= 2, "qmgr did not retry: {attempts} attempts");
}

#[test]
fn a_site_fast_flush_domains_does_not_cover_is_refused_by_check_and_denied_by_the_service() {
    if !postfix_installed(
        "a_site_fast_flush_domains_does_not_cover_is_refused_by_check_and_denied_by_the_service",
    ) {
        return;
    }
    let instance = relaying_instance();
    let rules = instance.write_rules("rules:\n  - name: stranger\n    every: 1h\n    on_start: true\n    flush: {site: stranger.example}\n",
    );
    let (status, _, stderr) = postkickd(&["check", "--rules", rules.to_str().expect("utf8")]);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("flush site stranger.example: fast_flush_domains does not cover it")
            && stderr
                .contains("add the line \"fast_flush_domains = $relay_domains, stranger.example\""),
        "{stderr}"
    );
    // Started without check (or after main.cf changed), the service itself
    // answers deny, and the rule is failing.
    let daemon = Daemon::start(&rules, &[], &instance.root.join("daemon.log"));
    let denied = &daemon.wait_for_event("outcome", "deny", 1, LIMIT)[0];
    assert!(
        denied
            .get("hint")
            .is_some_and(|h| h.contains("fast_flush_domains")),
        "{}",
        daemon.log_text()
    );
    assert_eq!(daemon.count_where("outcome", "ok"), 0);
}

#[test]
fn flush_all_sends_qmgr_fadi_and_pickup_w() {
    if !postfix_installed("flush_all_sends_qmgr_fadi_and_pickup_w") {
        return;
    }
    let instance = postfix::Instance::start(&postfix::Options {
        pickup_wakeup: Some("-"),
        ..postfix::Options::default()
    });
    let rules = instance.write_rules(
        "rules:\n  - name: everything\n    every: 1h\n    on_start: true\n    flush: all\n",
    );
    let daemon = Daemon::start(&rules, &[], &instance.root.join("daemon.log"));
    daemon.wait_for_event("outcome", "delivered", 1, LIMIT);
    for letter in [
        "request: 70 (F)",
        "request: 65 (A)",
        "request: 68 (D)",
        "request: 73 (I)",
    ] {
        instance.wait_for_log(letter, 1, LIMIT);
    }
    // pickup polls never (wakeup -): this is the daemon's W.
    instance.wait_for_log("trigger_server_accept_local: trigger arrived", 1, LIMIT);
}

/// Counts per queue from `postqueue -j`, and the total `postqueue -p`
/// prints.
fn postqueue_counts(instance: &postfix::Instance) -> (Vec<(String, u64)>, u64) {
    let json = Command::new("postqueue")
        .args(["-c", instance.config_str(), "-j"])
        .output()
        .expect("postqueue -j");
    let mut counts: Vec<(String, u64)> = Vec::new();
    for line in String::from_utf8_lossy(&json.stdout).lines() {
        let message: Value = serde_json::from_str(line).expect("postqueue -j line");
        let queue = message["queue_name"]
            .as_str()
            .expect("queue_name")
            .to_owned();
        match counts.iter_mut().find(|(q, _)| *q == queue) {
            Some((_, n)) => *n += 1,
            None => counts.push((queue, 1)),
        }
    }
    let listing = Command::new("postqueue")
        .args(["-c", instance.config_str(), "-p"])
        .output()
        .expect("postqueue -p");
    let listing = String::from_utf8_lossy(&listing.stdout);
    let total = listing
        .lines()
        .last()
        .and_then(|last| last.rsplit(" in ").next())
        .and_then(|tail| tail.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (counts, total)
}

#[test]
fn status_and_metrics_count_a_held_queue_as_postqueue_does() {
    if !postfix_installed("status_and_metrics_count_a_held_queue_as_postqueue_does") {
        return;
    }
    let instance = relaying_instance();
    let submit = instance.sendmail_config("pickup");
    for i in 0..1000 {
        instance.sendmail_to(&submit, "someone@partner.example", &format!("held {i}"));
    }
    wait_for(
        Duration::from_secs(120),
        "1000 messages past pickup",
        || {
            let maildrop = std::fs::read_dir(instance.queue_path("maildrop"))
                .ok()?
                .count();
            (maildrop == 0).then_some(())
        },
    );
    let held = Command::new("postsuper")
        .args(["-c", instance.config_str(), "-h", "ALL"])
        .output()
        .expect("postsuper -h");
    assert!(held.status.success());
    let (counts, total) = postqueue_counts(&instance);
    assert_eq!(total, 1000, "postqueue -p");
    assert_eq!(counts, [("hold".to_owned(), 1000)]);
    let rules =
        instance.write_rules("rules:\n  - name: sweep\n    every: 1h\n    kick: public qmgr D\n");
    let control = instance.root.join("control");
    let control_arg = control.to_str().expect("utf8");
    let _daemon = Daemon::start(
        &rules,
        &["--control", control_arg],
        &instance.root.join("daemon.log"),
    );
    wait_for(LIMIT, "the control socket", || {
        control.exists().then_some(())
    });
    let (_, stdout, stderr) = postkickd(&["status", "--json", "--control", control_arg]);
    let document: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    let queue = &document["queue"];
    assert_eq!(queue["complete"], true, "{queue}");
    assert_eq!(queue["messages"], total, "{queue}");
    for entry in queue["queues"].as_array().expect("queues") {
        let name = entry["name"].as_str().expect("name");
        let expected = counts
            .iter()
            .find(|(q, _)| q == name)
            .map_or(0, |(_, n)| *n);
        assert_eq!(entry["messages"], expected, "{name}: {queue}");
    }
    let (_, table, _) = postkickd(&["status", "--control", control_arg]);
    assert!(
        table.contains(
            "queue: 1000 messages: maildrop 0, active 0, incoming 0, deferred 0, hold 1000 (oldest"
        ),
        "{table}"
    );
    let (_, metrics, _) = postkickd(&["status", "--metrics", "--control", control_arg]);
    for line in [
        "postkickd_queue_messages{queue=\"hold\"} 1000",
        "postkickd_queue_messages{queue=\"deferred\"} 0",
        "postkickd_queue_read_complete 1",
        "postkickd_queue_oldest_seconds{queue=\"hold\"} ",
    ] {
        assert!(metrics.contains(line), "no {line:?} in\n{metrics}");
    }
    if postkick_testkit::have_program("promtool") {
        crate::status::promtool_accepts(&metrics);
    }
}

/// A flush service that answers each connection with the next status of
/// `statuses` (the last one repeats) and keeps the requests it read.
fn fake_flush(
    path: &std::path::Path,
    statuses: &'static [&'static str],
) -> std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>> {
    use std::io::{Read, Write};
    let listener = std::os::unix::net::UnixListener::bind(path).expect("bind");
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&requests);
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.write_all(b"protocol\0queue_flush_protocol\0\0");
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            // A request list ends with a lone NUL after a value's NUL.
            while !request.ends_with(b"\0\0") || request.len() < 3 {
                match stream.read(&mut byte) {
                    Ok(1) => request.push(byte[0]),
                    _ => break,
                }
            }
            seen.lock().expect("lock").push(request);
            let status = statuses[i.min(statuses.len() - 1)];
            let _ = stream.write_all(format!("status\0{status}\0\0").as_bytes());
        }
    });
    requests
}

#[test]
fn a_failing_flush_service_is_retried_and_a_bad_request_is_not() {
    let setup = postkick_testkit::rules::Setup::new(
        "rules:\n  - name: partner\n    every: 1h\n    on_start: true\n    retry: {attempts: 3, backoff: 10ms}\n    flush: {site: partner.example}\n",
    );
    let requests = fake_flush(
        &setup.dir.endpoint("public", "flush"),
        &["4294967295", "4294967295", "0"],
    );
    let (daemon, control) = setup.start_with_control();
    let control_arg = control.as_str();
    daemon.wait_for_event("outcome", "ok", 1, LIMIT);
    let (_, stdout, stderr) = postkickd(&["status", "partner", "--json", "--control", control_arg]);
    let document: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let rule = &document["rules"][0];
    assert_eq!(rule["last_kick"]["outcome"], "ok", "{rule}");
    assert_eq!(rule["last_kick"]["attempts"], 3, "{rule}");
    assert_eq!(rule["answers"]["ok"], 1, "{rule}");
    assert_eq!(rule["retried"], 2, "{rule}");
    let (_, metrics, _) = postkickd(&["status", "--metrics", "--control", control_arg]);
    for line in [
        "postkickd_kicks_total{rule=\"partner\",outcome=\"ok\"} 1",
        "postkickd_kicks_total{rule=\"partner\",outcome=\"fail\"} 0",
        "postkickd_rule_failing{rule=\"partner\"} 0",
    ] {
        assert!(metrics.contains(line), "no {line:?} in\n{metrics}");
    }
    let (status, stdout, stderr) = postkickd(&["kick", "partner", "--control", control_arg]);
    assert_eq!(status, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("partner: ok after 1 attempt"),
        "{stdout}"
    );
    assert_eq!(
        daemon.count_where("outcome", "retrying"),
        2,
        "{}",
        daemon.log_text()
    );
    // Three attempts, then the one `postkickd kick` asked for.
    let requests = requests.lock().expect("lock").clone();
    assert_eq!(requests.len(), 4);
    assert_eq!(
        requests[0],
        b"request\0send_site\0site\0partner.example\0\0"
    );
    drop(daemon);

    let setup = postkick_testkit::rules::Setup::new(
        "rules:\n  - name: partner\n    every: 1h\n    on_start: true\n    retry: {attempts: 3, backoff: 10ms}\n    flush: {queue_id: 4XyZ1}\n",
    );
    let requests = fake_flush(&setup.dir.endpoint("public", "flush"), &["3"]);
    let (daemon, control) = setup.start_with_control();
    let control_arg = control.as_str();
    daemon.wait_for_event("outcome", "bad", 1, LIMIT);
    let (status, _, stderr) = postkickd(&["status", "--control", control_arg]);
    assert_eq!(status, 2, "a rule answered bad is failing: {stderr}");
    assert_eq!(
        daemon.count_where("outcome", "retrying"),
        0,
        "{}",
        daemon.log_text()
    );
    assert_eq!(
        requests.lock().expect("lock").as_slice(),
        [b"request\0send_file\0queue_id\x004XyZ1\0\0".to_vec()]
    );
}
