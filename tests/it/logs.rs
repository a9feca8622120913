//! The log reads well where administrators read it: each kick line says
//! the rule, the action, the outcome and the cause in words; JSON numbers
//! are numbers; `--log-target syslog` writes mail-facility lines tagged
//! `postkickd[PID]` to the syslog socket, as Postfix's programs do.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use postkick_testkit::daemon::{binary, own_files};
use postkick_testkit::rules::Setup;
use postkick_testkit::wait_for;

const RULES: &str = "rules:\n  - name: scan\n    every: 100ms\n    kick: public qmgr I\n  - name: nowhere\n    every: 100ms\n    retry: {attempts: 1}\n    kick: public nosuch W\n";

#[test]
fn kick_lines_say_rule_action_outcome_and_cause_in_words() {
    let setup = Setup::new(RULES);
    let _qmgr = setup.socket("public", "qmgr");
    let daemon = setup.start(&[]);
    daemon.wait_for_event("outcome", "delivered", 1, Duration::from_secs(10));
    daemon.wait_for_event("outcome", "failed", 1, Duration::from_secs(10));
    let delivered = &daemon.events_where("outcome", "delivered")[0];
    let message = delivered.get("message").expect("a message");
    assert!(
        message.starts_with("scan: public/qmgr \"I\" delivered in ")
            && message.contains(" ms (cause: "),
        "{message}"
    );
    let failed = &daemon.events_where("outcome", "failed")[0];
    let message = failed.get("message").expect("a message");
    assert!(
        message.starts_with("nowhere: public/nosuch \"W\" failed: ")
            && message.contains("(cause: "),
        "{message}"
    );
    // Numbers are JSON numbers, and the action is not called "target"
    // (journald's TARGET is the log's source).
    let line = daemon
        .log_text()
        .lines()
        .find(|l| l.contains("\"outcome\":\"delivered\""))
        .map(str::to_owned)
        .expect("a delivered line");
    let json: serde_json::Value = serde_json::from_str(&line).expect("json");
    assert!(json["elapsed_ms"].is_f64(), "{line}");
    assert!(json["bytes"].is_u64(), "{line}");
    assert_eq!(json["span"]["action"], "public/qmgr \"I\"", "{line}");
    assert!(json["span"].get("target").is_none(), "{line}");
}

#[test]
fn syslog_target_writes_mail_facility_lines_tagged_with_the_pid() {
    let setup = Setup::new(RULES);
    let _qmgr = setup.socket("public", "qmgr");
    let socket_path = setup.dir.root.join("log");
    let socket = UnixDatagram::bind(&socket_path).expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut child = Command::new(binary())
        .args(["run", "--log-target", "syslog", "--syslog-socket"])
        .arg(&socket_path)
        .arg("--rules")
        .arg(&setup.rules)
        .args(own_files(&setup.dir.root.join("syslog"), &[]))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let tag = format!("postkickd[{}]: ", child.id());
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buffer = [0u8; 4096];
    while Instant::now() < deadline
        && !(lines.iter().any(|l: &String| l.contains("delivered"))
            && lines.iter().any(|l| l.contains("failed")))
    {
        if let Ok(n) = socket.recv(&mut buffer) {
            lines.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
        }
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = wait_for(Duration::from_secs(10), "postkickd to stop", || {
        child.try_wait().ok().flatten()
    });
    assert!(status.success());
    let delivered = lines
        .iter()
        .find(|l| l.contains("scan: public/qmgr \"I\" delivered"))
        .unwrap_or_else(|| panic!("no delivered line: {lines:#?}"));
    // Facility mail (2) * 8 + info (6).
    assert!(
        delivered.starts_with(&format!("<22>{tag}scan: ")),
        "{delivered}"
    );
    let failed = lines
        .iter()
        .find(|l| l.contains("nowhere: public/nosuch \"W\" failed"))
        .unwrap_or_else(|| panic!("no failed line: {lines:#?}"));
    // Facility mail * 8 + error (3), with Postfix's word for it.
    assert!(
        failed.starts_with(&format!("<19>{tag}error: nowhere: ")),
        "{failed}"
    );
}

#[test]
fn syslog_target_without_a_syslog_daemon_is_refused_with_the_fix() {
    let setup = Setup::new(RULES);
    let missing = setup.dir.root.join("no-syslog-here");
    let output = Command::new(binary())
        .args(["run", "--log-target", "syslog", "--syslog-socket"])
        .arg(&missing)
        .arg("--rules")
        .arg(&setup.rules)
        .args(own_files(&setup.dir.root.join("syslog"), &[]))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot log to syslog through {}",
            missing.display()
        )) && stderr.contains("--log-target stderr"),
        "{stderr}"
    );
}
