//! postkickd where systemd does not prepare its way (sysvinit, by hand, a
//! container): it makes its own runtime and state directories or refuses
//! to start naming them, `reload` finds it through its control socket,
//! and the socket's group is the one the documentation names.

use std::process::Command;
use std::time::Duration;

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
/// /run, /var/lib and /etc/postfix in a private mount namespace), beside
/// a second Postfix instance: each daemon makes its own directories
/// (/run/postkickd and /var/lib/postkick for the default instance,
/// /run/postkickd-NAME and /var/lib/postkick-NAME for the instance
/// multi_instance_name names); `status`, `kick` and `reload` find each
/// through `-c` as postqueue does; a reload cannot move a daemon to
/// another instance; stopping one leaves the other's socket and state
/// alone; a user who cannot make the directories is refused at start,
/// naming them.
#[test]
fn each_instance_has_its_own_daemon_found_by_its_config_directory() {
    if !require(
        "unshare, setpriv, root and /etc/postfix",
        have_program("unshare")
            && have_program("setpriv")
            && is_root()
            && std::path::Path::new("/etc/postfix").is_dir(),
    ) {
        return;
    }
    let default = Setup::new("rules: []\n");
    let out = Setup::new("rules: []\n");
    let default_qmgr = default.socket("public", "qmgr");
    let out_qmgr = out.socket("public", "qmgr");
    let root = &default.dir.root;
    // Rules that name no configuration directory: -c (or the default)
    // chooses the instance.
    let default_rules = root.join("default.yaml");
    std::fs::write(
        &default_rules,
        "rules:\n  - name: default-rule\n    every: 1s\n    kick: public qmgr A\n",
    )
    .expect("rules");
    let out_rules = root.join("out.yaml");
    std::fs::write(
        &out_rules,
        "rules:\n  - name: out-rule\n    every: 1s\n    kick: public qmgr I\n",
    )
    .expect("rules");
    let out_config = out.dir.config.display().to_string();
    std::fs::write(
        out.dir.config.join("main.cf"),
        format!(
            "queue_directory = {}\nmulti_instance_name = postfix-out\n",
            out.dir.queue.display()
        ),
    )
    .expect("main.cf");
    let script = root.join("namespace.sh");
    let log = root.join("daemon.log");
    write_script(
        &script,
        &format!(
            r#"#!/bin/sh
set -u
for dir in /run /var/lib /etc/postfix; do mount -t tmpfs -o mode=755 tmpfs $dir || exit 90; done
echo "queue_directory = {default_queue}" > /etc/postfix/main.cf
pk={pk}
if setpriv --reuid=nobody --regid=nogroup --clear-groups "$pk" run --rules {default_rules} 2>&1; then echo "nobody started"; fi
"$pk" check -c {out_config} 2>&1
"$pk" run --rules {default_rules} 2>{log} &
default=$!
"$pk" run -c {out_config} --rules {out_rules} 2>>{log} &
out=$!
for _ in $(seq 100); do "$pk" status >/dev/null 2>&1 && "$pk" status -c {out_config} >/dev/null 2>&1 && break; sleep 0.1; done
echo "default status: $("$pk" status 2>&1 | grep -o '^[a-z]*-rule' | tr '\n' ' ')"
echo "out status: $("$pk" status -c {out_config} 2>&1 | grep -o '^[a-z]*-rule' | tr '\n' ' ')"
"$pk" kick -c {out_config} out-rule >/dev/null; echo "kick exit $?"
"$pk" reload -c {out_config} >/dev/null; echo "reload exit $?"
"$pk" reload >/dev/null; echo "default reload exit $?"
cp {default_rules} {default_rules}.kept
printf 'postfix:\n  config_directory: {out_config}\nrules: []\n' > {default_rules}
"$pk" reload 2>&1; echo "moved reload exit $?"
cp {default_rules}.kept {default_rules}
echo "state directories $(stat -c %a /var/lib/postkick) $(stat -c %a /var/lib/postkick-postfix-out)"
echo "runtime directories $(stat -c %a /run/postkickd) $(stat -c %a /run/postkickd-postfix-out)"
# Each interval fire is on disk within a second.
for _ in $(seq 50); do test -f /var/lib/postkick/state && test -f /var/lib/postkick-postfix-out/state && break; sleep 0.1; done
kill $default; wait $default; echo "default exit $?"
test -e /run/postkickd/control && echo "default socket left" || echo "default socket removed"
test -S /run/postkickd-postfix-out/control && echo "out socket kept"
"$pk" status -c {out_config} >/dev/null; echo "out status after the default stopped: $?"
"$pk" status 2>&1 | tail -n 1
test -f /var/lib/postkick/state && echo "default state kept"
test -f /var/lib/postkick-postfix-out/state && echo "out state kept"
kill $out; wait $out; echo "out exit $?"
"#,
            pk = binary().display(),
            default_queue = default.dir.queue.display(),
            default_rules = default_rules.display(),
            out_rules = out_rules.display(),
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
        "/etc/postkick/postfix-out.yaml: cannot read the rules file",
        "default status: default-rule \n",
        "out status: out-rule \n",
        "kick exit 0",
        "reload exit 0",
        "default reload exit 0",
        "points at another Postfix instance than the default instance (/etc/postfix)",
        "moved reload exit 1",
        "state directories 700 700",
        "runtime directories 755 755",
        "default exit 0",
        "default socket removed",
        "out socket kept",
        "out status after the default stopped: 0",
        "is it running (systemctl status postkickd)?",
        "default state kept",
        "out state kept",
        "out exit 0",
    ] {
        assert!(
            stdout.contains(line),
            "no {line:?} in:\n{stdout}\n{daemon_log}"
        );
    }
    // Each daemon kicked its own queue only (A for the default, I for
    // the instance): its intervals, and `kick` of the instance's rule.
    let out_kicks = out_qmgr.received.wait_for(2, Duration::from_secs(5));
    let default_kicks = default_qmgr.received.wait_for(1, Duration::from_secs(5));
    assert!(
        out_kicks.iter().all(|kick| kick.starts_with(b"I"))
            && default_kicks.iter().all(|kick| kick.starts_with(b"A")),
        "{out_kicks:?} {default_kicks:?}"
    );
}
