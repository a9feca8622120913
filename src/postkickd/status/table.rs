//! The `status --json` document as people read it: a line for the queue,
//! then a table like `systemctl list-timers`, the same for `postkickd
//! status` (from the control socket's answer) and for `SIGUSR1` (in the
//! log). It reads the document only, so a client and the daemon render it
//! alike.

use std::fmt::Write as _;

use serde_json::Value;

/// The names of the rules whose last kick failed.
pub(crate) fn failing(status: &Value) -> Vec<String> {
    status["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["consecutive_failures"].as_u64().unwrap_or(0) > 0)
        .filter_map(|r| r["name"].as_str().map(str::to_owned))
        .collect()
}

/// An RFC 3339 instant to the second, for people.
fn to_the_second(at: &str) -> String {
    match at.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => at.to_owned(),
    }
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

/// The status document as a table for people.
pub(crate) fn table(status: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let when = |v: &Value| v.as_str().map_or_else(|| "-".to_owned(), to_the_second);
    let mut rows = vec![[
        "RULE".to_owned(),
        "TRIGGER".to_owned(),
        "LAST KICK".to_owned(),
        "OUTCOME".to_owned(),
        "FAILING".to_owned(),
        "DONE".to_owned(),
        "NEXT".to_owned(),
    ]];
    for r in status["rules"].as_array().into_iter().flatten() {
        let kick = &r["last_kick"];
        rows.push([
            text(&r["name"]),
            if r["enabled"].as_bool().unwrap_or(true) {
                text(&r["trigger"])
            } else {
                format!("{} (disabled)", text(&r["trigger"]))
            },
            when(&kick["at"]),
            if r["in_flight"].as_bool().unwrap_or(false) {
                "in flight".to_owned()
            } else {
                text(&kick["outcome"])
            },
            r["consecutive_failures"].to_string(),
            // Kicks delivered, and flushes the service answered ok.
            (r["delivered"].as_u64().unwrap_or(0) + r["answers"]["ok"].as_u64().unwrap_or(0))
                .to_string(),
            when(&r["next"]),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|row| row[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "postkickd {} (pid {}), rules {} loaded {}, queue {}\n",
        text(&status["version"]),
        status["pid"],
        text(&status["rules_file"]),
        when(&status["loaded"]),
        text(&status["queue_directory"]),
    );
    let queue = &status["queue"];
    if let Some(error) = queue["error"].as_str() {
        let _ = writeln!(out, "queue: not read: {error}");
    } else if let Some(queues) = queue["queues"].as_array() {
        let counts: Vec<String> = queues
            .iter()
            .map(|q| match q["oldest_age_seconds"].as_i64() {
                Some(age) => format!(
                    "{} {} (oldest {})",
                    text(&q["name"]),
                    q["messages"],
                    age_text(age)
                ),
                None => format!("{} {}", text(&q["name"]), q["messages"]),
            })
            .collect();
        let _ = writeln!(
            out,
            "queue: {}{} messages: {}",
            if queue["complete"] == false {
                "at least "
            } else {
                ""
            },
            queue["messages"],
            counts.join(", ")
        );
    }
    if status["last_reload"]["result"] == "refused" {
        let _ = writeln!(
            out,
            "last reload refused at {}: {}",
            when(&status["last_reload"]["at"]),
            text(&status["last_reload"]["error"])
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
