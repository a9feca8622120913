//! `postkickd doctor` against a private Postfix: every link ok on a
//! healthy instance (exit 0), and each fault named with its cause and fix
//! (exit 2): pickup commented out of master.cf, master stopped, the
//! public/pickup endpoint removed, the maildrop's mode wrong, qmgr
//! commented out, showq removed from master.cf.

use std::process::Command;

use postkick_testkit::daemon::postkickd;
use postkick_testkit::{postfix, postfix_installed};

/// `postkickd doctor -c CONFIG`: its exit code and stdout.
fn doctor(instance: &postfix::Instance) -> (i32, String, String) {
    let rules = instance
        .write_rules("rules:\n  - name: drop\n    watch: maildrop\n    kick: public pickup W\n");
    postkickd(&[
        "doctor",
        "--rules",
        rules.to_str().expect("utf8"),
        "-c",
        instance.config_str(),
    ])
}

fn postconf(instance: &postfix::Instance, args: &[&str]) {
    let status = Command::new("postconf")
        .args(["-c", instance.config_str()])
        .args(args)
        .status()
        .expect("postconf");
    assert!(status.success());
}

fn reload(instance: &postfix::Instance) {
    let status = Command::new("postfix")
        .args(["-c", instance.config_str(), "reload"])
        .output()
        .expect("postfix reload");
    assert!(status.status.success(), "{status:?}");
}

/// The line of `stdout` about `link`.
fn line<'t>(stdout: &'t str, link: &str) -> &'t str {
    stdout
        .lines()
        .find(|l| {
            l.split_whitespace().nth(1) == Some(link.split_whitespace().next().unwrap_or(link))
                && l.contains(link)
        })
        .unwrap_or_else(|| panic!("no line about {link} in\n{stdout}"))
}

#[test]
fn doctor_finds_every_link_ok_on_a_healthy_postfix() {
    if !postfix_installed("doctor_finds_every_link_ok_on_a_healthy_postfix") {
        return;
    }
    let instance = postfix::Instance::start(&postfix::Options::default());
    let (status, stdout, stderr) = doctor(&instance);
    assert_eq!(status, 0, "{stdout}{stderr}");
    for link in [
        "master",
        "master.cf pickup",
        "endpoint public/pickup",
        "master.cf qmgr",
        "endpoint public/qmgr",
        "master.cf showq",
        "maildrop",
        "pickup",
        "showq",
        "qmgr",
        "deferred",
        "hold",
    ] {
        assert!(line(&stdout, link).starts_with("ok "), "{link}: {stdout}");
    }
}

/// Runs doctor after `fault` and asserts it fails naming `says`.
fn fault(
    name: &str,
    options: postfix::Options,
    fault: impl FnOnce(&postfix::Instance),
    says: &[&str],
) {
    if !postfix_installed(name) {
        return;
    }
    let instance = postfix::Instance::start(&options);
    fault(&instance);
    let (status, stdout, stderr) = doctor(&instance);
    assert_eq!(status, 2, "{stdout}{stderr}");
    for text in says {
        assert!(
            stdout.contains(text) && stderr.contains(text),
            "no {text:?} in\n{stdout}\n{stderr}"
        );
    }
    assert!(stderr.starts_with("postkickd: CRITICAL: "), "{stderr}");
}

#[test]
fn doctor_names_pickup_commented_out_of_master_cf() {
    fault(
        "doctor_names_pickup_commented_out_of_master_cf",
        postfix::Options {
            pickup_disabled: true,
            ..postfix::Options::default()
        },
        |_| {},
        &[
            "pickup is not in",
            "(commented out at line",
            "restore that entry, then postfix reload",
        ],
    );
}

#[test]
fn doctor_names_a_stopped_master() {
    fault(
        "doctor_names_a_stopped_master",
        postfix::Options::default(),
        postfix::Instance::stop,
        &["Postfix is not running: no master process", "start"],
    );
}

#[test]
fn doctor_names_a_removed_pickup_endpoint() {
    fault(
        "doctor_names_a_removed_pickup_endpoint",
        postfix::Options::default(),
        |instance| std::fs::remove_file(instance.queue_path("public/pickup")).expect("rm"),
        &[
            "public/pickup is not usable while master runs",
            "postfix reload makes master create it again",
        ],
    );
}

#[test]
fn doctor_names_a_maildrop_with_the_wrong_mode() {
    fault(
        "doctor_names_a_maildrop_with_the_wrong_mode",
        postfix::Options::default(),
        |instance| {
            std::fs::set_permissions(
                instance.queue_path("maildrop"),
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )
            .expect("chmod");
        },
        &[
            "0755, where postdrop and pickup need postfix:postdrop 0730",
            "set-permissions",
        ],
    );
}

#[test]
fn doctor_names_qmgr_commented_out() {
    fault(
        "doctor_names_qmgr_commented_out",
        postfix::Options::default(),
        |instance| {
            postconf(instance, &["-M#", "qmgr/unix"]);
            reload(instance);
        },
        &["qmgr is not in", "(commented out at line"],
    );
}

#[test]
fn doctor_names_showq_removed_from_master_cf() {
    fault(
        "doctor_names_showq_removed_from_master_cf",
        postfix::Options::default(),
        |instance| {
            postconf(instance, &["-MX", "showq/unix"]);
            reload(instance);
        },
        &["showq is not in", "add showq back"],
    );
}
