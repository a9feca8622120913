//! The shipped rules files tell the truth: the installed default runs
//! only the maildrop watch, and every rule of the default and of the full
//! example does, against a live private Postfix, what its comment says,
//! read from Postfix's own log (a deferred message tried again, a request
//! letter qmgr logs, pickup's trigger). A rule added to either file
//! without its evidence here fails the test.

use std::path::{Path, PathBuf};
use std::time::Duration;

use postkick_testkit::daemon::{postkickd, Daemon};
use postkick_testkit::rules::Setup;
use postkick_testkit::{our_postkick, postfix, postfix_installed, run_kick, wait_for};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(30);

fn shipped(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).expect("read")
}

/// `text` pointed at `config`, with every rule enabled and the example's
/// shared drop directory at `shared`.
fn adapted(text: &str, config: &Path, shared: &Path) -> String {
    text.replace(
        "config_directory: /etc/postfix",
        &format!("config_directory: {}", config.display()),
    )
    .replace("/srv/maildrop-shared", &shared.display().to_string())
    .lines()
    .filter(|line| line.trim() != "enabled: false")
    .collect::<Vec<_>>()
    .join("\n")
}

/// The rules `status --json` lists: name and whether it runs.
fn rules_of(control: &str) -> Vec<(String, bool)> {
    let (_, stdout, stderr) = postkickd(&["status", "--json", "--control", control]);
    let status: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    status["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().expect("name").to_owned(),
                r["enabled"].as_bool().expect("enabled"),
            )
        })
        .collect()
}

#[test]
fn the_installed_default_runs_only_the_maildrop_watch() {
    let setup = Setup::new("rules: []\n");
    let _pickup = setup.socket("public", "pickup");
    let _qmgr = setup.socket("public", "qmgr");
    let _flush = setup.socket("public", "flush");
    std::fs::create_dir(setup.dir.queue.join("maildrop")).expect("mkdir");
    let text = shipped("rules.default.yaml").replace(
        "config_directory: /etc/postfix",
        &format!("config_directory: {}", setup.dir.config.display()),
    );
    std::fs::write(&setup.rules, text).expect("write");
    let rules = setup.rules.to_str().expect("utf8");
    let (status, stdout, stderr) = postkickd(&["check", "--rules", rules]);
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stdout.contains("3 disabled") && !stderr.contains("warning"),
        "{stdout}{stderr}"
    );
    let (_, next, stderr) = postkickd(&["next", "--rules", rules]);
    assert!(
        !next.lines().any(|l| l.starts_with("20")),
        "a disabled example is scheduled: {next}{stderr}"
    );
    let (daemon, control) = setup.start_with_control();
    let enabled: Vec<String> = rules_of(&control)
        .into_iter()
        .filter_map(|(name, on)| on.then_some(name))
        .collect();
    assert_eq!(enabled, ["pickup-on-maildrop"]);
    drop(daemon);
}

/// A Postfix that defers everything (its relay host is a closed port),
/// keeps fast-flush logs for partner.example, and never polls the
/// maildrop (so pickup's trigger in the log is a kick's).
fn deferring_instance() -> postfix::Instance {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    postfix::Instance::start(&postfix::Options {
        pickup_wakeup: Some("-"),
        main_cf: format!("relayhost = [127.0.0.1]:{port}\nrelay_domains = partner.example\n"),
        ..postfix::Options::default()
    })
}

/// What a rule must make Postfix log.
#[derive(Debug, Clone, Copy)]
enum Evidence {
    /// pickup took a trigger.
    PickupTriggered,
    /// qmgr logged these request letters.
    Letters(&'static [&'static str]),
    /// Both deferred messages were tried again at once.
    DeferredRetried,
    /// qmgr logged these letters and both deferred messages were tried.
    LettersAndRetried(&'static [&'static str]),
}

fn evidence_for(rule: &str) -> Evidence {
    match rule {
        "pickup-on-maildrop" | "shared-drop" => Evidence::PickupTriggered,
        "retry-deferred-hourly" => {
            Evidence::LettersAndRetried(&["request: 65 (A)", "request: 68 (D)"])
        }
        "morning-flush" => Evidence::LettersAndRetried(&[
            "request: 70 (F)",
            "request: 65 (A)",
            "request: 68 (D)",
            "request: 73 (I)",
        ]),
        "hourly-incoming" => Evidence::Letters(&["request: 73 (I)"]),
        "flush-partner" | "flush-partner-when-link-is-up" => Evidence::DeferredRetried,
        other => panic!("rule {other:?} of a shipped file has no evidence in tests/it/examples.rs"),
    }
}

const TRIGGER: &str = "trigger_server_accept_local: trigger arrived";
const DEFERRED: &str = "status=deferred";

/// Runs `postkickd kick RULE` and waits for its evidence in the maillog.
fn kick_and_see(instance: &postfix::Instance, control: &str, rule: &str) {
    let log = instance.log();
    let evidence = evidence_for(rule);
    let letters: &[&str] = match evidence {
        Evidence::Letters(l) | Evidence::LettersAndRetried(l) => l,
        _ => &[],
    };
    let before: Vec<usize> = letters.iter().map(|l| log.count(l)).collect();
    let (triggers, deferred) = (log.count(TRIGGER), log.count(DEFERRED));
    let (status, stdout, stderr) = postkickd(&["kick", rule, "--control", control]);
    assert_eq!(status, 0, "kick {rule}: {stdout}{stderr}");
    for (letter, was) in letters.iter().zip(before) {
        instance.wait_for_log(letter, was + 1, LIMIT);
    }
    match evidence {
        Evidence::PickupTriggered => {
            instance.wait_for_log(TRIGGER, triggers + 1, LIMIT);
        }
        Evidence::DeferredRetried | Evidence::LettersAndRetried(_) => {
            instance.wait_for_log(DEFERRED, deferred + 2, LIMIT);
        }
        Evidence::Letters(_) => {}
    }
}

#[test]
fn every_shipped_rule_does_what_its_comment_says() {
    if !postfix_installed("every_shipped_rule_does_what_its_comment_says") {
        return;
    }
    let instance = deferring_instance();
    let submit = instance.sendmail_config("pickup");
    for subject in ["first", "second"] {
        instance.sendmail_to(&submit, "someone@partner.example", subject);
    }
    instance.wait_for_log(DEFERRED, 2, LIMIT);
    let site_log = instance.queue_path("flush/partner_example");
    wait_for(
        LIMIT,
        "both messages in partner.example's flush log",
        || {
            std::fs::read_to_string(&site_log)
                .is_ok_and(|t| t.lines().count() >= 2)
                .then_some(())
        },
    );

    // What the example no longer does: D alone scans the deferred queue
    // (qmgr logs the request) and tries nothing whose time has not come.
    let log = instance.log();
    let (scans, deferred) = (log.count("request: 68 (D)"), log.count(DEFERRED));
    let args: Vec<&std::ffi::OsStr> = ["-c", instance.config_str(), "public", "qmgr", "D"]
        .into_iter()
        .map(std::ffi::OsStr::new)
        .collect();
    let output = run_kick(&our_postkick(), &args, &[], &instance.root);
    assert!(output.status.success());
    instance.wait_for_log("request: 68 (D)", scans + 1, LIMIT);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        log.count(DEFERRED),
        deferred,
        "qmgr D retried a deferred message"
    );

    let shared: PathBuf = instance.root.join("shared-drop");
    std::fs::create_dir(&shared).expect("mkdir");
    let mut seen = Vec::new();
    for file in ["rules.default.yaml", "rules.example.yaml"] {
        let rules = instance.root.join(file);
        std::fs::write(&rules, adapted(&shipped(file), &instance.config, &shared)).expect("write");
        let control = instance.root.join(format!("{file}.control"));
        let control = control.to_str().expect("utf8");
        let state = instance.root.join(format!("{file}.state"));
        let daemon = Daemon::start(
            &rules,
            &[
                "--control",
                control,
                "--state",
                state.to_str().expect("utf8"),
            ],
            &instance.root.join(format!("{file}.log")),
        );
        for (rule, _) in rules_of(control) {
            kick_and_see(&instance, control, &rule);
            seen.push(rule);
        }
        drop(daemon);
    }
    assert!(seen.len() >= 10, "{seen:?}");
}
