//! postkickd where systemd does not prepare its way (sysvinit, by hand, a
//! container): it makes its own runtime and state directories or refuses
//! to start naming them, `reload` finds it through its control socket,
//! and the socket's group is the one the documentation names.

use std::process::Command;

use postkick_testkit::daemon::{as_user, binary, postkickd};
use postkick_testkit::rules::Setup;
use postkick_testkit::{have_program, require, write_script};

#[test]
fn reload_finds_the_daemon_through_its_control_socket() {
    let setup = Setup::new("rules:\n  - name: one\n    every: 1h\n    kick: public qmgr I\n");
    let _qmgr = setup.socket("public", "qmgr");
    let (daemon, control) = setup.start_with_control();
    setup.write_rules(
        "rules:\n  - name: one\n    every: 1h\n    kick: public qmgr I\n  - name: two\n    every: 1h\n    kick: public qmgr I\n",
    );
    let (status, stdout, stderr) = postkickd(&["reload", "--control", &control]);
    assert_eq!(status, 0, "{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("reloaded: 2 rules running")),
        "{stdout}{stderr}"
    );
    assert_eq!(daemon.count_where("event", "reloaded"), 1);

    // A bad file fails the command with every error; the rules run on.
    setup.write_rules("rules:\n  - name: broken\n    every: soon\n    kick: public qmgr I\n");
    let (status, _, stderr) = postkickd(&["reload", "--control", &control]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("bad duration \"soon\""), "{stderr}");
    // The old rules run on, and status warns about the refused reload.
    let (status, stdout, stderr) = postkickd(&["status", "two", "--control", &control]);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stdout.contains("two") && stderr.contains("WARNING: the last reload"),
        "{stdout}{stderr}"
    );

    // It reloads the daemon's own file, and says so when told another.
    let (status, _, stderr) = postkickd(&[
        "reload",
        "--rules",
        "/etc/other.yaml",
        "--control",
        &control,
    ]);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "runs {}, not /etc/other.yaml",
            setup.rules.display()
        )),
        "{stderr}"
    );
}

/// The socket's group is the daemon's own (postdrop under the unit), or
/// `--control-group`'s; a member may ask, anyone else is told which group
/// to join; a group the daemon cannot give the socket to is an error.
#[test]
fn a_member_of_the_control_group_may_ask_and_others_are_told_which_group() {
    if !require("setpriv and root", have_program("setpriv") && is_root()) {
        return;
    }
    let setup = Setup::new("rules:\n  - name: one\n    every: 1h\n    kick: public qmgr I\n");
    let (_daemon, control) = setup.start_with_control_args(&["--control-group", "nogroup"]);
    let member = as_user(&setup.dir.root, "nobody", "nogroup");
    let output = Command::new(&member)
        .args(["status", "--control", &control])
        .output()
        .expect("status");
    assert_eq!(output.status.code(), Some(0), "{output:?}");

    let stranger = setup.dir.root.join("as-stranger.sh");
    write_script(
        &stranger,
        &format!(
            "#!/bin/sh\nexec setpriv --reuid=nobody --regid=daemon --clear-groups {} \"$@\"\n",
            binary().display()
        ),
    );
    let output = Command::new(&stranger)
        .args(["status", "--control", &control])
        .output()
        .expect("status");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("only root and group nogroup may ask"),
        "{stderr}"
    );

    // Not a member of the group it names: refused at start, with the fix.
    let writable = setup.dir.root.join("writable");
    std::fs::create_dir(&writable).expect("mkdir");
    std::fs::set_permissions(
        &writable,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    // `run --control-group GROUP` through `program`: its exit and stderr.
    let run_with_group = |program: &std::path::Path, group: &str| {
        let output = Command::new(program)
            .args(["run", "--rules"])
            .arg(&setup.rules)
            .args(["--control-group", group, "--control"])
            .arg(writable.join("other-control"))
            .arg("--state")
            .arg(writable.join("other-state"))
            .output()
            .expect("run");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (status, stderr) = run_with_group(&member, "daemon");
    assert_eq!(status, Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot give the control socket") && stderr.contains("member of daemon"),
        "{stderr}"
    );
    let (status, stderr) = run_with_group(&binary(), "no-such-group");
    assert_eq!(status, Some(1), "{stderr}");
    assert!(
        stderr.contains("there is no group no-such-group"),
        "{stderr}"
    );
}

fn is_root() -> bool {
    // SAFETY: geteuid takes nothing and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Without systemd's RuntimeDirectory= and StateDirectory= (here: empty
/// /run and /var/lib in a private mount namespace) the daemon makes
/// /run/postkickd and /var/lib/postkick, answers on the default socket,
/// reloads through it, and removes the socket at stop; a user who cannot
/// make them is refused at start, naming them.
#[test]
fn without_systemd_the_daemon_makes_its_directories_or_names_them() {
    if !require(
        "unshare, setpriv and root",
        have_program("unshare") && have_program("setpriv") && is_root(),
    ) {
        return;
    }
    let setup = Setup::new(
        "rules:\n  - name: daily\n    cron: \"@daily\"\n    catch_up: true\n    kick: public qmgr I\n",
    );
    let script = setup.dir.root.join("namespace.sh");
    let log = setup.dir.root.join("daemon.log");
    write_script(
        &script,
        &format!(
            r#"#!/bin/sh
set -u
mount -t tmpfs -o mode=755 tmpfs /run && mount -t tmpfs -o mode=755 tmpfs /var/lib || exit 90
pk={pk}
if setpriv --reuid=nobody --regid=nogroup --clear-groups "$pk" run --rules {rules} 2>&1; then echo "nobody started"; fi
"$pk" run --rules {rules} 2>{log} &
pid=$!
for _ in $(seq 100); do "$pk" status >/dev/null 2>&1 && break; sleep 0.1; done
"$pk" status >/dev/null; echo "status exit $?"
"$pk" reload; echo "reload exit $?"
echo "state directory $(stat -c %a /var/lib/postkick)"
echo "runtime directory $(stat -c %a /run/postkickd)"
kill $pid; wait $pid; echo "run exit $?"
test -e /run/postkickd/control && echo "socket left" || echo "socket removed"
"#,
            pk = binary().display(),
            rules = setup.rules.display(),
            log = log.display(),
        ),
    );
    let output = Command::new("unshare")
        .args(["--mount", "--propagation", "private"])
        .arg(&script)
        .output()
        .expect("unshare");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let daemon_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        stdout.contains("cannot create /run/postkickd for the control socket")
            && stdout.contains("--control PATH")
            && !stdout.contains("nobody started"),
        "{stdout}"
    );
    for line in [
        "status exit 0",
        "reload exit 0",
        "state directory 700",
        "runtime directory 755",
        "run exit 0",
        "socket removed",
    ] {
        assert!(
            stdout.contains(line),
            "no {line:?} in:\n{stdout}\n{daemon_log}"
        );
    }
}
