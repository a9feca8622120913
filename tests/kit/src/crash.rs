//! Killing the daemon (`kill -9`) at random moments while a `catch_up`
//! rule fires every second, restarting it each time, and counting what
//! its endpoint received against what its state file says fired.
//!
//! Every fire is on disk before its kick goes out, so in each run the
//! kicks received must equal the fires the state file accounts for: the
//! catch-up at start (when a slot passed after the last recorded fire)
//! and the slots after start up to the last recorded fire. More kicks than
//! that means a kick went out unrecorded, which the next start repeats;
//! fewer means a recorded fire never kicked (lost). A run whose start
//! straddles a slot cannot be attributed and is counted apart.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::daemon::Daemon;
use crate::{traversable_tempdir, QueueDir, ServerStyle, SocketServer};

/// What the kills showed.
#[derive(Debug, Default, Clone, Copy)]
pub struct CrashCounts {
    /// Runs whose kicks matched their recorded fires exactly.
    pub exact: usize,
    /// Runs that could not be attributed (their start straddled a slot).
    pub unclear: usize,
    /// Kicks that went out without their fire on disk: each one is kicked
    /// again by the next start.
    pub repeated: usize,
    /// Fires on disk whose kick never went out.
    pub lost: usize,
    /// Kicks received in all.
    pub kicks: usize,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The rule's last fire in the state file, in seconds since the epoch.
fn last_fire(state: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(state).ok()?;
    let document: serde_json::Value = serde_json::from_str(&text).ok()?;
    let at: jiff::Timestamp = document["last_fire"]["second"].as_str()?.parse().ok()?;
    Some(at.as_nanosecond() as f64 / 1e9)
}

/// Whether a whole second lies in `(after, until]`.
fn slot_in(after: f64, until: f64) -> bool {
    until.floor() > after
}

/// Whole seconds in `(after, until]`.
fn slots_in(after: f64, until: f64) -> usize {
    (until.floor() - after.floor()).max(0.0) as usize
}

/// Starts and kills the daemon `kills` times, each at a random moment
/// 50-1,500 ms after it is ready.
pub fn kill_at_random_moments(kills: usize) -> CrashCounts {
    let tmp = traversable_tempdir();
    let dir = QueueDir::create(tmp.path(), "queue_directory = {queue}\n");
    let qmgr = SocketServer::start(&dir.endpoint("public", "qmgr"), ServerStyle::UntilNul);
    let rules = tmp.path().join("rules.yaml");
    crate::rules::write(
        &rules,
        &dir.config,
        "rules:\n  - name: second\n    cron: \"* * * * * *\"\n    catch_up: true\n    kick: public qmgr I\n",
    );
    let state = tmp.path().join("state");
    let state_arg = state.to_str().expect("utf8");
    let mut random = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.subsec_nanos() as u64 | 1);
    let mut counts = CrashCounts::default();
    let mut last: Option<f64> = None;
    for run in 0..kills {
        let before = qmgr.received.count();
        let spawned = now();
        let daemon = Daemon::start(
            &rules,
            &["--state", state_arg],
            &tmp.path().join(format!("daemon-{run}.log")),
        );
        let ready = now();
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        std::thread::sleep(Duration::from_millis(50 + random % 1450));
        drop(daemon);
        // A kick that connected before the kill is still accepted.
        std::thread::sleep(Duration::from_millis(100));
        let received = qmgr.received.count() - before;
        counts.kicks += received;
        let recorded = last_fire(&state);
        if slot_in(spawned, ready + 0.05) {
            counts.unclear += 1;
        } else {
            let caught_up = last.is_some_and(|last| slot_in(last, spawned));
            let slots = recorded.map_or(0, |at| slots_in(ready, at));
            let fires = slots + usize::from(caught_up);
            match received.cmp(&fires) {
                std::cmp::Ordering::Equal => counts.exact += 1,
                std::cmp::Ordering::Greater => counts.repeated += received - fires,
                std::cmp::Ordering::Less => counts.lost += fires - received,
            }
        }
        last = recorded;
    }
    counts
}
