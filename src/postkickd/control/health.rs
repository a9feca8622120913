//! The health of Postfix's path as `status` and the metrics show it,
//! judged when someone asks.
//!
//! A [`HealthGauge`] holds the last judgement of every link
//! ([`crate::postfix::health`]). Asking judges again unless the last one is
//! younger than the queue reading it used ([`FRESH`]): the file checks run
//! off the runtime's threads, the queue links come from the same showq
//! reading `status` shows. Nothing is judged while nobody asks: an idle
//! daemon spends nothing on it. A reload gives it the new plan's site,
//! services and drain limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::queue::{QueueGauge, FRESH};
use crate::postfix::health::{Link, Site};
use crate::postkickd::lock::lock;

/// Failures seen (a kick failed, a directory stopped draining): a
/// judgement made before the last one is judged again at once.
static FAILURES: AtomicU64 = AtomicU64::new(0);

/// Something failed: the next judgement looks again, however fresh the
/// last one is.
pub(crate) fn failure_seen() {
    FAILURES.fetch_add(1, Ordering::Relaxed);
}

/// What the links are judged for.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The Postfix.
    pub site: Arc<Site>,
    /// The services the rules kick, as `(class, service)`.
    pub services: Vec<(String, String)>,
    /// How long a ready maildrop file may wait.
    pub pickup_limit: Duration,
}

/// The last judgement, and what to judge.
#[derive(Debug)]
pub(crate) struct HealthGauge {
    target: Mutex<Target>,
    /// Held during a judgement, so that concurrent askers share it.
    judging: tokio::sync::Mutex<()>,
    latest: Mutex<Option<Judgement>>,
}

/// A judgement: when it began, after how many failures, and the links.
type Judgement = (tokio::time::Instant, u64, Arc<Vec<Link>>);

impl HealthGauge {
    pub(crate) fn new(target: Target) -> Self {
        Self {
            target: Mutex::new(target),
            judging: tokio::sync::Mutex::new(()),
            latest: Mutex::new(None),
        }
    }

    /// Judges another plan from now on (a reload).
    pub(crate) fn set_target(&self, target: Target) {
        *lock(&self.target) = target;
        *lock(&self.latest) = None;
    }

    /// The last judgement, whatever its age, without judging.
    pub(crate) fn last(&self) -> Option<Arc<Vec<Link>>> {
        lock(&self.latest)
            .as_ref()
            .map(|(_, _, links)| Arc::clone(links))
    }

    /// A judgement no older than [`FRESH`], with the queue read as fresh.
    pub(crate) async fn judge(&self, queue: &QueueGauge) -> Arc<Vec<Link>> {
        let _judging = self.judging.lock().await;
        let failures = FAILURES.load(Ordering::Relaxed);
        if let Some((at, seen, links)) = lock(&self.latest).as_ref() {
            if at.elapsed() < FRESH && *seen == failures {
                return Arc::clone(links);
            }
        }
        let reading = queue.read().await;
        let target = lock(&self.target).clone();
        let started = tokio::time::Instant::now();
        let (result, read_at) = (reading.result.clone(), reading.at.as_second());
        let links = tokio::task::spawn_blocking(move || {
            target
                .site
                .links(&target.services, target.pickup_limit, &result, read_at)
        })
        .await
        .unwrap_or_default();
        let links = Arc::new(links);
        *lock(&self.latest) = Some((started, failures, Arc::clone(&links)));
        links
    }
}
