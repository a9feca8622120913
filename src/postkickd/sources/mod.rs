//! Trigger sources: what raises a planned rule's pending kick.
//!
//! [`timer`] serves `every` and `cron` rules, [`watch`] serves `watch`
//! rules with one inotify instance for all of them. A source only raises
//! its rule's [`Pending`] flag; the kicker does the rest. `on_start` is
//! not a source: the generation raises the flag before anything runs.

pub(crate) mod timer;
pub(crate) mod watch;

use std::sync::Arc;

use tokio::sync::watch as channel;
use tokio::task::JoinHandle;

use super::pending::Pending;
use super::plan::{PlannedRule, Source};
use super::stop::Stop;
use watch::{Registration, WatchError, WatchHub};

/// The running sources of one generation; dropping it stops the watches.
pub(crate) struct Sources {
    /// Timer tasks; they end when the generation is told to stop.
    pub tasks: Vec<JoinHandle<()>>,
    _watches: Option<WatchHub>,
}

/// Starts a source for each rule: the watches first, so that if they
/// cannot be set up no timer has started.
pub(crate) fn start(
    rules: &[(Arc<PlannedRule>, Arc<Pending>)],
    stop: &channel::Receiver<Stop>,
) -> Result<Sources, WatchError> {
    let registrations: Vec<Registration> = rules
        .iter()
        .filter_map(|(planned, pending)| match &planned.source {
            Source::Watch(spec) => Some(Registration {
                spec: spec.clone(),
                pending: Arc::clone(pending),
            }),
            Source::Cron { .. } | Source::Every { .. } => None,
        })
        .collect();
    let watches = if registrations.is_empty() {
        None
    } else {
        Some(WatchHub::start(registrations)?)
    };
    let mut tasks = Vec::new();
    for (planned, pending) in rules {
        let (pending, stop) = (Arc::clone(pending), stop.clone());
        match &planned.source {
            Source::Cron { schedule, jitter } => {
                let (name, schedule, jitter) =
                    (planned.rule.name.clone(), schedule.clone(), *jitter);
                tasks.push(tokio::spawn(async move {
                    timer::cron(&name, &schedule, jitter, &pending, stop).await;
                }));
            }
            &Source::Every { period, jitter } => tasks.push(tokio::spawn(async move {
                timer::every(period, jitter, &pending, stop).await;
            })),
            Source::Watch(_) => {}
        }
    }
    Ok(Sources {
        tasks,
        _watches: watches,
    })
}
