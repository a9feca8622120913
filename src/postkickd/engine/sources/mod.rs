//! Trigger sources: what raises a planned rule's pending kick.
//!
//! [`timers`] is one task for every `cron` and `every` rule; [`files`] is
//! one inotify instance for every `watch` rule. Both live as long as the
//! daemon and take each reload's rules in place: timers keep their place,
//! and the new watches are set up before the old ones are dropped, so that
//! a reload storm leaves exactly one inotify instance and no event is
//! missed meanwhile. A source only raises its rule's [`Pending`] flag; the
//! kicker does the rest. `on_start` is not a source: the daemon raises the
//! flag at start-up.

pub(crate) mod files;
pub(crate) mod timers;

use super::notify::Notifier;
use std::sync::Arc;

use tokio::sync::watch;

use super::live::Live;
use super::state::StateFile;
use super::stop::Stop;
use crate::postkickd::plan::{PlannedRule, Source};
use files::{Registration, WatchError, WatchHub};
use timers::{TimerRule, Timers};

/// The running sources.
pub(crate) struct Sources {
    timers: Timers,
    watches: Option<WatchHub>,
    /// Where a watched directory's notices go.
    notifier: Notifier,
}

/// Splits a plan's rules into timer rules and watch registrations.
fn split(
    rules: &[(Arc<PlannedRule>, Arc<Live>)],
    notifier: &Notifier,
) -> (Vec<TimerRule>, Vec<Registration>) {
    let mut timers = Vec::new();
    let mut registrations = Vec::new();
    for (planned, live) in rules {
        let live = Arc::clone(live);
        let name = planned.rule.name.clone();
        match &planned.source {
            Source::Timer(timer) => timers.push(TimerRule {
                name,
                timer: timer.clone(),
                live,
            }),
            Source::Watch(spec) => registrations.push(Registration {
                spec: spec.clone(),
                live,
                maildrop_of: (spec.directory == planned.site.queue_directory.join("maildrop"))
                    .then(|| Arc::clone(&planned.site)),
                notify: planned.rule.notify.clone().map(|to| (notifier.clone(), to)),
            }),
        }
    }
    (timers, registrations)
}

fn watch_hub(
    registrations: Vec<Registration>,
    previous: Option<&WatchHub>,
) -> Result<Option<WatchHub>, WatchError> {
    if registrations.is_empty() {
        Ok(None)
    } else {
        WatchHub::start(registrations, previous).map(Some)
    }
}

impl Sources {
    /// Starts the sources of `rules` (inside a runtime): the watches first,
    /// so that if they cannot be set up no timer has started.
    pub(crate) fn start(
        rules: &[(Arc<PlannedRule>, Arc<Live>)],
        stop: &watch::Receiver<Stop>,
        state: Option<StateFile>,
        notifier: Notifier,
    ) -> Result<Sources, WatchError> {
        let (timer_rules, registrations) = split(rules, &notifier);
        let watches = watch_hub(registrations, None)?;
        Ok(Sources {
            timers: Timers::start(timer_rules, stop.clone(), state),
            watches,
            notifier,
        })
    }

    /// Takes a reload's rules. On an error nothing has changed.
    pub(crate) fn reload(
        &mut self,
        rules: &[(Arc<PlannedRule>, Arc<Live>)],
    ) -> Result<(), WatchError> {
        let (timer_rules, registrations) = split(rules, &self.notifier);
        let watches = watch_hub(registrations, self.watches.as_ref())?;
        // The new watches are in place: the old ones can go.
        self.watches = watches;
        self.timers.update(timer_rules);
        Ok(())
    }

    /// Stops the watches; the timer task, to wait for (it ends on stop).
    pub(crate) fn into_task(self) -> tokio::task::JoinHandle<()> {
        self.timers.into_task()
    }
}
