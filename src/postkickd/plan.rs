//! The plan: a validated rules file resolved against one `main.cf`, once.
//!
//! Everything that depends on where Postfix lives is decided here and
//! nowhere else: what each rule's action sends where (a raw kick to its
//! endpoint; a flush request to the flush service; `flush: all` as the two
//! kicks `postqueue -f` sends, to the services `main.cf` names), each
//! watched directory as an absolute path, and when a file in it counts as
//! arrived (`executable` for the queue's own maildrop, which postdrop
//! finishes by its mode). The daemon runs a plan, `check` lints one;
//! neither resolves a path again. It reads nothing and touches nothing:
//! paths are only joined.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::instance::{Instance, InstanceNameError};
use super::DaemonError;
use crate::postfix::config::MainCf;
use crate::postfix::endpoint;
use crate::postfix::flush::FlushRequest;
use crate::postfix::health::Site;
use crate::rules::schedule::Cron;
use crate::rules::{Action, Flush, Readiness, Rule, RuleSet, Trigger};

/// A rules file resolved against a queue directory.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Where the endpoints are.
    pub queue_directory: PathBuf,
    /// Every rule of the file, disabled ones included, in file order.
    pub rules: Vec<PlannedRule>,
    /// Where to write the metrics, if anywhere.
    pub metrics_file: Option<PathBuf>,
    /// The showq service, from within the queue directory.
    pub showq: PathBuf,
    /// The Postfix the rules kick, as its health checks see it.
    pub site: Arc<Site>,
    /// Which Postfix instance that is: the daemon's control socket and
    /// state file follow from it unless given.
    pub instance: Result<Instance, InstanceNameError>,
}

/// One rule with everything it needs at run time.
#[derive(Debug, Clone)]
pub(crate) struct PlannedRule {
    /// The rule as validated.
    pub rule: Rule,
    /// What its action sends, in order (two kicks for `flush: all`).
    pub deliveries: Vec<Delivery>,
    /// What raises it.
    pub source: Source,
    /// The least time between the starts of two kicks (a watch rule's
    /// `debounce`; zero for the others).
    pub debounce: Duration,
    /// The Postfix it kicks: which link broke when a kick fails.
    pub site: Arc<Site>,
}

/// One request to one service.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    /// `class/service`: what it connects to, from within the queue
    /// directory (the daemon works there, as Postfix's programs do, so
    /// that a long queue directory does not overflow `sockaddr_un`).
    pub connect: PathBuf,
    /// What it sends.
    pub request: Request,
}

impl Delivery {
    /// The `(class, service)` it connects to.
    pub(crate) fn endpoint(&self) -> Option<(String, String)> {
        let mut parts = self
            .connect
            .iter()
            .map(|p| p.to_string_lossy().into_owned());
        Some((parts.next()?, parts.next()?))
    }
}

/// What a delivery sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    /// Raw bytes to a trigger endpoint: the core sender's kick.
    Raw(String),
    /// An attribute-protocol request, answered with a status.
    Flush(FlushRequest),
}

/// What makes a planned rule fire, with what its source needs, so that
/// no source goes back to the rule.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A time: the timers' (a cron or every trigger).
    Timer(Timer),
    /// Files arriving in a directory: the watches' (a watch trigger).
    Watch(WatchSpec),
}

/// A time a rule fires at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Timer {
    /// The slots of a cron expression.
    Cron(Box<CronSpec>),
    /// A fixed interval.
    Every(EverySpec),
}

/// A cron trigger.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CronSpec {
    /// Parsed, with its zone.
    pub schedule: Cron,
    /// A random delay of up to this much after each slot.
    pub jitter: Duration,
    /// Fire once at start when a slot passed while the daemon was down.
    pub catch_up: bool,
}

/// An `every` trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EverySpec {
    /// The interval.
    pub period: Duration,
    /// A random delay of up to this much after each fire time.
    pub jitter: Duration,
}

/// A watched directory, resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WatchSpec {
    /// Absolute.
    pub directory: PathBuf,
    /// Only file names matching this count.
    pub pattern: Option<glob::Pattern>,
    /// Also compare listings this often.
    pub poll: Option<Duration>,
    /// When a file counts as arrived.
    pub ready: Readiness,
    /// How long a ready file may wait before the daemon warns and kicks
    /// again; `None`: never.
    pub drain_within: Option<Duration>,
}

impl Plan {
    /// Resolves `rules` against `main_cf`'s queue directory.
    pub(super) fn resolve(rule_set: &RuleSet, main_cf: &MainCf) -> Plan {
        let queue = &main_cf.queue_directory;
        let services = &main_cf.services;
        let delivery = |class: &str, service: &str, request: Request| Delivery {
            connect: endpoint::locate(Path::new(""), class.as_bytes(), service.as_bytes()),
            request,
        };
        let flush =
            |request: FlushRequest| delivery("public", &services.flush, Request::Flush(request));
        let site = Arc::new(Site::from_main_cf(main_cf));
        let rules = rule_set
            .rules
            .iter()
            .map(|rule| PlannedRule {
                deliveries: match &rule.action {
                    Action::Kick(target) => vec![delivery(
                        &target.class,
                        &target.service,
                        Request::Raw(target.request.clone()),
                    )],
                    // What postqueue -f sends: qmgr forgets dead
                    // destinations and rescans everything; pickup scans
                    // the maildrop.
                    Action::Flush(Flush::All) => vec![
                        delivery("public", &services.queue, Request::Raw("FADI".to_owned())),
                        delivery("public", &services.pickup, Request::Raw("W".to_owned())),
                    ],
                    Action::Flush(Flush::Site(site)) => {
                        vec![flush(FlushRequest::SendSite(site.clone()))]
                    }
                    Action::Flush(Flush::QueueId(id)) => {
                        vec![flush(FlushRequest::SendFile(id.clone()))]
                    }
                    Action::Flush(Flush::Refresh) => vec![flush(FlushRequest::Refresh)],
                    Action::Flush(Flush::Purge) => vec![flush(FlushRequest::Purge)],
                },
                source: source(&rule.trigger, queue),
                debounce: match rule.trigger {
                    Trigger::Watch { debounce, .. } => debounce,
                    _ => Duration::ZERO,
                },
                rule: rule.clone(),
                site: Arc::clone(&site),
            })
            .collect();
        Plan {
            queue_directory: queue.clone(),
            rules,
            metrics_file: rule_set.metrics_file.clone(),
            showq: endpoint::locate(Path::new(""), b"public", services.showq.as_bytes()),
            site,
            instance: Instance::of_main_cf(main_cf),
        }
    }

    /// The services the enabled rules kick, as `(class, service)`.
    pub(crate) fn services(&self) -> Vec<(String, String)> {
        let mut services: Vec<(String, String)> = Vec::new();
        for endpoint in self
            .enabled()
            .flat_map(|p| &p.deliveries)
            .filter_map(Delivery::endpoint)
        {
            if !services.contains(&endpoint) {
                services.push(endpoint);
            }
        }
        services
    }

    /// How long a ready file may wait in the queue's maildrop: the
    /// `drain_within` of the rule that watches it, else pickup's default.
    pub(crate) fn pickup_limit(&self) -> Duration {
        let maildrop = self.queue_directory.join("maildrop");
        self.enabled()
            .find_map(|p| match &p.source {
                Source::Watch(watch) if watch.directory == maildrop => watch.drain_within,
                _ => None,
            })
            .unwrap_or(crate::postfix::health::PICKUP_LIMIT)
    }

    /// The rules that run.
    pub(super) fn enabled(&self) -> impl Iterator<Item = &PlannedRule> {
        self.rules.iter().filter(|r| r.rule.enabled)
    }

    /// Makes the queue directory the working directory, where kicks
    /// connect from.
    pub(super) fn enter(&self) -> Result<(), DaemonError> {
        std::env::set_current_dir(&self.queue_directory).map_err(|source| {
            DaemonError::QueueDirectory {
                path: self.queue_directory.display().to_string(),
                user: crate::sys::user_name(),
                source,
            }
        })
    }
}

fn source(trigger: &Trigger, queue: &Path) -> Source {
    match trigger {
        Trigger::Cron {
            schedule,
            jitter,
            catch_up,
            ..
        } => Source::Timer(Timer::Cron(Box::new(CronSpec {
            schedule: schedule.clone(),
            jitter: *jitter,
            catch_up: *catch_up,
        }))),
        Trigger::Every { period, jitter } => Source::Timer(Timer::Every(EverySpec {
            period: *period,
            jitter: *jitter,
        })),
        Trigger::Watch {
            directory,
            pattern,
            poll,
            ready,
            drain_within,
            ..
        } => {
            let directory = queue.join(directory);
            let maildrop = directory == queue.join("maildrop");
            let drain_within = match drain_within {
                Some(limit) => Some(*limit).filter(|l| !l.is_zero()),
                None => maildrop.then_some(MAILDROP_DRAIN_WITHIN),
            };
            Source::Watch(WatchSpec {
                ready: ready.unwrap_or(if maildrop {
                    Readiness::Executable
                } else {
                    Readiness::Any
                }),
                directory,
                pattern: pattern.clone(),
                poll: *poll,
                drain_within,
            })
        }
    }
}

/// How long a finished file may sit in the queue's own maildrop before
/// the daemon says pickup is not taking it: pickup takes a file within
/// milliseconds of its kick, and its own poll comes every 60 s.
const MAILDROP_DRAIN_WITHIN: Duration = Duration::from_secs(60);

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(directory: &str, extra: &str) -> WatchSpec {
        let text = format!(
            "rules:\n  - name: w\n    watch: {directory}\n{extra}    kick: public pickup W\n"
        );
        let rules = crate::rules::parse(&text).expect("valid");
        match source(&rules.rules[0].trigger, Path::new("/var/spool/postfix")) {
            Source::Watch(spec) => spec,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_queues_own_maildrop_waits_for_the_execute_bit_and_must_drain() {
        for maildrop in ["maildrop", "/var/spool/postfix/maildrop"] {
            let spec = watch(maildrop, "");
            assert_eq!(spec.ready, Readiness::Executable);
            assert_eq!(spec.drain_within, Some(MAILDROP_DRAIN_WITHIN));
        }
        let elsewhere = watch("/srv/drop", "");
        assert_eq!(elsewhere.ready, Readiness::Any);
        assert_eq!(elsewhere.drain_within, None);
        assert_eq!(
            watch("maildrop", "    drain_within: 0s\n").drain_within,
            None
        );
        assert_eq!(
            watch("/srv/drop", "    drain_within: 5s\n").drain_within,
            Some(Duration::from_secs(5))
        );
    }
}
