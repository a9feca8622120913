//! One kick, ours beside Postfix's `/usr/sbin/postkick`: wall time and
//! peak RSS of the whole process, over a UNIX-domain socket and over a FIFO;
//! then kick throughput of the daemon's sender (the library, in-process)
//! beside spawning a `postkick` process per kick, as incron or a shell loop
//! does.
//!
//! Run with `cargo bench --bench kick` (optionally `-- ROUNDS`). Each round
//! runs both commands back to back against the same endpoint, so that the
//! two are measured pair by pair under the same conditions; the medians and
//! the ratio are printed. Nothing here is a test: it asserts nothing.

#![allow(unsafe_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use postkick_testkit::{
    our_postkick, postfix_postkick, FifoServer, QueueDir, ServerStyle, SocketServer,
};

struct Sample {
    wall: Duration,
    max_rss_kib: i64,
}

/// Runs `program args`, returning its wall time and peak RSS.
// The child is reaped by wait4, which Command knows nothing of.
#[allow(clippy::zombie_processes)]
fn measure(program: &Path, args: &[&str]) -> Sample {
    let started = Instant::now();
    let child = Command::new(program)
        .args(args)
        .env_remove("MAIL_CONFIG")
        .spawn()
        .expect("spawn");
    let pid = i32::try_from(child.id()).expect("pid fits");
    let mut status = 0;
    // SAFETY: rusage is plain old data, zero is a valid value for it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own unreaped child; status and usage are valid,
    // writable locals that outlive the call.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(reaped, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{program:?} failed"
    );
    Sample {
        wall,
        max_rss_kib: usage.ru_maxrss,
    }
}

fn median<T: Copy + Ord>(mut values: Vec<T>) -> T {
    values.sort_unstable();
    values[values.len() / 2]
}

/// Kicks per second: the library in-process, then a process per kick.
fn throughput(config: &Path, socket: &Path, ours: &Path, theirs: Option<&Path>) {
    const LIBRARY_KICKS: usize = 20_000;
    const PROCESS_KICKS: usize = 1_000;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .expect("runtime");
    let timeouts = postkick::postfix::endpoint::Timeouts::within(Duration::from_secs(10));
    let started = Instant::now();
    runtime.block_on(async {
        for _ in 0..LIBRARY_KICKS {
            postkick::postfix::endpoint::kick(socket, b"W", timeouts)
                .await
                .expect("kick");
        }
    });
    let library = LIBRARY_KICKS as f64 / started.elapsed().as_secs_f64();
    println!("throughput to a local socket endpoint, one kick after another:");
    println!("  core sender (in-process, as postkickd)  {library:>9.0} kicks/s");
    let config = config.to_str().expect("utf8 path");
    let spawn_rate = |program: &Path| {
        let started = Instant::now();
        for _ in 0..PROCESS_KICKS {
            let status = Command::new(program)
                .args(["-c", config, "public", "qmgr", "W"])
                .status()
                .expect("spawn");
            assert!(status.success() || status.code().is_none());
        }
        PROCESS_KICKS as f64 / started.elapsed().as_secs_f64()
    };
    let ours_rate = spawn_rate(ours);
    println!("  our postkick, a process per kick        {ours_rate:>9.0} kicks/s");
    if let Some(theirs) = theirs {
        let their_rate = spawn_rate(theirs);
        println!("  Postfix's postkick, a process per kick  {their_rate:>9.0} kicks/s");
        println!(
            "  core sender / Postfix's postkick        {:>9.1} x",
            library / their_rate
        );
    }
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().expect("tempdir");
    let queue_dir = QueueDir::create(dir.path(), "queue_directory = {queue}\n");
    let (config, queue) = (&queue_dir.config, &queue_dir.queue);
    let _qmgr = SocketServer::start(&queue_dir.endpoint("public", "qmgr"), ServerStyle::UntilNul);
    let mut pickup = FifoServer::start(&queue_dir.endpoint("public", "pickup"));

    let ours = our_postkick();
    let theirs = postfix_postkick();
    let have_postfix = theirs.exists();
    if !have_postfix {
        println!(
            "{} is not installed: measuring ours alone",
            theirs.display()
        );
    }
    let config_arg = config.to_str().expect("utf8 path");
    println!("one kick, {rounds} rounds, pair by pair (median wall time, median peak RSS)");
    for (label, service, request) in [("socket", "qmgr", "W"), ("fifo", "pickup", "W")] {
        let args = ["-c", config_arg, "public", service, request];
        let mut our_samples = Vec::new();
        let mut their_samples = Vec::new();
        for _ in 0..rounds {
            our_samples.push(measure(&ours, &args));
            if have_postfix {
                their_samples.push(measure(&theirs, &args));
            }
            pickup.drain();
        }
        let summary = |samples: &[Sample]| {
            (
                median(samples.iter().map(|s| s.wall).collect()),
                median(samples.iter().map(|s| s.max_rss_kib).collect()),
            )
        };
        let (our_wall, our_rss) = summary(&our_samples);
        print!(
            "{label:6}  ours     {:>8.3} ms  {:>6} KiB",
            our_wall.as_secs_f64() * 1e3,
            our_rss
        );
        if have_postfix {
            let (their_wall, their_rss) = summary(&their_samples);
            println!(
                "\n{label:6}  postfix  {:>8.3} ms  {:>6} KiB\n{label:6}  ratio    {:>8.2} x   {:>6.2} x (ours / postfix)",
                their_wall.as_secs_f64() * 1e3,
                their_rss,
                our_wall.as_secs_f64() / their_wall.as_secs_f64(),
                our_rss as f64 / their_rss as f64,
            );
        } else {
            println!();
        }
    }
    throughput(
        config,
        &queue.join("public/qmgr"),
        &ours,
        have_postfix.then_some(theirs.as_path()),
    );
}
