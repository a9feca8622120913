//! The timers on a simulated clock: tokio's paused time for the monotonic
//! side, [`Simulated`] for the wall side. Every assertion is an exact
//! instant or count; an hour of fires takes milliseconds.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

use super::*;
use crate::postkickd::engine::clock::Simulated;
use crate::postkickd::plan::{CronSpec, EverySpec, Timer};
use crate::rules::schedule::{Cron, Zone};

fn at(text: &str) -> Timestamp {
    text.parse().expect("an instant")
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn cron(name: &str, expression: &str, jitter: Duration, catch_up: bool) -> TimerRule {
    let schedule = Cron::parse(expression, Zone::utc()).expect("a cron expression");
    TimerRule {
        name: name.to_owned(),
        timer: Timer::Cron(Box::new(CronSpec {
            schedule,
            jitter,
            catch_up,
        })),
        live: Arc::default(),
    }
}

fn every(name: &str, period: Duration, jitter: Duration) -> TimerRule {
    TimerRule {
        name: name.to_owned(),
        timer: Timer::Every(EverySpec { period, jitter }),
        live: Arc::default(),
    }
}

/// Timers running on a simulated clock; stopped when dropped.
struct Bench {
    clock: Arc<Simulated>,
    timers: Timers,
    _stop: watch::Sender<Stop>,
}

impl Bench {
    fn start(
        wall: &str,
        jitter_fraction: f64,
        rules: &[TimerRule],
        state: Option<StateFile>,
    ) -> Self {
        let clock = Simulated::new(at(wall), jitter_fraction);
        let (stop, stop_rx) = watch::channel(Stop::Running);
        let timers = Timers::start_on(rules.to_vec(), stop_rx, state, Arc::clone(&clock));
        Self {
            clock,
            timers,
            _stop: stop,
        }
    }

    /// One rule remembered in `state`.
    fn one_with_state(wall: &str, rule: &TimerRule, state: StateFile) -> Self {
        Self::start(wall, 0.0, std::slice::from_ref(rule), Some(state))
    }

    /// One rule without a state file.
    fn one(wall: &str, jitter_fraction: f64, rule: &TimerRule) -> Self {
        Self::start(wall, jitter_fraction, std::slice::from_ref(rule), None)
    }

    /// The wall-clock instants of the next `count` fires of `rule`.
    async fn fires(&self, rule: &TimerRule, count: usize) -> Vec<Timestamp> {
        let mut fired = Vec::new();
        while fired.len() < count {
            rule.live.pending().wait().await;
            rule.live.pending().take();
            fired.push(self.clock.now());
        }
        fired
    }

    /// How many times `rule` fires while `span` of monotonic time passes.
    async fn count_for(&self, rule: &TimerRule, span: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + span;
        let mut count = 0;
        loop {
            tokio::select! {
                () = rule.live.pending().wait() => {
                    rule.live.pending().take();
                    count += 1;
                }
                () = tokio::time::sleep_until(deadline) => return count,
            }
        }
    }
}

fn last_cause(rule: &TimerRule) -> String {
    rule.live.stats().last_cause()
}

#[tokio::test(start_paused = true)]
async fn every_fires_on_its_rhythm_exactly() {
    let rule = every("tick", secs(10), Duration::ZERO);
    let bench = Bench::one("2026-12-02T10:00:00Z", 0.0, &rule);
    let fired = bench.fires(&rule, 6).await;
    let expected: Vec<Timestamp> = (1..=6)
        .map(|k| at("2026-12-02T10:00:00Z") + SignedDuration::from_secs(10 * k))
        .collect();
    assert_eq!(fired, expected);
    assert_eq!(last_cause(&rule), "interval");
}

#[tokio::test(start_paused = true)]
async fn jitter_delays_each_every_fire_but_not_the_rhythm() {
    let rule = every("tick", secs(10), secs(4));
    let bench = Bench::one("2026-12-02T10:00:00Z", 0.5, &rule);
    let fired = bench.fires(&rule, 3).await;
    assert_eq!(
        fired,
        [
            at("2026-12-02T10:00:12Z"),
            at("2026-12-02T10:00:22Z"),
            at("2026-12-02T10:00:32Z")
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn cron_fires_at_its_slots_plus_jitter() {
    let rule = cron("quarter", "*/15 * * * *", secs(60), false);
    let bench = Bench::one("2026-12-02T10:07:00Z", 0.5, &rule);
    let fired = bench.fires(&rule, 3).await;
    assert_eq!(
        fired,
        [
            at("2026-12-02T10:15:30Z"),
            at("2026-12-02T10:30:30Z"),
            at("2026-12-02T10:45:30Z")
        ]
    );
    assert_eq!(
        rule.live.stats().snapshot().next_fire,
        Some(at("2026-12-02T11:00:30Z"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_clock_stepped_forward_fires_the_passed_slots_once_and_replans() {
    let rule = cron("hourly", "0 * * * *", Duration::ZERO, false);
    let bench = Bench::one("2026-12-02T10:30:00Z", 0.0, &rule);
    tokio::time::sleep(secs(600)).await;
    // 10:40 becomes 13:40: the slots 11:00, 12:00 and 13:00 passed.
    bench.clock.step(SignedDuration::from_hours(3));
    let fired = bench.fires(&rule, 1).await;
    assert_eq!(fired, [at("2026-12-02T13:40:00Z")]);
    assert!(last_cause(&rule).contains("11:00"), "{}", last_cause(&rule));
    // Nothing more until the next slot of the new wall time, 14:00.
    assert_eq!(bench.count_for(&rule, secs(20 * 60 - 1)).await, 0);
    assert_eq!(bench.fires(&rule, 1).await, [at("2026-12-02T14:00:00Z")]);
}

#[tokio::test(start_paused = true)]
async fn a_clock_stepped_back_never_repeats_a_slot() {
    let rule = cron("hourly", "0 * * * *", Duration::ZERO, false);
    let bench = Bench::one("2026-12-02T10:50:00Z", 0.0, &rule);
    assert_eq!(bench.fires(&rule, 1).await, [at("2026-12-02T11:00:00Z")]);
    tokio::time::sleep(secs(60)).await;
    // 11:01 becomes 10:31: the 11:00 slot comes round again on the wall.
    bench.clock.step(SignedDuration::from_mins(-30));
    assert_eq!(bench.fires(&rule, 1).await, [at("2026-12-02T12:00:00Z")]);
    // 89 minutes of monotonic time from the step: the wait for 12:00.
    assert_eq!(bench.clock.now(), at("2026-12-02T12:00:00Z"));
}

#[tokio::test(start_paused = true)]
async fn a_suspend_fires_a_cron_rule_once_on_resume_and_leaves_every_alone() {
    let five = cron("five", "*/5 * * * *", Duration::ZERO, false);
    let tick = every("tick", secs(600), Duration::ZERO);
    let bench = Bench::start(
        "2026-12-02T10:01:00Z",
        0.0,
        &[five.clone(), tick.clone()],
        None,
    );
    tokio::time::sleep(secs(60)).await;
    // Asleep for two hours: the wall clock jumps, the monotonic one did not
    // move, as Linux's CLOCK_MONOTONIC does not during a suspend.
    bench.clock.step(SignedDuration::from_hours(2));
    assert_eq!(bench.fires(&five, 1).await, [at("2026-12-02T12:02:00Z")]);
    assert_eq!(bench.count_for(&five, secs(179)).await, 0);
    assert_eq!(bench.fires(&five, 1).await, [at("2026-12-02T12:05:00Z")]);
    // `every` counts awake time: its first fire is 600 s after the start.
    assert_eq!(bench.fires(&tick, 1).await, [at("2026-12-02T12:11:00Z")]);
}

#[tokio::test(start_paused = true)]
async fn catch_up_fires_once_after_a_long_gap_never_a_burst() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = StateFile::new(&dir.path().join("state"));
    // Down for three days: 72 hourly slots passed.
    state
        .save(HashMap::from([
            ("hourly".to_owned(), at("2026-11-29T10:00:00Z")),
            ("no-catch-up".to_owned(), at("2026-11-29T10:00:00Z")),
        ]))
        .expect("save");
    let hourly = cron("hourly", "0 * * * *", Duration::ZERO, true);
    let quiet = cron("no-catch-up", "0 * * * *", Duration::ZERO, false);
    let bench = Bench::start(
        "2026-12-02T10:30:00Z",
        0.0,
        &[hourly.clone(), quiet.clone()],
        Some(state),
    );
    assert_eq!(bench.fires(&hourly, 1).await, [at("2026-12-02T10:30:00Z")]);
    assert!(last_cause(&hourly).starts_with("catch up: slot 2026-11-29 11:00:00"));
    assert_eq!(bench.count_for(&hourly, secs(29 * 60)).await, 0);
    assert_eq!(bench.count_for(&quiet, Duration::ZERO).await, 0);
    assert_eq!(bench.fires(&hourly, 1).await, [at("2026-12-02T11:00:00Z")]);
    assert_eq!(bench.fires(&quiet, 1).await, [at("2026-12-02T11:00:00Z")]);
}

#[tokio::test(start_paused = true)]
async fn every_keeps_its_rhythm_across_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = StateFile::new(&dir.path().join("state"));
    state
        .save(HashMap::from([(
            "tick".to_owned(),
            at("2026-12-02T09:59:35Z"),
        )]))
        .expect("save");
    let rule = every("tick", secs(10), Duration::ZERO);
    let bench = Bench::start(
        "2026-12-02T10:00:00Z",
        0.0,
        std::slice::from_ref(&rule),
        Some(state),
    );
    // 09:59:35 + k * 10 s: the first after the start is 10:00:05.
    assert_eq!(
        bench.fires(&rule, 2).await,
        [at("2026-12-02T10:00:05Z"), at("2026-12-02T10:00:15Z")]
    );
}

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_an_unchanged_rules_place_and_replans_a_changed_one() {
    let rule = every("tick", secs(10), Duration::ZERO);
    let bench = Bench::one("2026-12-02T10:00:00Z", 0.0, &rule);
    tokio::time::sleep(secs(7)).await;
    bench.timers.update(vec![rule.clone()]);
    assert_eq!(bench.fires(&rule, 1).await, [at("2026-12-02T10:00:10Z")]);
    tokio::time::sleep(secs(2)).await;
    let slower = TimerRule {
        timer: Timer::Every(EverySpec {
            period: secs(20),
            jitter: Duration::ZERO,
        }),
        ..rule.clone()
    };
    bench.timers.update(vec![slower]);
    // A new period counts from the reload, at 10:00:12.
    assert_eq!(bench.fires(&rule, 1).await, [at("2026-12-02T10:00:32Z")]);
}

#[tokio::test(start_paused = true)]
async fn a_reload_keeps_a_cron_slot_waiting_out_its_jitter() {
    let rule = cron("quarter", "*/15 * * * *", secs(600), false);
    let bench = Bench::one("2026-12-02T10:14:00Z", 1.0, &rule);
    // The 10:15 slot fires at 10:25 with its jitter; a reload at 10:20
    // keeps it, and the slot fires once.
    tokio::time::sleep(secs(6 * 60)).await;
    bench.timers.update(vec![rule.clone()]);
    assert_eq!(bench.fires(&rule, 1).await, [at("2026-12-02T10:25:00Z")]);
    assert!(last_cause(&rule).contains("10:15"), "{}", last_cause(&rule));
    assert_eq!(bench.fires(&rule, 1).await, [at("2026-12-02T10:40:00Z")]);
}

/// What the state file holds for `name`, read as a restart would.
fn remembered(state: &StateFile, name: &str) -> Option<Timestamp> {
    state.load().get(name).copied()
}

#[tokio::test(start_paused = true)]
async fn a_catch_up_fire_is_on_disk_before_its_kick_and_others_within_a_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = StateFile::new(&dir.path().join("state"));
    let hourly = cron("hourly", "0 * * * *", Duration::ZERO, true);
    let tick = every("tick", secs(3600), Duration::ZERO);
    let bench = Bench::start(
        "2026-12-02T10:59:00Z",
        0.0,
        &[hourly.clone(), tick.clone()],
        Some(state.clone()),
    );
    assert_eq!(bench.fires(&hourly, 1).await, [at("2026-12-02T11:00:00Z")]);
    // Read the instant the kick is raised: a crash now cannot repeat it.
    assert_eq!(
        remembered(&state, "hourly"),
        Some(at("2026-12-02T11:00:00Z"))
    );
    assert_eq!(bench.fires(&tick, 1).await, [at("2026-12-02T11:59:00Z")]);
    // The next fire is an hour away; the record does not wait for it.
    tokio::time::sleep(secs(1)).await;
    assert_eq!(remembered(&state, "tick"), Some(at("2026-12-02T11:59:00Z")));
}

#[tokio::test(start_paused = true)]
async fn a_failed_save_is_retried_until_it_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("not-yet");
    let state = StateFile::new(&missing.join("state"));
    let hourly = cron("hourly", "0 * * * *", Duration::ZERO, true);
    let bench = Bench::one_with_state("2026-12-02T10:59:59Z", &hourly, state.clone());
    assert_eq!(bench.fires(&hourly, 1).await, [at("2026-12-02T11:00:00Z")]);
    assert_eq!(remembered(&state, "hourly"), None);
    std::fs::create_dir(&missing).expect("mkdir");
    tokio::time::sleep(secs(2)).await;
    assert_eq!(
        remembered(&state, "hourly"),
        Some(at("2026-12-02T11:00:00Z"))
    );
    // Only the state file itself: no temporary left behind.
    let names: Vec<_> = std::fs::read_dir(&missing)
        .expect("read_dir")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["state"]);
}
