//! Time zones from the system's zoneinfo, end to end: `postkickd next` in
//! local time and in the named zone agree on every daylight-saving night,
//! and a zone file of our own in `$TZDIR` wins, at start and at reload.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use postkick_testkit::daemon::{binary, Daemon};
use postkick_testkit::rules::Setup;
use postkick_testkit::{have_program, traversable_tempdir};

/// Three hours before each change of 2026.
const NIGHTS: &[(&str, &str)] = &[
    ("America/New_York", "2026-03-08T04:00:00Z"),
    ("America/New_York", "2026-11-01T03:00:00Z"),
    ("Europe/London", "2026-03-28T22:00:00Z"),
    ("Europe/London", "2026-10-24T22:00:00Z"),
    ("Australia/Lord_Howe", "2026-04-04T12:00:00Z"),
    ("Australia/Lord_Howe", "2026-10-03T12:30:00Z"),
];

fn next(rules: &Path, after: &str, env: &[(&str, &str)]) -> String {
    let output = Command::new(binary())
        .args(["next", "-n", "10", "--after", after, "--rules"])
        .arg(rules)
        .envs(env.iter().copied())
        .output()
        .expect("run postkickd next");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The instants a rule's lines of the timeline give (`TIME  RULE ...`),
/// without the zone's name.
fn instants<'t>(output: &'t str, rule: &str) -> Vec<&'t str> {
    output
        .lines()
        .filter_map(|l| l.split_once("  "))
        .filter(|(_, rest)| rest.split_whitespace().next() == Some(rule))
        .map(|(time, _)| time.get(..25).unwrap_or(time))
        .collect()
}

#[test]
fn local_time_and_the_named_zone_agree_on_every_change_night() {
    let expressions: Vec<&str> = include_str!("../data/dst-expressions.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert!(expressions.len() >= 30);
    let tmp = traversable_tempdir();
    for (zone, after) in NIGHTS {
        let mut rules = String::from("rules:\n");
        for (i, expression) in expressions.iter().enumerate() {
            rules.push_str(&format!(
                "  - name: local-{i}\n    cron: \"{expression}\"\n    kick: public qmgr I\n  - name: named-{i}\n    cron: \"{expression}\"\n    timezone: {zone}\n    kick: public qmgr I\n"
            ));
        }
        let path = tmp.path().join("rules.yaml");
        std::fs::write(&path, rules).expect("write rules");
        let output = next(&path, after, &[("TZ", zone)]);
        for (i, expression) in expressions.iter().enumerate() {
            let local = instants(&output, &format!("local-{i}"));
            let named = instants(&output, &format!("named-{i}"));
            assert_eq!(local.len(), 10, "{expression}:\n{output}");
            assert_eq!(local, named, "{expression} in {zone} after {after}");
        }
    }
}

/// Compiles a zone `Europe/Paris` that is `offset` hours ahead of UTC all
/// year into `tzdir`.
fn compile_zone(tzdir: &Path, offset: u8) {
    let source = tzdir.join("zone.src");
    std::fs::write(&source, format!("Zone Europe/Paris {offset}:00 - FAKE\n")).expect("write");
    let status = Command::new("zic")
        .arg("-d")
        .arg(tzdir)
        .arg(&source)
        .status()
        .expect("run zic");
    assert!(status.success());
}

#[test]
fn a_zone_file_in_tzdir_wins_and_a_reload_reads_it_again() {
    if !have_program("zic") {
        return;
    }
    let setup = Setup::new(
        "rules:\n  - name: noon\n    cron: \"0 12 * * *\"\n    timezone: Europe/Paris\n    kick: public qmgr I\n",
    );
    let tzdir = setup.dir.root.join("zoneinfo");
    std::fs::create_dir(&tzdir).expect("mkdir");
    compile_zone(&tzdir, 5);
    let tzdir_text = tzdir.to_str().expect("utf8");
    let output = next(
        &setup.rules,
        "2026-06-01T00:00:00Z",
        &[("TZDIR", tzdir_text)],
    );
    assert!(
        output.starts_with("2026-06-01 12:00:00 +05:00 Europe/Paris  noon"),
        "{output}"
    );
    let daemon = Daemon::start_with_env(
        &setup.rules,
        &["-v"],
        &setup.dir.root.join("daemon.log"),
        &[("TZDIR", tzdir_text)],
    );
    let waiting = |offset: &'static str| {
        move |e: &postkick_testkit::daemon::Event| {
            e.is("rule", "noon") && e.get("next").is_some_and(|n| n.contains(offset))
        }
    };
    postkick_testkit::wait_for(Duration::from_secs(10), "the +05:00 fire time", || {
        daemon.events().iter().any(waiting("+05:00")).then_some(())
    });
    compile_zone(&tzdir, 7);
    daemon.signal("HUP");
    postkick_testkit::wait_for(Duration::from_secs(10), "the +07:00 fire time", || {
        daemon.events().iter().any(waiting("+07:00")).then_some(())
    });
}
