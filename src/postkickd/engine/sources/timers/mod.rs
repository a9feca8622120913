//! Timer sources: one task raises the pending kick of every `cron` and
//! `every` rule at its fire times, and keeps each rule's place across
//! reloads.
//!
//! `every` counts on the monotonic clock from the daemon's start. `cron`
//! waits on the wall clock of the [`Clock`] it is given (the system's: one
//! `timerfd` shared by all cron rules, so a thousand cost one descriptor);
//! a suspend or a clock set forward wakes it, so a slot passed meanwhile
//! fires once, and a clock set back never repeats one. Each fire may be
//! delayed by the clock's jitter. The wall clock and the jitter are only
//! ever read from the clock, which the tests beside this file simulate.
//! A reload hands the task the new set of timer rules: a rule whose
//! definition did not change keeps its next fire time (and a slot waiting
//! out its jitter); a changed rule keeps the slots it already fired. Nothing
//! here polls; a timer only raises its rule's [`Pending`], it never kicks.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::postkickd::engine::clock::{Clock, SystemClock};
use crate::postkickd::engine::live::Live;
use crate::postkickd::engine::state::{Memory, StateFile};
use crate::postkickd::engine::stats::RuleStats;
use crate::postkickd::engine::stop::{stopped, Stop};
use crate::postkickd::plan::{CronSpec, EverySpec, Timer};
use crate::rules::schedule::{Cron, CronProgress};

/// One timer rule as the plan has it.
#[derive(Debug, Clone)]
pub(crate) struct TimerRule {
    /// The rule's name: what identifies it across reloads.
    pub name: String,
    /// When it fires.
    pub timer: Timer,
    /// Raised at each fire time.
    pub live: Arc<Live>,
}

/// The running timer task.
pub(crate) struct Timers {
    rules: watch::Sender<Vec<TimerRule>>,
    task: tokio::task::JoinHandle<()>,
}

impl Timers {
    /// Starts the task (inside a runtime) with `rules`, remembering the
    /// last fires in `state` if given; it ends when `stop` leaves
    /// [`Stop::Running`].
    pub(crate) fn start(
        rules: Vec<TimerRule>,
        stop: watch::Receiver<Stop>,
        state: Option<StateFile>,
    ) -> Timers {
        Self::start_on(rules, stop, state, SystemClock::new())
    }

    /// [`Timers::start`] on a given clock.
    pub(crate) fn start_on(
        rules: Vec<TimerRule>,
        stop: watch::Receiver<Stop>,
        state: Option<StateFile>,
        clock: impl Clock,
    ) -> Timers {
        let (sender, receiver) = watch::channel(rules);
        Timers {
            rules: sender,
            task: tokio::spawn(run(receiver, stop, state, clock)),
        }
    }

    /// Replaces the set of timer rules.
    pub(crate) fn update(&self, rules: Vec<TimerRule>) {
        self.rules.send_replace(rules);
    }

    /// The task, to wait for at shutdown.
    pub(crate) fn into_task(self) -> tokio::task::JoinHandle<()> {
        self.task
    }
}

/// A cron rule's place in time.
struct CronState {
    cron: Cron,
    limit: Duration,
    /// Its fires decide a kick after a restart: written before the kick.
    catch_up: bool,
    progress: CronProgress,
    /// The next slot and the jittered instant it fires at.
    due: Option<(Timestamp, Timestamp)>,
    /// No slot is left (a year field in the past): said once.
    exhausted: bool,
}

/// An `every` rule's place in time.
struct EveryState {
    period: Duration,
    limit: Duration,
    /// The unjittered fire time; the rhythm is kept from it.
    next: Instant,
    /// When it fires, jitter included.
    at: Instant,
}

enum State {
    Cron(Box<CronState>),
    Every(EveryState),
}

struct Entry {
    state: State,
    live: Arc<Live>,
}

impl Entry {
    /// A rule's place in time, from now; `last` is its last fire before
    /// the daemon (re)started, if remembered. Also the cause of a
    /// catch-up fire, when a `catch_up` rule's slot passed while the daemon
    /// was down.
    fn new(
        timer: &Timer,
        live: Arc<Live>,
        last: Option<Timestamp>,
        clock: &impl Clock,
    ) -> (Entry, Option<String>) {
        let mut catch_up = None;
        let state = match timer {
            Timer::Cron(spec) => {
                let CronSpec {
                    schedule: cron,
                    jitter,
                    catch_up: catching_up,
                } = spec.as_ref();
                let now = clock.now();
                // At most one kick, whatever the number of slots missed.
                if let Some(missed) = last
                    .filter(|_| *catching_up)
                    .and_then(|last| cron.next_after(last))
                    .filter(|slot| *slot <= now)
                {
                    catch_up = Some(format!(
                        "catch up: slot {} passed while postkickd was down",
                        cron.zone().display(missed)
                    ));
                }
                State::Cron(Box::new(CronState {
                    cron: Cron::clone(cron),
                    limit: *jitter,
                    catch_up: *catching_up,
                    progress: CronProgress::starting(now),
                    due: None,
                    exhausted: false,
                }))
            }
            Timer::Every(EverySpec { period, jitter }) => {
                // The rhythm of before a restart: the first fire after now
                // of last + k * period.
                let wait = last
                    .and_then(|last| {
                        let since = Duration::try_from(clock.now().duration_since(last)).ok()?;
                        let periods = since.as_nanos() / period.as_nanos().max(1) + 1;
                        let next = period.checked_mul(u32::try_from(periods).ok()?)?;
                        next.checked_sub(since)
                    })
                    .unwrap_or(*period);
                let next = Instant::now() + wait;
                State::Every(EveryState {
                    period: *period,
                    limit: *jitter,
                    next,
                    at: next + clock.jitter(*jitter),
                })
            }
        };
        (Entry { state, live }, catch_up)
    }

    /// Takes the new definition, keeping what it can of the old place.
    fn redefine(&mut self, timer: &Timer, live: Arc<Live>, clock: &impl Clock) {
        self.live = live;
        match (&mut self.state, timer) {
            (State::Cron(state), Timer::Cron(spec)) => {
                let (cron, jitter) = (&spec.schedule, &spec.jitter);
                state.catch_up = spec.catch_up;
                if state.cron != *cron || state.limit != *jitter {
                    state.cron = Cron::clone(cron);
                    state.limit = *jitter;
                    state.due = None;
                    state.exhausted = false;
                }
            }
            (State::Every(state), Timer::Every(EverySpec { period, jitter }))
                if state.period == *period && state.limit == *jitter => {}
            _ => *self = Entry::new(timer, Arc::clone(&self.live), None, clock).0,
        }
    }
}

/// A rule that fired: its trigger, raised once the fire is recorded.
struct Fire {
    name: String,
    live: Arc<Live>,
    cause: String,
    /// The fire is on disk before the kick is raised.
    written_first: bool,
}

/// Records `fires` in `memory` (on disk first where a restart depends on
/// it) and raises their kicks.
async fn take(
    fires: Vec<Fire>,
    memory: &mut Memory,
    entries: &HashMap<String, Entry>,
    now: Timestamp,
) {
    for fire in &fires {
        memory.fired(&fire.name, now);
    }
    if fires.iter().any(|fire| fire.written_first) {
        memory.save(|name| entries.contains_key(name)).await;
    }
    for fire in fires {
        fire.live.raise(|| fire.cause);
    }
}

async fn run(
    mut updates: watch::Receiver<Vec<TimerRule>>,
    mut stop: watch::Receiver<Stop>,
    state: Option<StateFile>,
    clock: impl Clock,
) {
    let mut memory = Memory::load(state);
    let mut entries: HashMap<String, Entry> = HashMap::new();
    let mut caught_up = Vec::new();
    for rule in updates.borrow_and_update().iter() {
        let last = memory.last(&rule.name);
        let (entry, cause) = Entry::new(&rule.timer, Arc::clone(&rule.live), last, &clock);
        entries.insert(rule.name.clone(), entry);
        caught_up.extend(cause.map(|cause| Fire {
            name: rule.name.clone(),
            live: Arc::clone(&rule.live),
            cause,
            written_first: true,
        }));
    }
    take(caught_up, &mut memory, &entries, clock.now()).await;
    loop {
        let mut next_wall: Option<Timestamp> = None;
        let mut next_monotonic: Option<Instant> = None;
        for (name, entry) in &mut entries {
            match &mut entry.state {
                State::Cron(state) => {
                    if let Some(at) = cron_due(name, state, entry.live.stats(), &clock) {
                        next_wall = Some(next_wall.map_or(at, |t| t.min(at)));
                    }
                }
                State::Every(state) => {
                    let wall = clock
                        .now()
                        .checked_add(state.at.saturating_duration_since(Instant::now()))
                        .ok();
                    entry.live.stats().next_fire(wall);
                    next_monotonic = Some(next_monotonic.map_or(state.at, |t| t.min(state.at)));
                }
            }
        }
        let save_due = memory.due();
        tokio::select! {
            () = clock.until(next_wall.unwrap_or(Timestamp::MAX)), if next_wall.is_some() => {
                let now = clock.now();
                take(fire_cron(&mut entries, now), &mut memory, &entries, now).await;
            }
            () = tokio::time::sleep_until(next_monotonic.unwrap_or_else(Instant::now)), if next_monotonic.is_some() => {
                let now = clock.now();
                take(fire_every(&mut entries, Instant::now(), &clock), &mut memory, &entries, now).await;
            }
            () = tokio::time::sleep_until(save_due.unwrap_or_else(Instant::now)), if save_due.is_some() => {
                memory.save(|name| entries.contains_key(name)).await;
            }
            changed = updates.changed() => {
                // At stop the rules' sender goes as the stop comes: either
                // way ends here, with the fires saved.
                if changed.is_err() {
                    break;
                }
                apply(&mut entries, &updates.borrow_and_update(), &clock);
            }
            () = stopped(&mut stop, |s| s != Stop::Running) => break,
        }
    }
    memory.save(|name| entries.contains_key(name)).await;
}

fn apply(entries: &mut HashMap<String, Entry>, rules: &[TimerRule], clock: &impl Clock) {
    let kept: HashSet<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    entries.retain(|name, _| kept.contains(name.as_str()));
    for rule in rules {
        match entries.get_mut(&rule.name) {
            Some(entry) => entry.redefine(&rule.timer, Arc::clone(&rule.live), clock),
            None => {
                let (entry, _) = Entry::new(&rule.timer, Arc::clone(&rule.live), None, clock);
                entries.insert(rule.name.clone(), entry);
            }
        }
    }
}

/// The instant a cron rule fires next, computing its slot if needed.
fn cron_due(
    name: &str,
    state: &mut CronState,
    stats: &RuleStats,
    clock: &impl Clock,
) -> Option<Timestamp> {
    if state.due.is_none() && !state.exhausted {
        match state.progress.next(&state.cron) {
            Some(slot) => {
                let at = slot.checked_add(clock.jitter(state.limit)).unwrap_or(slot);
                stats.next_fire(Some(at));
                tracing::debug!(rule = name, next = %state.cron.zone().display(at), "waiting for the next fire time");
                state.due = Some((slot, at));
            }
            None => {
                tracing::warn!(rule = name, "cron expression has no future fire time");
                state.exhausted = true;
            }
        }
    }
    state.due.map(|(_, at)| at)
}

fn fire_cron(entries: &mut HashMap<String, Entry>, now: Timestamp) -> Vec<Fire> {
    let mut fired = Vec::new();
    for (name, entry) in entries.iter_mut() {
        let State::Cron(state) = &mut entry.state else {
            continue;
        };
        if let Some((slot, at)) = state.due {
            if at <= now {
                fired.push(Fire {
                    name: name.clone(),
                    live: Arc::clone(&entry.live),
                    cause: format!("slot {}", state.cron.zone().display(slot)),
                    written_first: state.catch_up,
                });
                // A kick that outlasts several slots, a suspend or a clock
                // set forward fires once, not once per slot.
                state.progress.fired(slot, now);
                state.due = None;
            }
        }
    }
    fired
}

fn fire_every(entries: &mut HashMap<String, Entry>, now: Instant, clock: &impl Clock) -> Vec<Fire> {
    let mut fired = Vec::new();
    for (name, entry) in entries.iter_mut() {
        let State::Every(state) = &mut entry.state else {
            continue;
        };
        if state.at <= now {
            fired.push(Fire {
                name: name.clone(),
                live: Arc::clone(&entry.live),
                cause: "interval".to_owned(),
                written_first: false,
            });
            state.next += state.period;
            if state.next < now {
                state.next = now + state.period;
            }
            state.at = state.next + clock.jitter(state.limit);
        }
    }
    fired
}

#[cfg(test)]
mod tests;
