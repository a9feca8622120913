//! End-to-end behaviour of the `postkick` command: against endpoints the
//! tests create, side by side with Postfix's own `postkick`, and against a
//! real private Postfix instance.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use postkick_testkit::{
    datagram_socket, mkfifo, our_postkick, postfix, postfix_installed, run_kick, stale_socket,
    status_and_stderr, traversable_tempdir, FifoServer, QueueDir, ServerStyle, SocketServer,
};

const MAIN_CF: &str = "queue_directory = {queue}\n";

/// Endpoints a case set up, kept alive while the command runs.
#[derive(Default)]
struct Fixture {
    sockets: Vec<SocketServer>,
    fifos: Vec<FifoServer>,
    _datagrams: Vec<std::os::unix::net::UnixDatagram>,
}

impl Fixture {
    fn socket(dir: &QueueDir, class: &str, service: &str, style: ServerStyle) -> Fixture {
        Fixture {
            sockets: vec![SocketServer::start(&dir.endpoint(class, service), style)],
            ..Fixture::default()
        }
    }

    fn fifo(dir: &QueueDir, class: &str, service: &str) -> Fixture {
        Fixture {
            fifos: vec![FifoServer::start(&dir.endpoint(class, service))],
            ..Fixture::default()
        }
    }

    /// What every endpoint received.
    fn received(&mut self) -> Vec<Vec<u8>> {
        let mut all: Vec<Vec<u8>> = self
            .sockets
            .iter()
            .flat_map(|s| s.received.connections())
            .collect();
        all.extend(self.fifos.iter_mut().map(FifoServer::drain));
        all
    }
}

struct Case {
    name: &'static str,
    main_cf: &'static str,
    setup: fn(&QueueDir) -> Fixture,
    /// `{config}` and `{root}` are replaced.
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

fn none(_: &QueueDir) -> Fixture {
    Fixture::default()
}

fn qmgr_socket(dir: &QueueDir) -> Fixture {
    Fixture::socket(dir, "public", "qmgr", ServerStyle::UntilNul)
}

fn pickup_fifo(dir: &QueueDir) -> Fixture {
    Fixture::fifo(dir, "public", "pickup")
}

const C: &str = "{config}";

fn cases() -> Vec<Case> {
    let case = |name, main_cf, setup, args, env| Case {
        name,
        main_cf,
        setup,
        args,
        env,
    };
    vec![
        case("socket: request and NUL", MAIN_CF, qmgr_socket, &["-c", C, "public", "qmgr", "W"], &[]),
        case("socket: empty request is a lone NUL", MAIN_CF, qmgr_socket, &["-c", C, "public", "qmgr", ""], &[]),
        case("socket: -cDIR form", MAIN_CF, qmgr_socket, &["-c{config}", "public", "qmgr", "FADI"], &[]),
        case("fifo: request only", MAIN_CF, pickup_fifo, &["-c", C, "public", "pickup", "W"], &[]),
        case("fifo: empty request writes nothing", MAIN_CF, pickup_fifo, &["-c", C, "public", "pickup", ""], &[]),
        case(
            "fifo without a reader",
            MAIN_CF,
            |d| {
                mkfifo(&d.endpoint("public", "pickup"));
                Fixture::default()
            },
            &["-c", C, "public", "pickup", "W"],
            &[],
        ),
        case(
            "fifo with two hard links",
            MAIN_CF,
            |d| {
                let f = pickup_fifo(d);
                std::fs::hard_link(d.endpoint("public", "pickup"), d.endpoint("public", "other")).expect("link");
                f
            },
            &["-c", C, "public", "pickup", "W"],
            &[],
        ),
        case(
            "symlink to a fifo in a root-only directory",
            MAIN_CF,
            |d| {
                let f = Fixture::fifo(d, "private", "real");
                std::os::unix::fs::symlink(d.endpoint("private", "real"), d.endpoint("public", "pickup")).expect("symlink");
                f
            },
            &["-c", C, "public", "pickup", "W"],
            &[],
        ),
        case(
            "symlink to a fifo in a group-writable directory",
            MAIN_CF,
            |d| {
                let f = Fixture::fifo(d, "private", "real");
                std::os::unix::fs::symlink(d.endpoint("private", "real"), d.endpoint("public", "pickup")).expect("symlink");
                std::fs::set_permissions(d.queue.join("public"), std::fs::Permissions::from_mode(0o775)).expect("chmod");
                f
            },
            &["-c", C, "public", "pickup", "W"],
            &[],
        ),
        case(
            "stale socket",
            MAIN_CF,
            |d| {
                stale_socket(&d.endpoint("public", "qmgr"));
                Fixture::default()
            },
            &["-c", C, "public", "qmgr", "W"],
            &[],
        ),
        case("missing endpoint", MAIN_CF, none, &["-c", C, "public", "qmgr", "W"], &[]),
        case(
            "regular file",
            MAIN_CF,
            |d| {
                std::fs::write(d.endpoint("public", "qmgr"), "").expect("write");
                Fixture::default()
            },
            &["-c", C, "public", "qmgr", "W"],
            &[],
        ),
        case(
            "directory as endpoint",
            MAIN_CF,
            |d| {
                std::fs::create_dir(d.endpoint("public", "qmgr")).expect("mkdir");
                Fixture::default()
            },
            &["-c", C, "public", "qmgr", "W"],
            &[],
        ),
        case(
            "datagram socket",
            MAIN_CF,
            |d| Fixture {
                _datagrams: vec![datagram_socket(&d.endpoint("public", "postlog"))],
                ..Fixture::default()
            },
            &["-c", C, "public", "postlog", "W"],
            &[],
        ),
        case(
            "socket path of 108 bytes or more",
            MAIN_CF,
            |d| {
                let f = Fixture::socket(d, "private", "real", ServerStyle::UntilNul);
                std::os::unix::fs::symlink(d.endpoint("private", "real"), d.endpoint("public", &"x".repeat(110))).expect("symlink");
                f
            },
            &["-c", C, "public", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "W"],
            &[],
        ),
        case("empty class", MAIN_CF, none, &["-c", C, "", "qmgr", "W"], &[]),
        case("no arguments", MAIN_CF, none, &[], &[]),
        case("invalid option", MAIN_CF, none, &["-x", "public", "qmgr", "W"], &[]),
        case("--c is an invalid option", MAIN_CF, none, &["--c", "public", "qmgr", "W"], &[]),
        case("-c without a value", MAIN_CF, none, &["-c"], &[]),
        case("four operands", MAIN_CF, none, &["-c", C, "a", "b", "c", "d"], &[]),
        case("option after an operand", MAIN_CF, none, &["-c", C, "public", "-v", "qmgr", "W"], &[]),
        case("missing main.cf", MAIN_CF, none, &["-c", "{root}/nonexistent", "public", "qmgr", "W"], &[]),
        case(
            "main.cf is a directory",
            MAIN_CF,
            |d| {
                std::fs::create_dir_all(d.root.join("dircf/main.cf")).expect("mkdir");
                Fixture::default()
            },
            &["-c", "{root}/dircf", "public", "qmgr", "W"],
            &[],
        ),
        case("missing queue directory", "queue_directory = {root}/missing\n", none, &["-c", C, "public", "qmgr", "W"], &[]),
        case("MAIL_CONFIG names the directory", MAIN_CF, qmgr_socket, &["public", "qmgr", "I"], &[("MAIL_CONFIG", C)]),
        case("-c overrides MAIL_CONFIG", MAIN_CF, qmgr_socket, &["-c", C, "public", "qmgr", "D"], &[("MAIL_CONFIG", "/nonexistent")]),
        case(
            "$name expansion with a continuation line",
            "base = {root}\nsub = queue\n# comment\nqueue_directory =\n\n  ${base?{$base}:{/nope}}/$(sub)\n",
            qmgr_socket,
            &["-c", C, "public", "qmgr", "W"],
            &[],
        ),
        case(
            "hung peer with application_event_drain_time = 2s",
            "queue_directory = {queue}\napplication_event_drain_time = 2s\n",
            |d| Fixture::socket(d, "public", "qmgr", ServerStyle::Hung),
            &["-c", C, "public", "qmgr", "W"],
            &[],
        ),
        case("bad trigger_timeout", "queue_directory = {queue}\ntrigger_timeout = 10x\n", none, &["-c", C, "public", "qmgr", "W"], &[]),
        case("zero drain time", "queue_directory = {queue}\napplication_event_drain_time = 0\n", none, &["-c", C, "public", "qmgr", "W"], &[]),
        case("bogus compatibility level", "compatibility_level = bogus\n", none, &["-c", C, "public", "qmgr", "W"], &[]),
        case("main.cf syntax error", "queue_directory = {queue}\n\nfoo\n bar\n", none, &["-c", C, "public", "qmgr", "W"], &[]),
        case("overriding entry", "queue_directory = /nope\nqueue_directory = {queue}\n", qmgr_socket, &["-c", C, "public", "qmgr", "W"], &[]),
        case("leading whitespace", "  stray = value that is longer than thirty bytes\nqueue_directory = {queue}\n", qmgr_socket, &["-c", C, "public", "qmgr", "W"], &[]),
        case("self-referencing queue_directory", "queue_directory = $queue_directory\n", none, &["-c", C, "public", "qmgr", "W"], &[]),
        case("truncated macro", "queue_directory = ${queue\n", none, &["-c", C, "public", "qmgr", "W"], &[]),
        case("empty queue_directory", "queue_directory =\n", none, &["-c", C, "public", "qmgr", "W"], &[]),
        case("bad import_environment", "queue_directory = {queue}\nimport_environment = {FOO\n", none, &["-c", C, "public", "qmgr", "W"], &[]),
        case("UTF-8 kept with smtputf8_enable", "compatibility_level = 3.6\nqueue_directory = {queue}\n", none, &["-c", C, "public", "é\tx", "W"], &[]),
        case("UTF-8 replaced without smtputf8_enable", MAIN_CF, none, &["-c", C, "public", "é", "W"], &[]),
    ]
}

struct Observed {
    status: i32,
    stderr: String,
    received: Vec<Vec<u8>>,
}

fn observe(program: &Path, case: &Case, root: &Path) -> Observed {
    for entry in std::fs::read_dir(root).expect("read root") {
        let path = entry.expect("entry").path();
        std::fs::remove_dir_all(&path)
            .or_else(|_| std::fs::remove_file(&path))
            .expect("clean root");
    }
    let dir = QueueDir::create(root, case.main_cf);
    let mut fixture = (case.setup)(&dir);
    let fill = |s: &str| {
        OsString::from(
            s.replace("{config}", &dir.config.display().to_string())
                .replace("{root}", &dir.root.display().to_string()),
        )
    };
    let args: Vec<OsString> = case.args.iter().map(|a| fill(a)).collect();
    let env: Vec<(&str, OsString)> = case.env.iter().map(|(k, v)| (*k, fill(v))).collect();
    let args: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
    let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
    let output = run_kick(program, &args, &env, root);
    let (status, stderr) = status_and_stderr(&output);
    Observed {
        status,
        stderr,
        received: fixture.received(),
    }
}

/// Each case run by Postfix's postkick and by ours in the same directory:
/// the same exit status, the same stderr, the same bytes on the wire.
#[test]
fn same_status_stderr_and_bytes_as_postfix_postkick() {
    if !postfix_installed("same_status_stderr_and_bytes_as_postfix_postkick") {
        return;
    }
    let tmp = traversable_tempdir();
    let mut mismatches = Vec::new();
    let cases = cases();
    assert!(cases.len() >= 20);
    for case in &cases {
        let theirs = observe(&postkick_testkit::postfix_postkick(), case, tmp.path());
        let ours = observe(&our_postkick(), case, tmp.path());
        let same = theirs.status == ours.status
            && theirs.stderr == ours.stderr
            && theirs.received == ours.received;
        if !same {
            mismatches.push(format!(
                "{}:\n  postfix: {} {:?} {:?}\n  ours:    {} {:?} {:?}",
                case.name,
                theirs.status,
                theirs.stderr,
                theirs.received,
                ours.status,
                ours.stderr,
                ours.received
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

fn kick(dir: &QueueDir, args: &[&str]) -> (i32, String) {
    let mut all: Vec<&OsStr> = vec![OsStr::new("-c"), dir.config.as_os_str()];
    all.extend(args.iter().map(OsStr::new));
    status_and_stderr(&run_kick(&our_postkick(), &all, &[], &dir.root))
}

#[test]
fn socket_gets_request_then_nul() {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), MAIN_CF);
    let server = SocketServer::start(&dir.endpoint("public", "qmgr"), ServerStyle::UntilNul);
    assert_eq!(kick(&dir, &["public", "qmgr", "hello"]), (0, String::new()));
    assert_eq!(server.received.connections(), vec![b"hello\0".to_vec()]);
}

/// Postfix 3.7's postkick dies of SIGPIPE when a trigger server reads the
/// request and closes before the NUL is written; ours delivers every time.
#[test]
fn regression_sigpipe_peer_closing_before_nul_is_a_delivered_kick() {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), MAIN_CF);
    let server = SocketServer::start(&dir.endpoint("public", "qmgr"), ServerStyle::OneRead);
    for _ in 0..200 {
        assert_eq!(kick(&dir, &["public", "qmgr", "W"]), (0, String::new()));
    }
    let got = server.received.wait_for(200, Duration::from_secs(10));
    assert!(got.iter().all(|bytes| bytes.first() == Some(&b'W')));
}

#[test]
fn fatal_errors_exit_at_once() {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), MAIN_CF);
    let started = Instant::now();
    let (status, stderr) = kick(&dir, &["too", "few"]);
    assert_eq!(status, 1);
    assert!(stderr.starts_with("postkick: fatal: usage:"), "{stderr}");
    // Postfix sleeps a full second before a fatal exit; we do not.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn hung_peer_is_left_at_the_drain_time() {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(
        tmp.path(),
        "queue_directory = {queue}\napplication_event_drain_time = 1s\n",
    );
    let _server = SocketServer::start(&dir.endpoint("public", "qmgr"), ServerStyle::Hung);
    let started = Instant::now();
    assert_eq!(kick(&dir, &["public", "qmgr", "W"]), (0, String::new()));
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[test]
fn verbose_names_config_endpoint_bytes_and_close() {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), MAIN_CF);
    let _server = SocketServer::start(&dir.endpoint("public", "qmgr"), ServerStyle::UntilNul);
    let (status, stderr) = kick(&dir, &["-v", "public", "qmgr", "W"]);
    assert_eq!(status, 0);
    assert!(
        stderr.contains(&format!(
            "postkick: config_directory {}",
            dir.config.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("postkick: public/qmgr: unix-domain socket, wrote 2 bytes"),
        "{stderr}"
    );
    assert!(
        stderr.contains("postkick: public/qmgr: server closed after"),
        "{stderr}"
    );
}

#[test]
fn verbose_reports_why_a_fifo_could_not_be_opened() {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), MAIN_CF);
    mkfifo(&dir.endpoint("public", "pickup"));
    let (status, stderr) = kick(&dir, &["-v", "public", "pickup", "W"]);
    assert_eq!(status, 1);
    assert!(
        stderr.contains("postkick: fifo_trigger: open public/pickup: cannot open file: No such device or address\n"),
        "{stderr}"
    );
    assert!(stderr.ends_with(
        "postkick: warning: Cannot contact class public service pickup - perhaps the mail system is down\n"
    ));
}

#[test]
fn verbose_says_when_a_service_will_not_understand_the_request() {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), MAIN_CF);
    let _server = SocketServer::start(&dir.endpoint("private", "anvil"), ServerStyle::UntilNul);
    let (status, stderr) = kick(&dir, &["-v", "private", "anvil", "refresh"]);
    assert_eq!(status, 0);
    assert!(
        stderr
            .contains("postkick: anvil: not understood: the server logs \"premature end-of-input"),
        "{stderr}"
    );
    assert!(
        stderr.contains("postkick: anvil: anvil has no request that resets its counters"),
        "{stderr}"
    );
    let (_, quiet) = kick(&dir, &["private", "anvil", "refresh"]);
    assert_eq!(quiet, "");
}

#[test]
fn mail_verbose_in_the_environment_turns_on_debug_lines() {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), MAIN_CF);
    let _server = SocketServer::start(&dir.endpoint("public", "qmgr"), ServerStyle::UntilNul);
    let args = [
        OsStr::new("-c"),
        dir.config.as_os_str(),
        OsStr::new("public"),
        OsStr::new("qmgr"),
        OsStr::new("W"),
    ];
    let output = run_kick(
        &our_postkick(),
        &args,
        &[("MAIL_VERBOSE", OsStr::new(""))],
        &dir.root,
    );
    let (status, stderr) = status_and_stderr(&output);
    assert_eq!(status, 0);
    assert!(stderr.contains("wrote 2 bytes"), "{stderr}");
}

#[test]
fn read_timeout_before_drain_is_reported_by_the_library() {
    let tmp = traversable_tempdir();
    let path = tmp.path().join("hung");
    let _server = SocketServer::start(&path, ServerStyle::Hung);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .expect("runtime");
    let timeouts = postkick::postfix::endpoint::Timeouts {
        io: Duration::from_secs(1),
        read: Duration::from_millis(200),
        drain: Duration::from_secs(5),
    };
    let report = runtime
        .block_on(postkick::postfix::endpoint::kick(&path, b"W", timeouts))
        .expect("delivered");
    assert!(
        matches!(
            report.peer,
            postkick::postfix::endpoint::PeerOutcome::ReadTimeout(_)
        ),
        "{report:?}"
    );
    assert_eq!(report.bytes_written, 2);
}

/// A real Postfix: 400 kicks of `public/qmgr` and `public/pickup`, every one
/// delivered (exit 0) and seen in Postfix's log; and a raw request to anvil
/// is logged by anvil as the protocol error the catalog predicts.
#[test]
fn live_postfix_receives_every_kick() {
    if !postfix_installed("live_postfix_receives_every_kick") {
        return;
    }
    let instance = postfix::Instance::start(&postfix::Options::default());
    let run = |args: &[&str]| {
        let mut all = vec!["-c", instance.config_str()];
        all.extend_from_slice(args);
        let all: Vec<&OsStr> = all.iter().map(OsStr::new).collect();
        status_and_stderr(&run_kick(&our_postkick(), &all, &[], &instance.root))
    };
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..400 {
        let args: &[&str] = match i % 4 {
            0 => &["public", "qmgr", "W"],
            1 => &["public", "qmgr", "I"],
            _ => &["public", "pickup", "W"],
        };
        *statuses.entry(run(args)).or_insert(0) += 1;
    }
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        vec![((0, String::new()), 400)]
    );
    let limit = Duration::from_secs(30);
    assert!(instance.wait_for_log("request: 87 (W)", 100, limit) >= 100);
    assert!(instance.wait_for_log("request: 73 (I)", 100, limit) >= 100);
    // Each kick of either trigger server is one accepted trigger.
    assert!(
        instance.wait_for_log("trigger_server_accept_local: trigger arrived", 400, limit) >= 400
    );
    assert_eq!(run(&["private", "anvil", "refresh"]), (0, String::new()));
    instance.wait_for_log(
        "premature end-of-input on anvil socket while reading input attribute name",
        1,
        limit,
    );
}
