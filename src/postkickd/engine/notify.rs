//! Notices to the postmaster: a mail through Postfix's own `sendmail` when
//! a rule starts failing or a watched directory stops draining, and one
//! when it recovers, the way Postfix's `notify_classes` mail the
//! postmaster and cron's `MAILTO` mails a job's owner.
//!
//! Only where the rules ask (`notify:` under `defaults:` or per rule). At
//! most one notice per cause per hour: a cause that flaps tells once, and
//! its recovery is told only if its failure was. A notice says what broke,
//! since when, and the fix (the broken link of Postfix's path when there
//! is one). `sendmail` hands the message to postdrop, which needs only the
//! unit's own group (postdrop) and the maildrop; if pickup is the broken
//! link the notice waits in the maildrop until pickup takes it, and the
//! log says so. A `sendmail` that fails or hangs (30 s) is logged and
//! never holds a kick: notices go through a bounded queue to one task,
//! and a full queue drops the notice with a warning.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::postfix::health::Site;

/// At most one failure notice per cause this often.
const ONCE_PER: Duration = Duration::from_secs(3600);
/// The longest `sendmail` may take.
const SENDMAIL_WITHIN: Duration = Duration::from_secs(30);
/// Notices waiting for the task, at most.
const QUEUED: usize = 64;

/// One notice: a cause broke, or recovered.
#[derive(Debug, Clone)]
pub(crate) struct Notice {
    /// The address (`postmaster` or `user@domain`).
    pub to: String,
    /// What broke, as a key: `rule NAME`, `directory PATH`.
    pub cause: String,
    /// True when it broke, false when it recovered.
    pub broke: bool,
    /// The subject line.
    pub subject: String,
    /// The text: what, since when, the fix.
    pub body: String,
}

/// Where notices are handed over; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Notifier(mpsc::Sender<Notice>);

impl Notifier {
    /// Starts the task that sends notices through `site`'s sendmail.
    /// Must be called inside a Tokio runtime.
    pub(crate) fn start(site: Arc<Site>) -> Notifier {
        let (sender, receiver) = mpsc::channel(QUEUED);
        tokio::spawn(send_notices(site, receiver));
        Notifier(sender)
    }

    /// Hands `notice` over; never waits.
    pub(crate) fn tell(&self, notice: Notice) {
        if self.0.try_send(notice).is_err() {
            tracing::warn!(
                event = "notice_dropped",
                "a notice was dropped: too many are waiting for sendmail"
            );
        }
    }
}

/// What was told of one cause.
struct Told {
    /// When its last failure notice went out.
    at: Instant,
    /// Its failure was told and its recovery not yet.
    failing: bool,
}

async fn send_notices(site: Arc<Site>, mut notices: mpsc::Receiver<Notice>) {
    let mut told: HashMap<(String, String), Told> = HashMap::new();
    while let Some(notice) = notices.recv().await {
        let key = (notice.to.clone(), notice.cause.clone());
        let due = match (told.get(&key), notice.broke) {
            (Some(last), true) => last.at.elapsed() >= ONCE_PER,
            (None, true) => true,
            (Some(last), false) => last.failing,
            (None, false) => false,
        };
        if !due {
            tracing::debug!(event = "notice_held", to = %notice.to, cause = %notice.cause, "not told again within the hour: {}", notice.subject);
            continue;
        }
        match deliver(&site, &notice).await {
            Ok(()) => {
                tracing::info!(event = "notice_sent", to = %notice.to, cause = %notice.cause, "notice to {}: {}", notice.to, notice.subject);
                let site = Arc::clone(&site);
                if let Ok(Some(link)) =
                    tokio::task::spawn_blocking(move || site.diagnose_pickup()).await
                {
                    tracing::warn!(event = "notice_waiting", to = %notice.to, "the notice to {} waits in the maildrop until pickup takes it: {}", notice.to, link.said());
                }
                let entry = told.entry(key).or_insert(Told {
                    at: Instant::now(),
                    failing: false,
                });
                if notice.broke {
                    entry.at = Instant::now();
                }
                entry.failing = notice.broke;
            }
            Err(why) => {
                tracing::warn!(event = "notice_failed", to = %notice.to, cause = %notice.cause, "cannot mail the notice to {}: {why}", notice.to);
            }
        }
    }
}

/// The message as sendmail reads it: headers, a blank line, the text.
fn message(notice: &Notice) -> String {
    // A path in a subject or cause cannot end a header early.
    let one_line = |text: &str| text.replace(|c: char| c.is_control(), " ");
    format!(
        "To: {}\nSubject: {}\nAuto-Submitted: auto-generated\nX-Postkickd-Cause: {}\n\n{}\n\n-- \npostkickd on this host (the notify: setting of its rules file)\n",
        notice.to,
        one_line(&notice.subject),
        one_line(&notice.cause),
        notice.body
    )
}

/// Runs `sendmail -C CONFIG -i -- TO` with the message on its input.
async fn deliver(site: &Site, notice: &Notice) -> Result<(), String> {
    let mut child = tokio::process::Command::new(&site.sendmail)
        .arg("-C")
        .arg(&site.config_directory)
        .args(["-i", "--", &notice.to])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!(
                "{}: {}",
                site.sendmail.display(),
                crate::sys::io_error_text(&e)
            )
        })?;
    let text = message(notice);
    let run = async {
        if let Some(mut input) = child.stdin.take() {
            input.write_all(text.as_bytes()).await?;
        }
        child.wait_with_output().await
    };
    match tokio::time::timeout(SENDMAIL_WITHIN, run).await {
        Ok(Ok(output)) if output.status.success() => Ok(()),
        Ok(Ok(output)) => Err(format!(
            "{} exited with {}: {}",
            site.sendmail.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Ok(Err(e)) => Err(crate::sys::io_error_text(&e)),
        Err(_) => Err(format!(
            "{} did not finish within {} s",
            site.sendmail.display(),
            SENDMAIL_WITHIN.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_is_a_mail_with_its_cause_and_no_forged_headers() {
        let notice = Notice {
            to: "postmaster".into(),
            cause: "rule drop".into(),
            broke: true,
            subject: "postkickd: rule drop is failing".into(),
            body: "what broke".into(),
        };
        let text = message(&notice);
        assert!(text.starts_with(
            "To: postmaster\nSubject: postkickd: rule drop is failing\nAuto-Submitted: auto-generated\nX-Postkickd-Cause: rule drop\n\nwhat broke\n"
        ));
    }
}
