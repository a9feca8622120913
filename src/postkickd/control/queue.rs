//! The queue's size as `status` and the metrics show it, read from showq
//! when someone asks.
//!
//! A [`QueueGauge`] holds the last reading. Asking refreshes it unless it
//! is younger than [`FRESH`]; concurrent askers share one read. A read is
//! bounded ([`CAP`] messages, [`READ_TIMEOUT`]), so a huge queue yields
//! counts marked incomplete instead of a hung `status`, and showq is never
//! asked more than once per [`FRESH`], however often the metrics are
//! scraped. A failed read is a reading too (its error is shown), never a
//! daemon error. It reads the queue only through showq.

use crate::postkickd::lock::lock;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::postfix::showq::{self, QueueReading};

/// Messages read at most per reading.
pub(crate) const CAP: u64 = 100_000;
/// How long a reading may take.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// A reading this young is reused.
pub(crate) const FRESH: Duration = Duration::from_secs(10);

/// One reading of the queue.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// When it was taken.
    pub at: Timestamp,
    /// The same, on the monotonic clock that decides its freshness.
    taken: tokio::time::Instant,
    /// How long it took.
    pub took: Duration,
    /// The counts, or why there are none.
    pub result: Result<QueueReading, String>,
}

/// The last reading, and the showq service to ask.
#[derive(Debug)]
pub(crate) struct QueueGauge {
    showq: std::sync::Mutex<PathBuf>,
    /// Held during a read, so that concurrent askers share it.
    reading: tokio::sync::Mutex<()>,
    latest: std::sync::Mutex<Option<Arc<Snapshot>>>,
}

impl QueueGauge {
    /// A gauge that asks the showq service at `showq` (relative to the
    /// queue directory, the daemon's working directory).
    pub(crate) fn new(showq: PathBuf) -> Self {
        Self {
            showq: std::sync::Mutex::new(showq),
            reading: tokio::sync::Mutex::new(()),
            latest: std::sync::Mutex::new(None),
        }
    }

    /// Asks another service from now on (a reload changed `main.cf`).
    pub(crate) fn set_showq(&self, showq: PathBuf) {
        *lock(&self.showq) = showq;
    }

    /// The last reading, whatever its age, without asking showq.
    pub(crate) fn last(&self) -> Option<Arc<Snapshot>> {
        lock(&self.latest).clone()
    }

    /// A reading no older than [`FRESH`].
    pub(crate) async fn read(&self) -> Arc<Snapshot> {
        let _reading = self.reading.lock().await;
        if let Some(snapshot) = self.last().filter(|s| s.taken.elapsed() < FRESH) {
            return snapshot;
        }
        let showq = lock(&self.showq).clone();
        let started = tokio::time::Instant::now();
        let result = showq::read(&showq, CAP, started + READ_TIMEOUT)
            .await
            .map_err(|e| format!("{e}: {}", e.hint()));
        let snapshot = Arc::new(Snapshot {
            at: Timestamp::now(),
            taken: started,
            took: started.elapsed(),
            result,
        });
        *lock(&self.latest) = Some(Arc::clone(&snapshot));
        snapshot
    }
}
