//! The time the timers keep: the wall clock and chance, passed in.
//!
//! Cron slots are wall-clock instants; `every` counts on tokio's monotonic
//! clock. The timers never read the wall clock or draw a jitter
//! themselves: they ask a [`Clock`], so that daylight saving, an NTP step,
//! a suspend and the jitter can be played in unit tests on a simulated
//! clock (tokio's paused time for the monotonic side, [`Simulated`] for
//! the wall side) with exact assertions. [`SystemClock`] is the real one:
//! one `timerfd` for every wall-clock wait, which a suspend or a clock
//! set forward ends at once. It reads no file and holds no rule.

use std::future::Future;
use std::time::Duration;

use jiff::Timestamp;

use crate::sys::WallTimer;

/// The wall clock and the jitter, as the timers see them.
pub(crate) trait Clock: Send + Sync + 'static {
    /// The wall-clock time now.
    fn now(&self) -> Timestamp;

    /// Resolves at the wall-clock instant `at`, or as soon as a change of
    /// the clock (a step, a resume) makes it due.
    fn until(&self, at: Timestamp) -> impl Future<Output = ()> + Send;

    /// A random delay in `0..=limit`.
    fn jitter(&self, limit: Duration) -> Duration;
}

/// The system's clock and a random jitter.
pub(crate) struct SystemClock {
    wall: WallWait,
}

impl SystemClock {
    /// Sets up the wall-clock timer (inside a runtime).
    pub(crate) fn new() -> Self {
        Self {
            wall: WallWait::new(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn until(&self, at: Timestamp) -> impl Future<Output = ()> + Send {
        self.wall.until(at)
    }

    /// From the standard library's randomly seeded hasher (no generator
    /// crate for a jitter).
    fn jitter(&self, limit: Duration) -> Duration {
        use std::hash::{BuildHasher, Hasher};
        if limit.is_zero() {
            return Duration::ZERO;
        }
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let nanos = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(random % nanos.saturating_add(1))
    }
}

/// Waits until a wall-clock instant, following clock changes.
enum WallWait {
    /// A `timerfd`: a suspend or a clock set forward ends the wait at once.
    Timer(tokio::io::unix::AsyncFd<WallTimer>),
    /// Fallback when no `timerfd` can be had: the monotonic clock.
    Sleep,
}

impl WallWait {
    fn new() -> Self {
        match WallTimer::new().and_then(WallTimer::register) {
            Ok(timer) => Self::Timer(timer),
            Err(err) => {
                tracing::warn!(error = %err, "no wall-clock timer; a clock change may delay cron rules");
                Self::Sleep
            }
        }
    }

    async fn until(&self, at: Timestamp) {
        let wall = std::time::SystemTime::try_from(at).unwrap_or(std::time::UNIX_EPOCH);
        let Self::Timer(timer) = self else {
            return sleep_until(at).await;
        };
        if timer.get_ref().arm_at(wall).is_err() {
            return sleep_until(at).await;
        }
        loop {
            let Ok(mut ready) = timer.readable().await else {
                return sleep_until(at).await;
            };
            match ready.try_io(|t| t.get_ref().read()) {
                Ok(Ok(_)) => return,
                // The clock was set: the instant may be due now.
                Ok(Err(err)) if err.raw_os_error() == Some(libc::ECANCELED) => {
                    if Timestamp::now() >= at || timer.get_ref().arm_at(wall).is_err() {
                        return;
                    }
                }
                Ok(Err(_)) => return sleep_until(at).await,
                Err(_would_block) => {}
            }
        }
    }
}

async fn sleep_until(at: Timestamp) {
    let wait = Duration::try_from(at.duration_since(Timestamp::now())).unwrap_or(Duration::ZERO);
    tokio::time::sleep(wait).await;
}

impl<C: Clock> Clock for std::sync::Arc<C> {
    fn now(&self) -> Timestamp {
        C::now(self)
    }

    fn until(&self, at: Timestamp) -> impl Future<Output = ()> + Send {
        C::until(self, at)
    }

    fn jitter(&self, limit: Duration) -> Duration {
        C::jitter(self, limit)
    }
}

/// A wall clock for tests: it runs with tokio's (paused) monotonic clock
/// from a chosen instant, can be stepped (an NTP step, `date -s`, the
/// jump of a resume, while the monotonic clock stands still), and draws
/// every jitter as the same fraction of its limit.
#[cfg(test)]
pub(crate) struct Simulated {
    origin: tokio::time::Instant,
    /// The wall time at `origin`, steps included.
    base: std::sync::Mutex<Timestamp>,
    stepped: tokio::sync::Notify,
    jitter_fraction: f64,
}

#[cfg(test)]
impl Simulated {
    /// A clock that reads `wall` now and draws jitters of `jitter_fraction`
    /// of their limit.
    pub(crate) fn new(wall: Timestamp, jitter_fraction: f64) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            origin: tokio::time::Instant::now(),
            base: std::sync::Mutex::new(wall),
            stepped: tokio::sync::Notify::new(),
            jitter_fraction,
        })
    }

    /// The wall clock jumps by `by`; waits for instants it passed end.
    pub(crate) fn step(&self, by: jiff::SignedDuration) {
        {
            let mut base = crate::postkickd::lock::lock(&self.base);
            *base = base.checked_add(by).unwrap_or(*base);
        }
        self.stepped.notify_waiters();
    }
}

#[cfg(test)]
impl Clock for Simulated {
    fn now(&self) -> Timestamp {
        let base = *crate::postkickd::lock::lock(&self.base);
        base.checked_add(self.origin.elapsed()).unwrap_or(base)
    }

    async fn until(&self, at: Timestamp) {
        loop {
            let stepped = self.stepped.notified();
            tokio::pin!(stepped);
            stepped.as_mut().enable();
            let Ok(wait) = Duration::try_from(at.duration_since(self.now())) else {
                return;
            };
            if wait.is_zero() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stepped => {}
            }
        }
    }

    fn jitter(&self, limit: Duration) -> Duration {
        limit.mul_f64(self.jitter_fraction)
    }
}
