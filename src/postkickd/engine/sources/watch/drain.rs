//! Checking the effect, not just the send: files must leave the directory.
//!
//! For a rule with `drain_within` (on by default for the queue's own
//! maildrop), the directory is looked at four times in that time. When the
//! oldest ready file has waited longer, that is an incident: one warning
//! naming the file, its age, how many wait and what to check, a kick at
//! once, and more kicks with a doubling pause while it lasts; when the
//! directory has drained, one line says so. This is how a server nobody
//! watches learns that pickup is stuck.

use std::time::{Duration, SystemTime};

use super::arrival;
use super::Registration;

/// The longest pause between the kicks of an incident.
const MAX_RETRY: Duration = Duration::from_secs(600);

/// Watches `registration`'s directory drain within `limit`.
pub(super) async fn watch(registration: Registration, limit: Duration) {
    let every = (limit / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
    let directory = registration.spec.directory.display().to_string();
    let mut incident: Option<(tokio::time::Instant, Duration)> = None;
    let stats = registration.pending.stats();
    stats.waiting_past_drain(0);
    loop {
        tokio::time::sleep(every).await;
        let waiting = arrival::waiting(&registration.spec, SystemTime::now().checked_sub(limit));
        stats.waiting_past_drain(waiting.late);
        let late = waiting.oldest.as_ref().and_then(|(file, since)| {
            let age = SystemTime::now().duration_since(*since).unwrap_or_default();
            (age > limit).then_some((file.clone(), age))
        });
        match (late, incident) {
            (Some((file, age)), None) => {
                tracing::warn!(
                    event = "not_draining",
                    directory = %directory,
                    oldest = %file.display(),
                    age_s = age.as_secs(),
                    waiting = waiting.count,
                    "{} files wait in {directory}, the oldest for {} s ({}), although they should be taken within {} s: is pickup running (postfix status, postconf -M pickup), and can it read the directory? Kicking again",
                    waiting.count,
                    age.as_secs(),
                    file.display(),
                    limit.as_secs()
                );
                registration
                    .pending
                    .raise(|| format!("not draining: {}", file.display()));
                incident = Some((tokio::time::Instant::now() + limit, limit));
            }
            (Some(_), Some((next_kick, pause))) => {
                if tokio::time::Instant::now() >= next_kick {
                    registration
                        .pending
                        .raise(|| "still not draining".to_owned());
                    let pause = (pause * 2).min(MAX_RETRY);
                    incident = Some((tokio::time::Instant::now() + pause, pause));
                }
            }
            (None, Some(_)) => {
                tracing::info!(
                    event = "drained",
                    directory = %directory,
                    waiting = waiting.count,
                    "{directory} has drained: no file waits longer than {} s",
                    limit.as_secs()
                );
                incident = None;
            }
            (None, None) => {}
        }
    }
}
