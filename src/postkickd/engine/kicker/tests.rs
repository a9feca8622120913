//! The kicker on tokio's paused time: retry backoff, debounce, folding and
//! the hand-over between two kickers of one name, with exact durations.
//! The endpoints are real: a missing path (every attempt fails at once)
//! or a UNIX socket that holds each connection for a while.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use super::*;
use crate::postfix::health::Site;
use crate::postkickd::engine::stats::{LastKick, Outcome};
use crate::postkickd::plan::{Delivery, EverySpec, Source, Timer};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A rule kicking `connect`, with the rules file's `extra` keys.
fn planned(connect: &Path, extra: &str, debounce: Duration) -> Arc<PlannedRule> {
    let text = format!("rules:\n  - name: r\n    every: 1h\n    kick: public pickup W\n{extra}");
    let mut rules = crate::rules::parse(&text).expect("a valid rule").rules;
    Arc::new(PlannedRule {
        rule: rules.remove(0),
        deliveries: vec![Delivery {
            connect: connect.to_owned(),
            request: Request::Raw("W".to_owned()),
        }],
        source: Source::Timer(Timer::Every(EverySpec {
            period: secs(3600),
            jitter: Duration::ZERO,
        })),
        debounce,
        site: Arc::new(Site {
            config_directory: connect.with_file_name("etc"),
            queue_directory: connect.with_file_name("queue"),
            mail_owner: "postfix".to_owned(),
            setgid_group: "postdrop".to_owned(),
            sendmail: "/usr/sbin/sendmail".into(),
            pickup: "pickup".to_owned(),
            qmgr: "qmgr".to_owned(),
            showq: "showq".to_owned(),
        }),
    })
}

/// A running kicker.
struct Harness {
    live: Arc<Live>,
    stop: watch::Sender<Stop>,
    task: JoinHandle<()>,
    started: Instant,
}

impl Harness {
    fn start(planned: Arc<PlannedRule>, handover: Option<JoinHandle<()>>) -> Self {
        let live = Arc::new(Live::default());
        let notifier = crate::postkickd::engine::notify::Notifier::start(Arc::clone(&planned.site));
        let (_definition, definition_rx) = watch::channel(planned);
        let (stop, stop_rx) = watch::channel(Stop::Running);
        let task = tokio::spawn(kicker(Kicker {
            definition: definition_rx,
            live: Arc::clone(&live),
            dry_run: false,
            stop: stop_rx,
            descriptors: Arc::new(Semaphore::new(8)),
            handover,
            notifier,
        }));
        Self {
            live,
            stop,
            task,
            started: Instant::now(),
        }
    }

    fn raise(&self) {
        self.live.raise(|| "test".to_owned());
    }

    /// Waits for the `count`th kick to end; its record and when it ended.
    async fn ended(&self, count: u64) -> (LastKick, Duration) {
        let mut ended = self.live.stats().subscribe();
        let _ = ended.wait_for(|n| *n >= count).await;
        let kick = self.live.stats().snapshot().last_kick.expect("a kick");
        (kick, self.started.elapsed())
    }
}

fn missing() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("public-pickup");
    (dir, path)
}

/// A socket endpoint that reads each request and closes after `hold`;
/// counts its connections.
fn holding_endpoint(path: &Path, hold: Duration) -> Arc<AtomicUsize> {
    let listener = tokio::net::UnixListener::bind(path).expect("bind");
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                tokio::time::sleep(hold).await;
                drop(stream);
            });
        }
    });
    accepted
}

#[tokio::test(start_paused = true)]
async fn retries_wait_a_doubling_backoff_up_to_its_cap() {
    let (_dir, path) = missing();
    let rule = planned(
        &path,
        "    retry: {attempts: 4, backoff: 1s, max_backoff: 3s}\n",
        Duration::ZERO,
    );
    let harness = Harness::start(rule, None);
    harness.raise();
    let (kick, _) = harness.ended(1).await;
    assert_eq!(kick.outcome, Outcome::Failed);
    assert_eq!(kick.attempts, 4);
    // Waits of 1 s, 2 s and 3 s (the cap), not 4 s.
    assert_eq!(kick.duration, secs(6));
    let record = harness.live.stats().snapshot();
    assert_eq!(record.counters.retried, 3);
    assert_eq!(record.counters.consecutive_failures, 1);
}

#[tokio::test(start_paused = true)]
async fn debounce_spaces_the_starts_of_kicks_and_folds_what_comes_meanwhile() {
    let (_dir, path) = missing();
    let harness = Harness::start(planned(&path, "", secs(5)), None);
    harness.raise();
    let (_, first) = harness.ended(1).await;
    assert_eq!(first, Duration::ZERO);
    for _ in 0..3 {
        harness.raise();
        tokio::time::sleep(secs(1)).await;
    }
    let (_, second) = harness.ended(2).await;
    assert_eq!(second, secs(5));
    tokio::time::sleep(secs(60)).await;
    let record = harness.live.stats().snapshot();
    assert_eq!(record.counters.failed, 2, "one kick for the three triggers");
    assert_eq!(record.counters.folded, 2);
}

#[tokio::test(start_paused = true)]
async fn triggers_during_a_kick_fold_into_one_kick_right_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("pickup");
    let accepted = holding_endpoint(&path, secs(2));
    let harness = Harness::start(planned(&path, "", Duration::ZERO), None);
    harness.raise();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..3 {
        harness.raise();
    }
    let (first, ended) = harness.ended(1).await;
    assert_eq!(first.outcome, Outcome::Delivered);
    assert_eq!(ended, secs(2));
    let (_, ended) = harness.ended(2).await;
    assert_eq!(ended, secs(4), "the second kick starts as the first ends");
    tokio::time::sleep(secs(60)).await;
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    assert_eq!(harness.live.stats().snapshot().counters.delivered, 2);
}

#[tokio::test(start_paused = true)]
async fn a_kicker_taking_over_a_name_waits_for_the_old_one() {
    let (_dir, path) = missing();
    let old = tokio::spawn(tokio::time::sleep(secs(3)));
    let harness = Harness::start(planned(&path, "", Duration::ZERO), Some(old));
    harness.raise();
    let (_, ended) = harness.ended(1).await;
    assert_eq!(ended, secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_stop_abandons_the_retries_at_once() {
    let (_dir, path) = missing();
    let rule = planned(
        &path,
        "    retry: {attempts: 5, backoff: 10s, max_backoff: 10s}\n",
        Duration::ZERO,
    );
    let harness = Harness::start(rule, None);
    harness.raise();
    tokio::time::sleep(secs(1)).await;
    harness.stop.send_replace(Stop::Now);
    let stopping = Instant::now();
    harness.task.await.expect("the kicker ends");
    assert_eq!(stopping.elapsed(), Duration::ZERO);
    let record = harness.live.stats().snapshot();
    assert!(record.last_kick.is_none(), "abandoned, not recorded");
    assert!(!record.in_flight);
}
