//! The rules at work, by name, across reloads.
//!
//! A rule's identity is its name. Each name has one kicker and one pending
//! flag for as long as it stays in the rules file; a reload that keeps a
//! name hands its kicker the new definition and its sources keep their
//! place (see `sources`), so nothing of an unchanged rule is reset: not
//! its next fire time, not a kick that was pending, not a kick in flight.
//! A name that leaves the file (or is disabled) sends what was pending and
//! ends; if it comes back while its old kicker is still finishing, the new
//! kicker waits for it. `on_start` is raised once, when the daemon starts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use super::kicker::{kicker, Kicker};
use super::live::Live;
use super::notify::Notifier;
use super::sources::Sources;
use super::state::StateFile;
use super::stop::Stop;
use crate::postkickd::control::observed::RuleView;
use crate::postkickd::control::server::MAX_CLIENTS;
use crate::postkickd::error::DaemonError;
use crate::postkickd::plan::{Plan, PlannedRule};

/// Descriptors kept for everything but kicks and control clients: the
/// standard streams, the inotify instance, the runtime's own, the logs,
/// the state and metrics files, showq.
const RESERVED_DESCRIPTORS: u64 = 64;

/// One rule name at work.
struct Slot {
    definition: watch::Sender<Arc<PlannedRule>>,
    live: Arc<Live>,
    stop: watch::Sender<Stop>,
    kicker: JoinHandle<()>,
}

/// Every rule at work, with their sources.
pub(crate) struct Running {
    slots: HashMap<String, Slot>,
    /// Kickers of names that left the file, sending what they had.
    leaving: HashMap<String, (watch::Sender<Stop>, JoinHandle<()>)>,
    sources: Sources,
    /// Tells the sources to stop.
    sources_stop: watch::Sender<Stop>,
    descriptors: Arc<Semaphore>,
    dry_run: bool,
    /// Where the rules' notices go.
    notifier: Notifier,
}

/// How many kicks may be in flight at once: one descriptor each, within
/// the process's limit, beside the reserve and the control clients'.
fn kick_permits() -> usize {
    let limit = crate::sys::open_file_limit().unwrap_or(1024);
    let permits = limit
        .saturating_sub(RESERVED_DESCRIPTORS + MAX_CLIENTS as u64)
        .max(8);
    usize::try_from(permits)
        .unwrap_or(usize::MAX)
        .min(Semaphore::MAX_PERMITS)
}

impl Running {
    /// Starts `plan`'s enabled rules (inside a runtime), with `on_start`.
    pub(crate) fn start(
        plan: &Plan,
        dry_run: bool,
        state: Option<StateFile>,
    ) -> Result<Running, DaemonError> {
        let notifier = Notifier::start(Arc::clone(&plan.site));
        let (sources_stop, stop_rx) = watch::channel(Stop::Running);
        let rules: Vec<_> = plan
            .enabled()
            .map(|planned| {
                let live = Arc::new(Live::default());
                if planned.rule.on_start {
                    live.raise(|| "start (on_start)".to_owned());
                }
                (Arc::new(planned.clone()), live)
            })
            .collect();
        let sources = Sources::start(&rules, &stop_rx, state, notifier.clone())?;
        let mut running = Running {
            slots: HashMap::new(),
            leaving: HashMap::new(),
            sources,
            sources_stop,
            descriptors: Arc::new(Semaphore::new(kick_permits())),
            dry_run,
            notifier,
        };
        for (planned, live) in rules {
            running.add(planned, live);
        }
        Ok(running)
    }

    fn add(&mut self, planned: Arc<PlannedRule>, live: Arc<Live>) {
        let name = planned.rule.name.clone();
        let handover = self.leaving.remove(&name).map(|(_, kicker)| kicker);
        let (definition, definition_rx) = watch::channel(planned);
        let (stop, stop_rx) = watch::channel(Stop::Running);
        let kicker = tokio::spawn(kicker(Kicker {
            definition: definition_rx,
            live: Arc::clone(&live),
            dry_run: self.dry_run,
            stop: stop_rx,
            descriptors: Arc::clone(&self.descriptors),
            handover,
            notifier: self.notifier.clone(),
        }));
        self.slots.insert(
            name,
            Slot {
                definition,
                live,
                stop,
                kicker,
            },
        );
    }

    /// Takes a reload's plan. On an error nothing has changed.
    pub(crate) fn reload(&mut self, plan: &Plan) -> Result<(), DaemonError> {
        let rules: Vec<_> = plan
            .enabled()
            .map(|planned| {
                let live = self
                    .slots
                    .get(&planned.rule.name)
                    .map_or_else(|| Arc::new(Live::default()), |s| Arc::clone(&s.live));
                (Arc::new(planned.clone()), live)
            })
            .collect();
        self.sources.reload(&rules)?;
        self.leaving.retain(|_, (_, kicker)| !kicker.is_finished());
        let kept: HashSet<&str> = rules.iter().map(|(p, _)| p.rule.name.as_str()).collect();
        let gone: Vec<String> = self
            .slots
            .keys()
            .filter(|name| !kept.contains(name.as_str()))
            .cloned()
            .collect();
        for name in gone {
            if let Some(slot) = self.slots.remove(&name) {
                slot.stop.send_replace(Stop::Drain);
                self.leaving.insert(name, (slot.stop, slot.kicker));
            }
        }
        for (planned, live) in rules {
            match self.slots.get(&planned.rule.name) {
                Some(slot) => {
                    slot.definition.send_replace(planned);
                }
                None => self.add(planned, live),
            }
        }
        Ok(())
    }

    /// How `status` shows the rules of `plan`, the running ones with their
    /// flag and record.
    pub(crate) fn views(&self, plan: &Plan) -> Vec<RuleView> {
        plan.rules
            .iter()
            .map(|planned| RuleView {
                name: planned.rule.name.clone(),
                trigger: planned.rule.trigger.kind(),
                enabled: planned.rule.enabled,
                target: planned.rule.action.to_string(),
                answered: matches!(planned.rule.action, crate::rules::Action::Flush(_)),
                expect_success_within: planned.rule.expect_success_within,
                live: self
                    .slots
                    .get(&planned.rule.name)
                    .filter(|_| planned.rule.enabled)
                    .map(|slot| Arc::clone(&slot.live)),
            })
            .collect()
    }

    /// Stops everything: no new kick starts; kicks in flight get until
    /// `grace` is over, then are abandoned, each with a warning naming
    /// its rule.
    pub(crate) async fn stop(self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        self.sources_stop.send_replace(Stop::Now);
        let mut tasks = vec![(None, self.sources.into_task())];
        for (name, slot) in self.slots {
            slot.stop.send_replace(Stop::Now);
            tasks.push((Some(name), slot.kicker));
        }
        for (name, (stop, kicker)) in self.leaving {
            stop.send_replace(Stop::Now);
            tasks.push((Some(name), kicker));
        }
        for (name, task) in tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
                if let Some(rule) = name {
                    tracing::warn!(event = "kick_abandoned", rule = %rule, "stopping: the kick in flight did not end within {} ms and is abandoned", grace.as_millis());
                }
            }
        }
    }
}
