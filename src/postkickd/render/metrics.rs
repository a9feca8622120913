//! The daemon's state in Prometheus' text exposition format: counters
//! and a duration histogram per rule, gauges for failing rules, files
//! waiting past `drain_within`, reloads, and the queue's size from the
//! last read of showq. It renders the engine's records; it never changes
//! a rule, and rule names are escaped as label values.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::postfix::showq::QUEUES;
use crate::postkickd::control::observed::Observed;
use crate::postkickd::control::queue::Snapshot;
use crate::postkickd::engine::stats::{Record, DURATION_BUCKETS};

/// The text being written, one metric family at a time.
#[derive(Default)]
struct Exposition(String);

impl Exposition {
    fn section(&mut self, name: &str, kind: &str, help: &str, rows: Vec<String>) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for row in rows {
            self.0.push_str(&row);
            self.0.push('\n');
        }
    }
}

/// Prometheus' text exposition format of what `observed` holds.
pub(crate) fn metrics(observed: &Observed) -> String {
    let records: Vec<(String, Record)> = observed
        .records()
        .into_iter()
        .map(|(name, record)| (label(&name), record))
        .collect();
    let answered: HashSet<String> = observed.answered().iter().map(|name| label(name)).collect();
    let mut out = Exposition::default();
    counters(&mut out, &records, &answered);
    histogram(&mut out, &records);
    gauges(&mut out, &records);
    out.section(
        "postkickd_success_expected_within_seconds",
        "gauge",
        "A rule's expect_success_within: the shipped alert fires when its last success is older.",
        observed
            .expectations()
            .iter()
            .map(|(rule, within)| {
                format!(
                    "postkickd_success_expected_within_seconds{{rule=\"{}\"}} {}",
                    label(rule),
                    within.as_secs_f64()
                )
            })
            .collect(),
    );
    out.section(
        "postkickd_start_time_seconds",
        "gauge",
        "When the daemon started (Unix time).",
        vec![format!(
            "postkickd_start_time_seconds {}",
            observed.started().as_millisecond() as f64 / 1e3
        )],
    );
    let reloads = observed.reloads();
    out.section(
        "postkickd_reloads_total",
        "counter",
        "Reloads since the start, by result (ok: the new rules run; refused: the previous rules run on).",
        [("ok", reloads.ok), ("refused", reloads.refused)]
            .map(|(result, n)| format!("postkickd_reloads_total{{result=\"{result}\"}} {n}"))
            .to_vec(),
    );
    out.section(
        "postkickd_last_reload_refused",
        "gauge",
        "1 when the last reload was refused (the previous rules run on).",
        vec![format!(
            "postkickd_last_reload_refused {}",
            u8::from(observed.last_reload_refused())
        )],
    );
    if let Some(snapshot) = observed.queue.last() {
        queue(&mut out, &snapshot);
    }
    if let Some(links) = observed.health.last() {
        out.section(
            "postkickd_link_state",
            "gauge",
            "Each link of Postfix's path: 0 ok, 1 warning, 2 failed (postkickd status names the cause and the fix).",
            links
                .iter()
                .map(|link| {
                    format!(
                        "postkickd_link_state{{link=\"{}\"}} {}",
                        label(&link.name),
                        link.state.level()
                    )
                })
                .collect(),
        );
    }
    out.0
}

/// The kick counters; the service's answers only for the rules in
/// `answered` (flush rules), whose kicks have one.
fn counters(out: &mut Exposition, records: &[(String, Record)], answered: &HashSet<String>) {
    out.section(
        "postkickd_kicks_total",
        "counter",
        "Kicks that ended, by rule and outcome (a flush rule's outcome is the service's answer: ok, bad, deny, fail).",
        records
            .iter()
            .flat_map(|(rule, r)| {
                [("delivered", r.counters.delivered), ("failed", r.counters.failed)]
                    .into_iter()
                    .chain(
                        answered
                            .contains(rule)
                            .then(|| r.counters.answers.by_status())
                            .into_iter()
                            .flatten(),
                    )
                    .map(move |(outcome, n)| {
                        format!(
                            "postkickd_kicks_total{{rule=\"{rule}\",outcome=\"{outcome}\"}} {n}"
                        )
                    })
            })
            .collect(),
    );
    out.section(
        "postkickd_retries_total",
        "counter",
        "Attempts retried, by rule.",
        records
            .iter()
            .map(|(rule, r)| {
                format!(
                    "postkickd_retries_total{{rule=\"{rule}\"}} {}",
                    r.counters.retried
                )
            })
            .collect(),
    );
    out.section(
        "postkickd_triggers_folded_total",
        "counter",
        "Triggers that came while a kick was pending and folded into it, by rule.",
        records
            .iter()
            .map(|(rule, r)| {
                format!(
                    "postkickd_triggers_folded_total{{rule=\"{rule}\"}} {}",
                    r.counters.folded
                )
            })
            .collect(),
    );
}

fn histogram(out: &mut Exposition, records: &[(String, Record)]) {
    let mut histogram = Vec::new();
    for (rule, r) in records {
        let mut cumulative = 0;
        for (i, bound) in DURATION_BUCKETS.iter().enumerate() {
            cumulative += r.durations[i];
            histogram.push(format!(
                "postkickd_kick_duration_seconds_bucket{{rule=\"{rule}\",le=\"{bound}\"}} {cumulative}"
            ));
        }
        cumulative += r.durations[DURATION_BUCKETS.len()];
        histogram.push(format!(
            "postkickd_kick_duration_seconds_bucket{{rule=\"{rule}\",le=\"+Inf\"}} {cumulative}"
        ));
        histogram.push(format!(
            "postkickd_kick_duration_seconds_sum{{rule=\"{rule}\"}} {}",
            r.duration_sum
        ));
        histogram.push(format!(
            "postkickd_kick_duration_seconds_count{{rule=\"{rule}\"}} {cumulative}"
        ));
    }
    out.section(
        "postkickd_kick_duration_seconds",
        "histogram",
        "How long kicks took, retries included, by rule.",
        histogram,
    );
}

fn gauges(out: &mut Exposition, records: &[(String, Record)]) {
    out.section(
        "postkickd_last_success_timestamp_seconds",
        "gauge",
        "When each rule's last delivered kick started (Unix time).",
        records
            .iter()
            .filter_map(|(rule, r)| {
                let at = r.last_success?;
                Some(format!(
                    "postkickd_last_success_timestamp_seconds{{rule=\"{rule}\"}} {}",
                    at.as_millisecond() as f64 / 1e3
                ))
            })
            .collect(),
    );
    out.section(
        "postkickd_rule_failing",
        "gauge",
        "1 while a rule's last kick failed, by rule.",
        records
            .iter()
            .map(|(rule, r)| {
                format!(
                    "postkickd_rule_failing{{rule=\"{rule}\"}} {}",
                    u8::from(r.counters.failing())
                )
            })
            .collect(),
    );
    out.section(
        "postkickd_files_waiting_past_drain",
        "gauge",
        "Files that have waited longer than their rule's drain_within, by rule (rules with drain_within only).",
        records
            .iter()
            .filter_map(|(rule, r)| {
                Some(format!(
                    "postkickd_files_waiting_past_drain{{rule=\"{rule}\"}} {}",
                    r.waiting_past_drain?
                ))
            })
            .collect(),
    );
    out.section(
        "postkickd_rules_loaded",
        "gauge",
        "Rules running.",
        vec![format!("postkickd_rules_loaded {}", records.len())],
    );
}

fn queue(out: &mut Exposition, snapshot: &Snapshot) {
    let reading = snapshot.result.as_ref().ok();
    let now = snapshot.at.as_second();
    let counts = || {
        QUEUES
            .iter()
            .zip(reading.map(|r| r.queues).unwrap_or_default())
    };
    out.section(
        "postkickd_queue_messages",
        "gauge",
        "Messages in each Postfix queue, as showq listed them at the last read (a lower bound when postkickd_queue_read_complete is 0).",
        reading
            .map(|_| {
                counts()
                    .map(|(queue, count)| {
                        format!("postkickd_queue_messages{{queue=\"{queue}\"}} {}", count.messages)
                    })
                    .collect()
            })
            .unwrap_or_default(),
    );
    out.section(
        "postkickd_queue_oldest_seconds",
        "gauge",
        "Age of the oldest message in each non-empty queue at the last read.",
        counts()
            .filter_map(|(queue, count)| {
                Some(format!(
                    "postkickd_queue_oldest_seconds{{queue=\"{queue}\"}} {}",
                    (now - count.oldest?).max(0)
                ))
            })
            .collect(),
    );
    out.section(
        "postkickd_queue_read_success",
        "gauge",
        "1 when the last read of showq gave counts.",
        vec![format!(
            "postkickd_queue_read_success {}",
            u8::from(reading.is_some())
        )],
    );
    out.section(
        "postkickd_queue_read_complete",
        "gauge",
        "1 when the last read of showq listed the whole queue (0: it stopped at its cap of 100000 messages or its 5 s timeout).",
        vec![format!(
            "postkickd_queue_read_complete {}",
            u8::from(reading.is_some_and(|r| r.complete))
        )],
    );
    out.section(
        "postkickd_queue_read_duration_seconds",
        "gauge",
        "How long the last read of showq took.",
        vec![format!(
            "postkickd_queue_read_duration_seconds {}",
            snapshot.took.as_secs_f64()
        )],
    );
}
/// A label value escaped as the exposition format wants it.
fn label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
