//! `check` is as strict as `run`, and says what a new user gets wrong;
//! `reload` checks before it signals; `endpoints` cleans up; a kick that
//! does not get through is retried, never "delivered".

use std::os::unix::fs::OpenOptionsExt;
use std::process::Command;
use std::time::Duration;

use postkick_testkit::daemon::{as_user, binary, postkickd};
use postkick_testkit::rules::Setup;
use postkick_testkit::{mkfifo, wait_for};

fn check(setup: &Setup) -> (i32, String, String) {
    postkickd(&["check", "--rules", setup.rules.to_str().expect("utf8")])
}

#[test]
fn check_fails_where_run_fails_on_main_cf() {
    let setup = Setup::new("rules:\n  - name: x\n    every: 1h\n    kick: public qmgr I\n");
    let rules = setup.rules.to_str().expect("utf8");
    let (status, _, stderr) = postkickd(&["check", "--rules", rules, "-c", "/nonexistent"]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("/nonexistent/main.cf"), "{stderr}");
    std::fs::write(
        setup.dir.config.join("main.cf"),
        "queue_directory = $queue_directory\n",
    )
    .expect("write");
    let (status, _, stderr) = check(&setup);
    assert_eq!(status, 1, "{stderr}");
    let (run_status, _, _) = postkickd(&["run", "--rules", rules]);
    assert_eq!(run_status, 1);
}

#[test]
fn check_as_a_user_who_cannot_reach_private_fails_and_names_the_user() {
    if !postkick_testkit::have_program("setpriv") {
        return;
    }
    let setup = Setup::new("rules:\n  - name: anvil\n    every: 1h\n    kick: private tlsmgr W\n");
    let (_tlsmgr, wrapper) = setup.unreachable_private("tlsmgr");
    let output = Command::new(&wrapper)
        .args(["check", "--rules"])
        .arg(&setup.rules)
        .output()
        .expect("run check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("permission denied for user nobody") && stderr.contains("user postfix"),
        "{stderr}"
    );
}

#[test]
fn check_names_what_a_new_user_gets_wrong() {
    let setup = Setup::new(
        "rules:\n  - name: quoted\n    every: 1h\n    kick: public qmgr \"D\"\n  - name: fast\n    every: 10ms\n    kick: public qmgr I\n  - name: six\n    cron: \"30 7 * * 1-5 *\"\n    kick: public qmgr I\n  - name: often\n    cron: \"*/5 * * * * *\"\n    kick: public qmgr I\n  - name: off\n    watch: /nonexistent/dir\n    enabled: false\n    kick: public pickup W\n",
    );
    let _qmgr = setup.socket("public", "qmgr");
    let _pickup = setup.socket("public", "pickup");
    let (status, stdout, stderr) = check(&setup);
    assert_eq!(status, 0, "{stderr}");
    // Each finding is at the key it is about: the kick, the every, the
    // cron (the file's first rule starts on line 4).
    for (line, says) in [
        ("6:11", "sent with its quotes"),
        ("8:12", "every 10ms kicks 100 times a second"),
        ("11:11", "read with seconds first: second 30, minute 7, hour *, day of month *, month 1-5, weekday *"),
        ("14:11", "fires 12 times a minute"),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&format!("rules.yaml:{line}:")) && l.contains(says)),
            "no {says:?} at line {line} in\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("/nonexistent/dir"),
        "a disabled rule was looked at:\n{stderr}"
    );
    assert!(stdout.contains("valid: 5 rules"), "{stdout}");
}

#[test]
fn check_suggests_and_reports_every_mistake() {
    let setup = Setup::new(
        "rules:\n  - name: a\n    wacth: maildrop\n    kick: public pickup W\n  - name: a\n    every: 5 parsecs\n    kick: public qmgr I\n",
    );
    let (status, _, stderr) = check(&setup);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("did you mean \"watch\"?"), "{stderr}");
    assert!(stderr.contains("duplicate rule name \"a\""), "{stderr}");
    assert!(stderr.contains("bad duration \"5 parsecs\""), "{stderr}");
    std::fs::write(
        &setup.rules,
        "- name: a\n  every: 1m\n  kick: public qmgr I\n",
    )
    .expect("write");
    let (status, _, stderr) = check(&setup);
    assert_eq!(status, 1);
    assert!(stderr.contains("under a \"rules:\" key"), "{stderr}");
    let (status, _, stderr) = postkickd(&["chek"]);
    assert_eq!(status, 2, "{stderr}");
    assert!(stderr.contains("check"), "{stderr}");
}

#[test]
fn check_v_says_how_each_rule_is_read() {
    let setup = Setup::new(
        "rules:\n  - name: noon\n    cron: \"0 12 * * *\"\n    timezone: UTC\n    kick: public qmgr I\n",
    );
    let _qmgr = setup.socket("public", "qmgr");
    let (status, stdout, _) = postkickd(&[
        "check",
        "-v",
        "--rules",
        setup.rules.to_str().expect("utf8"),
    ]);
    assert_eq!(status, 0);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("rule \"noon\""))
        .expect("a reading");
    assert!(
        line.contains("minute 0, hour 12, day of month *, month *, weekday *"),
        "{line}"
    );
    assert_eq!(line.matches("12:00:00 +00:00 UTC").count(), 3, "{line}");
}

#[test]
fn reload_checks_first_and_fails_on_a_bad_file() {
    let setup = Setup::new("rules:\n  - name: old\n    every: 100ms\n    kick: public qmgr I\n");
    let qmgr = setup.socket("public", "qmgr");
    let daemon = setup.start(&[]);
    qmgr.received.wait_for(1, Duration::from_secs(10));
    let pid = daemon.pid().to_string();
    let rules = setup.rules.to_str().expect("utf8");
    setup.write_rules("rules:\n  - name: new\n    every: nope\n    kick: public pickup W\n");
    let (status, _, stderr) = postkickd(&["reload", "--rules", rules, "--pid", &pid]);
    assert_eq!(status, 1, "{stderr}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(daemon.count_where("event", "reloaded"), 0);
    assert_eq!(
        daemon.count_where("event", "reload_refused"),
        0,
        "it was signalled"
    );
    setup.write_rules("rules:\n  - name: new\n    every: 100ms\n    kick: public pickup W\n");
    let _pickup = setup.socket("public", "pickup");
    let (status, _, stderr) = postkickd(&["reload", "--rules", rules, "--pid", &pid]);
    assert_eq!(status, 0, "{stderr}");
    daemon.wait_for_event("event", "reloaded", 1, Duration::from_secs(10));
}

/// `reload --pid` signals only a postkickd: a `sleep` (which SIGHUP would
/// kill) and 0 (the caller's whole process group) are refused, and the
/// sleep lives on.
#[test]
fn reload_signals_only_a_postkickd() {
    let setup = Setup::new("rules:\n  - name: tick\n    every: 1h\n    kick: public qmgr I\n");
    let rules = setup.rules.to_str().expect("utf8");
    let mut sleeper = Command::new("sleep").arg("60").spawn().expect("sleep");
    let pid = sleeper.id().to_string();
    let (status, _, stderr) = postkickd(&["reload", "--rules", rules, "--pid", &pid]);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("process {pid} is not postkickd (it runs "))
            && stderr.contains("sleep"),
        "{stderr}"
    );
    assert!(
        sleeper.try_wait().expect("wait").is_none(),
        "the sleep was signalled"
    );
    for pid in ["--pid=0", "--pid=-1"] {
        let (status, _, stderr) = postkickd(&["reload", "--rules", rules, pid]);
        assert_eq!(status, 1, "{stderr}");
        assert!(
            stderr.contains("0 and below name process groups"),
            "{stderr}"
        );
    }
    sleeper.kill().expect("kill");
    let _ = sleeper.wait();
}

#[test]
fn endpoints_cleans_up_and_can_serve_the_same_directory_again() {
    let tmp = postkick_testkit::traversable_tempdir();
    for round in 0..2 {
        let mut child = Command::new(binary())
            .arg("endpoints")
            .arg(tmp.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start endpoints");
        let socket = tmp.path().join("queue/public/qmgr");
        wait_for(Duration::from_secs(10), "the test queue", || {
            socket.exists().then_some(())
        });
        let status = Command::new("kill")
            .arg(child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = child.wait().expect("wait");
        assert_eq!(exit.code(), Some(0), "round {round}");
        assert!(
            !tmp.path().join("queue").exists(),
            "round {round} left its queue"
        );
        assert!(!tmp.path().join("main.cf").exists());
    }
}

/// `endpoints` pointed at a real configuration directory refuses it and
/// leaves everything in it as it was; pointed at a new directory, it makes
/// it and removes it at the end.
#[test]
fn endpoints_never_touches_a_directory_it_did_not_make() {
    let tmp = postkick_testkit::traversable_tempdir();
    let main_cf = tmp.path().join("main.cf");
    std::fs::write(&main_cf, "queue_directory = /var/spool/postfix\n").expect("write");
    let (status, _, stderr) = postkickd(&["endpoints", tmp.path().to_str().expect("utf8")]);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("is not empty (it holds main.cf)") && stderr.contains("new or empty"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&main_cf).expect("main.cf is still there"),
        "queue_directory = /var/spool/postfix\n"
    );
    assert!(!tmp.path().join("queue").exists());
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink("/etc", &link).expect("symlink");
    let (status, _, stderr) = postkickd(&["endpoints", link.to_str().expect("utf8")]);
    assert_eq!(status, 1);
    assert!(stderr.contains("is a symlink"), "{stderr}");

    let fresh = tmp.path().join("fresh");
    let mut child = Command::new(binary())
        .arg("endpoints")
        .arg(&fresh)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start endpoints");
    let socket = fresh.join("queue/public/qmgr");
    wait_for(Duration::from_secs(10), "the test queue", || {
        socket.exists().then_some(())
    });
    let status = Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    assert!(!fresh.exists(), "the directory it made is left");
    assert!(main_cf.exists());
}

/// A FIFO whose reader never reads: once the pipe is full the request
/// cannot be written; that is a failed attempt, retried, never delivered.
#[test]
fn a_full_fifo_is_a_failed_kick_and_is_retried() {
    let setup = Setup::new(
        "rules:\n  - name: full\n    every: 1h\n    on_start: true\n    timeout: 200ms\n    retry: {attempts: 2, backoff: 100ms}\n    kick: public pickup W\n",
    );
    let fifo = setup.dir.endpoint("public", "pickup");
    mkfifo(&fifo);
    let mut holder = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .expect("hold the fifo");
    let chunk = [0u8; 4096];
    while std::io::Write::write(&mut holder, &chunk).is_ok() {}
    let daemon = setup.start(&[]);
    let failed = daemon.wait_for_event("outcome", "failed", 1, Duration::from_secs(10));
    assert_eq!(daemon.count_where("outcome", "retrying"), 1);
    assert_eq!(daemon.count_where("outcome", "delivered"), 0);
    assert!(failed[0].is("attempts", "2"), "{failed:?}");
}

#[test]
fn a_config_directory_that_does_not_exist_is_an_error_at_its_line() {
    let tmp = postkick_testkit::traversable_tempdir();
    let rules = tmp.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "postfix:\n  config_directory: /etc/postfx\nrules:\n  - name: x\n    every: 1h\n    kick: public qmgr I\n",
    )
    .expect("write");
    let (status, _, stderr) = postkickd(&["check", "--rules", rules.to_str().expect("utf8")]);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("rules.yaml:2:21: /etc/postfx/main.cf: open /etc/postfx/main.cf: No such file or directory"),
        "{stderr}"
    );
}

/// A watched directory the daemon's user cannot read: the daemon does not
/// say it is ready; it fails to start and says why.
#[test]
fn run_refuses_to_start_with_a_watch_it_cannot_set_up() {
    if !postkick_testkit::have_program("setpriv") {
        return;
    }
    let setup =
        Setup::new("rules:\n  - name: drop\n    watch: closed\n    kick: public pickup W\n");
    let closed = setup.dir.queue.join("closed");
    std::fs::create_dir(&closed).expect("mkdir");
    std::fs::set_permissions(&closed, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("chmod");
    let wrapper = as_user(&setup.dir.root, "nobody", "nogroup");
    let output = Command::new(&wrapper)
        .args(["run", "--rules"])
        .arg(&setup.rules)
        .args(postkick_testkit::daemon::own_files(
            &setup.dir.root.join("nobody.log"),
            &[],
        ))
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot watch") && stderr.contains("as user nobody"),
        "{stderr}"
    );
}

/// A flush site is judged by `main.cf` as Postfix judges it, and the
/// error gives the line to write.
#[test]
fn check_judges_flush_sites_by_fast_flush_domains_and_gives_the_line() {
    let setup = Setup::new(
        "rules:\n  - name: partner\n    every: 5m\n    flush: {site: mx.partner.example}\n",
    );
    let main_cf = setup.dir.config.join("main.cf");
    let base = std::fs::read_to_string(&main_cf).expect("main.cf");
    let with = |lines: &str| {
        std::fs::write(&main_cf, format!("{base}{lines}")).expect("write main.cf");
        check(&setup)
    };
    // Parent domains match subdomains for fast_flush_domains by default.
    let (status, _, stderr) = with("relay_domains = partner.example\n");
    assert_eq!(status, 0, "{stderr}");
    // Nothing relayed: the advice still keeps $relay_domains, and points
    // at the site itself (line 6, column 19).
    let (status, _, stderr) = with("relay_domains =\n");
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains(":6:19: rule \"partner\": flush site mx.partner.example")
            && stderr.contains("add the line \"fast_flush_domains = $relay_domains, mx.partner.example\" (relay_domains is empty now)"),
        "{stderr}"
    );
    let (status, _, stderr) =
        with("parent_domain_matches_subdomains =\nrelay_domains = partner.example\n");
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("add the line \"fast_flush_domains = $relay_domains, mx.partner.example\" (it is now $relay_domains: partner.example)"),
        "{stderr}"
    );
    let (status, _, stderr) = with("fast_flush_domains = other.example,\n");
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("change line 2 \"fast_flush_domains = other.example,\" to \"fast_flush_domains = other.example, mx.partner.example\""),
        "{stderr}"
    );
    let (status, _, stderr) = with("fast_flush_domains = !mx.partner.example, partner.example\n");
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("its entry !mx.partner.example excludes it"),
        "{stderr}"
    );
    let (status, _, stderr) = with("fast_flush_domains = hash:/etc/postfix/flush\n");
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stderr.contains("warning: rule \"partner\": flush site mx.partner.example: fast_flush_domains decides it with hash:/etc/postfix/flush"),
        "{stderr}"
    );
}

/// A `TZ` that names nothing usable (a typo, `/dev/zero`) is a warning
/// naming it, from `check` and at the daemon's start, never a hang or a
/// huge read; the rules run on UTC.
#[test]
fn a_tz_that_names_nothing_is_a_warning() {
    let setup =
        Setup::new("rules:\n  - name: nightly\n    cron: \"0 3 * * *\"\n    kick: public qmgr I\n");
    let _qmgr = setup.socket("public", "qmgr");
    for tz in [":garbage", "/dev/zero"] {
        let output = Command::new(binary())
            .args(["check", "--rules"])
            .arg(&setup.rules)
            .env("TZ", tz)
            .output()
            .expect("run check");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "warning: rule \"nightly\": TZ=\"{tz}\" names no usable time zone"
            )),
            "{stderr}"
        );
    }
    let daemon = postkick_testkit::daemon::Daemon::start_with_env(
        &setup.rules,
        &[],
        &setup.dir.root.join("daemon.log"),
        &[("TZ", "/dev/zero")],
    );
    let warned = daemon.wait_for_event("event", "local_time_unknown", 1, Duration::from_secs(10));
    assert!(
        warned[0]
            .get("message")
            .unwrap_or_default()
            .contains("TZ=\"/dev/zero\""),
        "{}",
        daemon.log_text()
    );
}

/// A watched path that is a symlink loop, or a file, is judged alike by
/// `check` (a warning: it will be watched once it leads to a directory)
/// and `run` (it starts and waits for it), never blamed on permissions.
#[test]
fn check_and_run_agree_on_a_path_that_leads_nowhere() {
    let (setup, watched, pickup) = Setup::watching_incoming();
    std::fs::remove_dir(&watched).expect("rmdir");
    std::os::unix::fs::symlink(&watched, &watched).expect("a symlink loop");
    let rules = setup.rules.to_str().expect("utf8");
    let (status, _, stderr) = postkickd(&["check", "--rules", rules]);
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stderr.contains(
            "is not there (Too many levels of symbolic links): it will be watched once it is"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("cannot be read"), "{stderr}");
    let daemon = setup.start(&[]);
    daemon.wait_for_event("event", "directory_gone", 1, Duration::from_secs(10));
    std::fs::remove_file(&watched).expect("rm");
    std::fs::create_dir(&watched).expect("mkdir");
    daemon.wait_for_event("event", "directory_back", 1, Duration::from_secs(10));
    std::fs::write(watched.join("a"), "x").expect("drop");
    pickup.received.wait_for(1, Duration::from_secs(10));
}

/// A `metrics_file` the daemon could never write (its directory missing,
/// a directory at the path) is an error from `check`, not a warning from
/// the daemon every 15 s.
#[test]
fn check_finds_a_metrics_file_that_cannot_be_written() {
    let setup = Setup::new("rules:\n  - name: hourly\n    every: 1h\n    kick: public qmgr I\n");
    let _qmgr = setup.socket("public", "qmgr");
    let rules = setup.rules.to_str().expect("utf8");
    let missing = setup.dir.root.join("no-such-dir/postkickd.prom");
    let directory = setup.dir.root.join("a-directory.prom");
    std::fs::create_dir(&directory).expect("mkdir");
    for (path, says) in [
        (
            &missing,
            "cannot be used (No such file or directory): create it",
        ),
        (&directory, "is not a regular file"),
    ] {
        let text = std::fs::read_to_string(&setup.rules).expect("read");
        std::fs::write(
            &setup.rules,
            text.replacen(
                "rules:\n",
                &format!("metrics_file: {}\nrules:\n", path.display()),
                1,
            ),
        )
        .expect("write");
        let (status, _, stderr) = postkickd(&["check", "--rules", rules]);
        assert_eq!(status, 1, "{stderr}");
        assert!(
            stderr.contains(&format!("metrics_file {}: ", path.display())) && stderr.contains(says),
            "{stderr}"
        );
        setup.write_rules("rules:\n  - name: hourly\n    every: 1h\n    kick: public qmgr I\n");
    }
    let fine = setup.dir.root.join("postkickd.prom");
    let text = std::fs::read_to_string(&setup.rules).expect("read");
    std::fs::write(
        &setup.rules,
        text.replacen(
            "rules:\n",
            &format!("metrics_file: {}\nrules:\n", fine.display()),
            1,
        ),
    )
    .expect("write");
    let (status, _, stderr) = postkickd(&["check", "--rules", rules]);
    assert_eq!(status, 0, "{stderr}");
}

/// A lone `qmgr D` does only what qmgr does every queue_run_delay: check
/// says so and names what retries deferred mail now.
#[test]
fn a_lone_qmgr_d_is_a_warning_that_names_what_does_the_job() {
    let setup = Setup::new(
        "rules:\n  - name: sweep\n    every: 15m\n    kick: public qmgr D\n  - name: retry\n    every: 1h\n    kick: public qmgr AD\n",
    );
    let _qmgr = setup.socket("public", "qmgr");
    let (status, _, stderr) = check(&setup);
    assert_eq!(status, 0, "{stderr}");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("rule \"sweep\"")
            && warnings[0].contains("queue_run_delay")
            && warnings[0].contains("flush: all")
            && warnings[0].contains("AD"),
        "{stderr}"
    );
}

/// `check` says errors and warnings in one run, in line order, each at
/// the key it is about; a broken main.cf is said beside the rules'
/// mistakes, at the line that names its directory.
#[test]
fn check_interleaves_errors_and_warnings_at_their_keys() {
    let setup = Setup::new(
        "rules:\n  - name: six\n    kick: public qmgr I\n    cron: \"0 30 7 * * *\"\n  - name: broken\n    every: soon\n    kick: public qmgr I\n  - name: sweep\n    every: 15m\n    kick: public qmgr D\n",
    );
    let _qmgr = setup.socket("public", "qmgr");
    let (status, _, stderr) = check(&setup);
    assert_eq!(status, 1, "{stderr}");
    let file = setup.rules.to_str().expect("utf8");
    // The rules file's lines 1-2 are its postfix: part.
    let at: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix(file)?.strip_prefix(':'))
        .collect();
    assert!(
        at.len() == 4
            && at[0].starts_with("6:11: warning: rule \"six\": cron \"0 30 7 * * *\" has 6 fields")
            && at[1].starts_with("8:12: bad duration \"soon\"")
            && at[2].starts_with("12:11: warning: rule \"sweep\": kick public qmgr \"D\"")
            && at[3].starts_with(" 1 error: postkickd run would fail"),
        "{stderr}"
    );

    // main.cf's error beside the rules' own, at postfix.config_directory.
    std::fs::write(
        &setup.rules,
        "postfix:\n  config_directory: /nonexistent\nrules:\n  - name: broken\n    every: soon\n    kick: public qmgr I\n",
    )
    .expect("write");
    let (status, _, stderr) = check(&setup);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("{file}:2:21: /nonexistent/main.cf"))
            && stderr.contains(&format!("{file}:5:12: bad duration"))
            && stderr.contains("2 errors"),
        "{stderr}"
    );
}

/// A service master.cf lacks is an error while Postfix runs (every kick
/// would fail) and a warning while it is down; a commented-out one is
/// named with its line, a misspelt one with what was meant, one in the
/// other class with the class to write.
#[test]
fn check_knows_the_services_master_cf_defines() {
    use postkick_testkit::postfix;
    if !postkick_testkit::postfix_installed("check_knows_the_services_master_cf_defines") {
        return;
    }
    let instance = postfix::Instance::start(&postfix::Options {
        pickup_disabled: true,
        ..postfix::Options::default()
    });
    let rules = instance.write_rules(
        "rules:\n  - name: typo\n    every: 1h\n    kick: public qmrg I\n  - name: commented\n    every: 1h\n    kick: public pickup W\n  - name: class\n    every: 1h\n    kick: private qmgr I\n  - name: fine\n    every: 1h\n    kick: public qmgr I\n",
    );
    let rules = rules.to_str().expect("utf8");
    let master_cf = instance.config.join("master.cf");
    let commented_line = std::fs::read_to_string(&master_cf)
        .expect("master.cf")
        .lines()
        .position(|l| l.starts_with("#pickup"))
        .expect("pickup commented out")
        + 1;
    let (status, _, stderr) = postkickd(&["check", "--rules", rules]);
    assert_eq!(status, 1, "{stderr}");
    let shown = master_cf.display();
    for says in [
        format!("{rules}:6:11: rule \"typo\": service qmrg is not in {shown}: did you mean qmgr?"),
        format!("{rules}:9:11: rule \"commented\": service pickup is commented out in {shown} (line {commented_line}): restore that entry"),
        format!("{rules}:12:11: rule \"class\": qmgr is public in {shown}"),
        "3 errors".to_owned(),
    ] {
        assert!(stderr.contains(&says), "no {says:?} in\n{stderr}");
    }
    assert!(!stderr.contains("\"fine\""), "{stderr}");

    // Postfix down: the missing services are warnings, the class error
    // stays (it can never be right).
    instance.stop();
    let (status, _, stderr) = postkickd(&["check", "--rules", rules]);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("warning: rule \"typo\": service qmrg")
            && stderr.contains("(Postfix is not running)")
            && stderr.contains("1 error"),
        "{stderr}"
    );
}
