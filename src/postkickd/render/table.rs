//! The status document as people read it: a line for the queue, then a
//! table like `systemctl list-timers`, the same for `postkickd status`
//! (from the control socket's answer) and for `SIGUSR1` (in the log). It
//! reads the typed document only, so a client and the daemon render it
//! alike.

use std::fmt::Write as _;

use jiff::Timestamp;

use crate::postkickd::control::protocol::{QueueDocument, ReloadResult, StatusDocument};

/// An instant to the second, for people.
fn to_the_second(at: Timestamp) -> String {
    Timestamp::from_second(at.as_second()).map_or_else(|_| at.to_string(), |t| t.to_string())
}

fn when(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "-".to_owned(), to_the_second)
}

/// An age for people: `45s`, `12m`, `5h`, `3d`.
fn age_text(seconds: i64) -> String {
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// The queue line: `queue: N messages: maildrop 0, ... (read 3s ago)`.
fn queue_line(queue: &QueueDocument, now: Timestamp) -> String {
    let ago = age_text((now.as_second() - queue.read_at.as_second()).max(0));
    if let Some(error) = &queue.error {
        return format!("queue: not read {ago} ago: {error}");
    }
    let counts: Vec<String> = queue
        .queues
        .iter()
        .map(|q| match q.oldest_age_seconds {
            Some(age) => format!("{} {} (oldest {})", q.name, q.messages, age_text(age)),
            None => format!("{} {}", q.name, q.messages),
        })
        .collect();
    format!(
        "queue: {}{} messages: {} (read {ago} ago)",
        if queue.complete { "" } else { "at least " },
        queue.messages.unwrap_or_default(),
        counts.join(", ")
    )
}

/// The status document as a table for people, ages counted to `now`.
pub(crate) fn table(status: &StatusDocument, now: Timestamp) -> String {
    let mut rows = vec![[
        "RULE",
        "TRIGGER",
        "LAST KICK",
        "OUTCOME",
        "FAILING",
        "DONE",
        "NEXT",
    ]
    .map(str::to_owned)];
    for r in &status.rules {
        let kick = r.last_kick.as_ref();
        rows.push([
            r.name.clone(),
            if r.enabled {
                r.trigger.clone()
            } else {
                format!("{} (disabled)", r.trigger)
            },
            when(kick.map(|k| k.at)),
            if r.in_flight {
                "in flight".to_owned()
            } else {
                kick.map_or("-", |k| k.outcome.as_str()).to_owned()
            },
            r.counters.consecutive_failures.to_string(),
            r.counters.done().to_string(),
            when(r.next),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|row| row[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "postkickd {} (pid {}), rules {} loaded {}, queue {}\n",
        status.version,
        status.pid,
        status.rules_file,
        to_the_second(status.loaded),
        status.queue_directory,
    );
    if let Some(queue) = &status.queue {
        let _ = writeln!(out, "{}", queue_line(queue, now));
    }
    if !status.health.is_empty() {
        let bad: Vec<_> = status.health.iter().filter(|l| l.state != "ok").collect();
        if bad.is_empty() {
            let _ = writeln!(
                out,
                "health: all {} links of Postfix's path ok",
                status.health.len()
            );
        } else {
            let _ = writeln!(out, "health:");
            for link in bad {
                let fix = if link.fix.is_empty() {
                    String::new()
                } else {
                    format!(": {}", link.fix)
                };
                let _ = writeln!(
                    out,
                    "  {:7}  {}: {}{fix}",
                    link.state.to_uppercase(),
                    link.name,
                    link.cause
                );
            }
        }
    }
    if let Some(reload) = status
        .last_reload
        .as_ref()
        .filter(|r| r.result == ReloadResult::Refused)
    {
        let _ = writeln!(
            out,
            "last reload refused at {}: {}",
            to_the_second(reload.at),
            reload.error.as_deref().unwrap_or("-")
        );
    }
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
