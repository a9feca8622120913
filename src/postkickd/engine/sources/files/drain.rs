//! Checking the effect, not just the send: files must leave the directory.
//!
//! For a rule with `drain_within` (on by default for the queue's own
//! maildrop), the directory is looked at four times in that time. When the
//! oldest ready file has waited longer, that is an incident: one warning
//! naming the file, its age, how many wait and the broken link of
//! pickup's path (for the queue's maildrop: master, pickup's master.cf
//! entry and endpoint, the maildrop's permissions), a kick at
//! once, and more kicks with a doubling pause while it lasts; when the
//! directory has drained, one line says so. This is how a server nobody
//! watches learns that pickup is stuck. A look lists the directory off
//! the runtime's thread; when the directory is so large that a look takes
//! longer than 1/20 of the pause, the looks space out so that they never
//! take more than 5% of a core.

use std::time::{Duration, SystemTime};

use super::arrival;
use super::Registration;
use crate::postkickd::engine::notify::Notice;

/// The longest pause between the kicks of an incident.
const MAX_RETRY: Duration = Duration::from_secs(600);

/// What a look at the directory calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// A file waits too long, for the first time: warn, and kick.
    Incident,
    /// It still does, and the pause is over: kick again.
    KickAgain,
    /// Nothing waits too long any more: say so.
    Drained,
    /// Nothing to do.
    Quiet,
}

/// The course of an incident: when the next kick is due, and the pause
/// that came before it (doubling, at most [`MAX_RETRY`]).
#[derive(Debug, Default)]
struct Incident {
    open: Option<(tokio::time::Instant, Duration)>,
}

impl Incident {
    /// Takes one look's finding (`late`: a file has waited past `limit`)
    /// at `now`.
    fn look(&mut self, late: bool, now: tokio::time::Instant, limit: Duration) -> Verdict {
        match (late, self.open) {
            (true, None) => {
                self.open = Some((now + limit, limit));
                Verdict::Incident
            }
            (true, Some((next_kick, pause))) if now >= next_kick => {
                let pause = (pause * 2).min(MAX_RETRY);
                self.open = Some((now + pause, pause));
                Verdict::KickAgain
            }
            (true, Some(_)) | (false, None) => Verdict::Quiet,
            (false, Some(_)) => {
                self.open = None;
                Verdict::Drained
            }
        }
    }
}

/// Why the directory does not drain, as far as can be told: for the
/// queue's maildrop, the first broken link of pickup's path (master,
/// pickup's master.cf entry and endpoint, the maildrop itself), judged
/// off the runtime's threads.
async fn why_not_draining(registration: &Registration) -> String {
    let Some(site) = registration.maildrop_of.clone() else {
        return "is the service the rule kicks taking them, and can it read the directory?"
            .to_owned();
    };
    match tokio::task::spawn_blocking(move || site.diagnose_pickup()).await {
        Ok(Some(link)) => link.said(),
        _ => "master runs, pickup is in master.cf, its endpoint is there and the maildrop is as it should be, yet pickup takes nothing: look for pickup's errors in the mail log".to_owned(),
    }
}

/// Mails the rule's `notify:` address, if it has one, that `directory`
/// stopped draining (`broke`) or drains again.
fn tell(registration: &Registration, directory: &str, broke: bool, subject: String, body: String) {
    if let Some((notifier, to)) = &registration.notify {
        notifier.tell(Notice {
            to: to.clone(),
            cause: format!("directory {directory}"),
            broke,
            subject,
            body,
        });
    }
}

/// The time between two looks, in multiples of the last look's.
const LOOK_SHARE: u32 = 20;

/// Checks that `registration`'s directory drains within `limit`, looking
/// through it off the runtime's thread.
pub(super) async fn check_draining(registration: Registration, limit: Duration) {
    let every = (limit / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
    let directory = registration.spec.directory.display().to_string();
    let mut incident = Incident::default();
    let stats = registration.live.stats();
    stats.waiting_past_drain(0);
    let mut pause = every;
    loop {
        tokio::time::sleep(pause).await;
        let spec = registration.spec.clone();
        let looked = tokio::time::Instant::now();
        // One instant for the count and the oldest's age, so that the
        // status and the warning agree on which files are late.
        let now = SystemTime::now();
        let Ok(waiting) =
            tokio::task::spawn_blocking(move || arrival::waiting(&spec, now.checked_sub(limit)))
                .await
        else {
            continue;
        };
        // A look at a huge directory spaces the next ones out: looking
        // never takes more than 1/20 of the time.
        pause = every.max(looked.elapsed() * LOOK_SHARE);
        stats.waiting_past_drain(waiting.late);
        let late = waiting.oldest.as_ref().and_then(|(file, since)| {
            let age = now.duration_since(*since).unwrap_or_default();
            (waiting.late > 0).then_some((file.clone(), age))
        });
        match incident.look(late.is_some(), tokio::time::Instant::now(), limit) {
            Verdict::Incident => {
                let (file, age) = late.unwrap_or_default();
                crate::postkickd::control::health::failure_seen();
                let why = why_not_draining(&registration).await;
                let late = format!(
                    "{} files wait in {directory}, the oldest for {} s ({}), although they should be taken within {} s",
                    waiting.count,
                    age.as_secs(),
                    file.display(),
                    limit.as_secs()
                );
                tracing::warn!(
                    event = "not_draining",
                    directory = %directory,
                    oldest = %file.display(),
                    age_s = age.as_secs(),
                    waiting = waiting.count,
                    cause = %why,
                    "{late}: {why}. Kicking again"
                );
                tell(
                    &registration,
                    &directory,
                    true,
                    format!("postkickd: {directory} does not drain"),
                    format!("{late}.\n\nCause and fix: {why}\n\npostkickd doctor judges Postfix's whole path."),
                );
                registration
                    .live
                    .raise(|| format!("not draining: {}", file.display()));
            }
            Verdict::KickAgain => {
                registration.live.raise(|| "still not draining".to_owned());
            }
            Verdict::Drained => {
                tell(
                    &registration,
                    &directory,
                    false,
                    format!("postkickd: {directory} drains again"),
                    format!(
                        "No file waits longer than {} s in {directory} again.",
                        limit.as_secs()
                    ),
                );
                tracing::info!(
                    event = "drained",
                    directory = %directory,
                    waiting = waiting.count,
                    "{directory} has drained: no file waits longer than {} s",
                    limit.as_secs()
                );
            }
            Verdict::Quiet => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Looks every `every` from `start` for `looks` looks while `late`
    /// says; the offsets at which each verdict but `Quiet` came.
    fn course(
        limit: Duration,
        every: Duration,
        looks: u32,
        late: impl Fn(Duration) -> bool,
    ) -> Vec<(u64, Verdict)> {
        let start = tokio::time::Instant::now();
        let mut incident = Incident::default();
        (1..=looks)
            .filter_map(|n| {
                let offset = every * n;
                let verdict = incident.look(late(offset), start + offset, limit);
                (verdict != Verdict::Quiet).then_some((offset.as_secs(), verdict))
            })
            .collect()
    }

    #[test]
    fn a_stuck_directory_is_kicked_again_after_doubling_pauses_up_to_ten_minutes() {
        let minute = Duration::from_secs(60);
        let verdicts = course(minute, Duration::from_secs(15), 200, |_| true);
        let kicks: Vec<u64> = verdicts.iter().map(|(at, _)| *at).collect();
        // The incident at the first look, then pauses of 60, 120, 240,
        // 480 and 600 s (the cap), looked at every 15 s.
        assert_eq!(kicks, [15, 75, 195, 435, 915, 1515, 2115, 2715]);
        assert_eq!(verdicts[0].1, Verdict::Incident);
        assert!(verdicts[1..].iter().all(|(_, v)| *v == Verdict::KickAgain));
    }

    #[test]
    fn a_drained_directory_is_said_once_and_a_new_stall_is_a_new_incident() {
        let minute = Duration::from_secs(60);
        let stalled = |at: Duration| {
            let s = at.as_secs();
            (0..100).contains(&s) || (300..400).contains(&s)
        };
        let verdicts = course(minute, Duration::from_secs(15), 40, stalled);
        assert_eq!(
            verdicts,
            [
                (15, Verdict::Incident),
                (75, Verdict::KickAgain),
                (105, Verdict::Drained),
                (300, Verdict::Incident),
                (360, Verdict::KickAgain),
                (405, Verdict::Drained),
            ]
        );
    }
}
