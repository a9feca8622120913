//! What `check` adds to validation: what `run` would trip over (errors)
//! and what will not do what its author hopes (warnings).
//!
//! Four looks. [`rules`] needs only the rules: a request the service
//! will not understand (and what to do instead) or that carries YAML's
//! quotes, a service in an unusual class, an interval under a second, a
//! six-field cron read seconds first. [`flush`] needs `main.cf`: a flush
//! site that `fast_flush_domains` does not cover is an error, as the
//! service would answer deny. [`plan`] needs the resolved plan and looks
//! at the queue as the user `check` runs as (the unit runs it as
//! `postfix`): an endpoint that cannot be reached is an error when it is a
//! matter of permission and a warning when Postfix is merely not running;
//! a watched directory that cannot be read is an error, a path that leads
//! to no directory yet (missing, a symlink loop, a file) a warning, judged
//! as the watcher judges it (`sources::files::look_up`). [`Services`]
//! reads master.cf: a service it lacks (commented out, misspelt: with a
//! did-you-mean over its services) or has in the other class is an error
//! while master runs and a warning while it is down, said instead of the
//! missing endpoint it causes. Endpoints are probed with the sender's own
//! [`endpoint::probe`]. Disabled rules are not looked at in the queue.
//! Nothing is kicked or connected to; only the files `fast_flush_domains`
//! names are read.

use std::path::Path;
use std::time::Duration;

use crate::postfix::config::{FastFlush, MainCf};
use crate::postfix::domain_list::{Coverage, DomainList};
use crate::postfix::endpoint::{self, EndpointError};
use crate::postfix::master::{Entry as MasterEntry, MasterCf};
use crate::postfix::services;
use crate::rules::schedule::Cron;
use crate::rules::{Action, Flush, Position, Rule, Target, Trigger};

use super::engine::sources::files::{look_up, Lookup};
use super::plan::{Delivery, Plan, Source};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Severity {
    /// The daemon runs, but not as hoped.
    Warning,
    /// `run` would fail, or the rule could never kick.
    Error,
}

/// A finding about one rule (or the file, without a position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// Where the rule starts, if known.
    pub position: Option<Position>,
    /// How bad.
    pub severity: Severity,
    /// What and what to do.
    pub message: String,
}

/// A finding about `rule`, at `place` (one of its [`crate::rules::Places`]) when it is
/// known, else at the rule.
fn finding(rule: &Rule, place: Option<Position>, severity: Severity, message: String) -> Finding {
    Finding {
        position: place.or(rule.position),
        severity,
        message: format!("rule \"{}\": {message}", rule.name),
    }
}

/// A request wrapped in quotes that YAML kept: `kick: public qmgr "D"`.
fn quoted(request: &str) -> bool {
    request.len() >= 2
        && ((request.starts_with('"') && request.ends_with('"'))
            || (request.starts_with('\'') && request.ends_with('\'')))
}

/// What the rules alone say.
pub(crate) fn rules<'r>(rules: impl Iterator<Item = &'r Rule>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for rule in rules {
        let places = rule.places;
        let mut warn = |place: Option<Position>, message: String| {
            findings.push(finding(rule, place, Severity::Warning, message));
        };
        if let Action::Kick(target) = &rule.action {
            kick(target, &mut |message| warn(places.action, message));
        }
        if let Some(why) = local_time_fallback(rule) {
            warn(places.trigger, why.to_owned());
        }
        match &rule.trigger {
            Trigger::Every { period, .. } if *period < Duration::from_secs(1) => warn(
                places.trigger,
                format!(
                    "every {} kicks {} times a second: did you mean minutes (m)?",
                    crate::rules::display_duration(*period),
                    1000 / period.as_millis().max(1)
                ),
            ),
            Trigger::Cron {
                expression,
                schedule,
                ..
            } if expression.split_whitespace().count() == 6 => {
                let reading = Cron::reading(expression).unwrap_or_default();
                let per_minute = schedule.fires_per_minute();
                let often = if per_minute > 1 {
                    format!("; it fires {per_minute} times a minute")
                } else {
                    String::new()
                };
                warn(places.trigger, format!(
                    "cron \"{expression}\" has 6 fields, read with seconds first: {reading}{often}; for minute hour day month weekday write 5 fields"
                ));
            }
            _ => {}
        }
    }
    findings
}

/// Whether the daemon can write the metrics file where the rules file
/// puts it: its directory exists and this user may write there, and
/// nothing but a regular file is at the path.
pub(crate) fn metrics_file(path: &Path) -> Option<Finding> {
    let file = path.display();
    let directory = path.parent().unwrap_or(Path::new("/"));
    let problem = match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_file() => Some(format!(
            "{file} is not a regular file: remove it, or give metrics_file another path"
        )),
        _ => match std::fs::metadata(directory) {
            Err(e) => Some(format!(
                "its directory {} cannot be used ({}): create it (node_exporter's textfile collector directory), or fix the path",
                directory.display(),
                crate::sys::io_error_text(&e)
            )),
            Ok(meta) if !meta.is_dir() => Some(format!(
                "{} is not a directory: fix the path",
                directory.display()
            )),
            Ok(_) => crate::sys::may_write_in(directory).err().map(|e| {
                format!(
                    "user {} cannot write in {} ({}): run postkickd as a user who may, or give metrics_file a directory it owns",
                    crate::sys::user_name(),
                    directory.display(),
                    crate::sys::io_error_text(&e)
                )
            }),
        },
    };
    problem.map(|problem| Finding {
        position: None,
        severity: Severity::Error,
        message: format!("metrics_file {file}: {problem}"),
    })
}

/// Why a cron rule on local time runs on UTC instead, if it does.
pub(crate) fn local_time_fallback(rule: &Rule) -> Option<&str> {
    match &rule.trigger {
        Trigger::Cron { schedule, .. } => schedule.zone().fallback(),
        _ => None,
    }
}

/// What a raw kick's request and service say.
fn kick(target: &Target, warn: &mut impl FnMut(String)) {
    if quoted(&target.request) {
        warn(format!(
            "the request {:?} is sent with its quotes; in \"kick: class service request\" quotes are part of the request: write {}",
            target.request,
            &target.request[1..target.request.len() - 1]
        ));
    }
    if let Some(service) = services::lookup(target.service.as_bytes()) {
        let effect = service.effect(target.request.as_bytes());
        if effect.is_useless() {
            let instead = service
                .instead()
                .map_or(String::new(), |instead| format!("; {instead}"));
            warn(format!(
                "kick {} {} {:?}: {effect}{instead}",
                target.class, target.service, target.request
            ));
        }
        if service.class.as_str() != target.class {
            warn(format!(
                "{} usually lives in {}/, not {}/",
                service.name,
                service.class.as_str(),
                target.class
            ));
        }
    }
}

/// What `main.cf` says about each enabled flush rule: a site that
/// `fast_flush_domains` does not cover is an error (the service answers
/// deny), one behind a lookup table a warning; refresh and purge with no
/// fast-flush domains do nothing.
pub(crate) fn flush(plan: &Plan, main_cf: &MainCf) -> Vec<Finding> {
    let fast_flush = &main_cf.fast_flush;
    let domains = DomainList::parse(
        "fast_flush_domains",
        &fast_flush.domains,
        &fast_flush.parent_domain_matches_subdomains,
    );
    let main_cf_path = main_cf.config_directory.join("main.cf");
    let mut findings = Vec::new();
    for planned in plan.enabled() {
        let rule = &planned.rule;
        match &rule.action {
            Action::Flush(Flush::Site(site)) => match domains.covers(site) {
                Coverage::Covered(_) => {}
                Coverage::NotCovered(negated) => {
                    let why = negated.map_or(String::new(), |entry| {
                        format!(" (its entry {entry} excludes it)")
                    });
                    findings.push(finding(
                        rule,
                        rule.places.action,
                        Severity::Error,
                        format!(
                            "flush site {site}: fast_flush_domains does not cover it{why}, so the flush service answers deny: in {}, {}, then postfix reload",
                            main_cf_path.display(),
                            fast_flush_line(fast_flush, site)
                        ),
                    ));
                }
                Coverage::Unknown(table) => findings.push(finding(
                    rule,
                    rule.places.action,
                    Severity::Warning,
                    format!(
                        "flush site {site}: fast_flush_domains decides it with {table}, which check cannot consult: ask Postfix (postmap -q {site} {table} for a table), else the service may answer deny"
                    ),
                )),
            },
            Action::Flush(request @ (Flush::Refresh | Flush::Purge)) if domains.is_empty() => {
                findings.push(finding(
                    rule,
                    rule.places.action,
                    Severity::Warning,
                    format!(
                        "{}: fast_flush_domains is empty, so the flush service keeps no per-destination logs and this does nothing (postqueue would answer deny)",
                        Action::Flush(request.clone())
                    ),
                ));
            }
            _ => {}
        }
    }
    findings
}

/// The `main.cf` line that would cover `site`: the file's own
/// `fast_flush_domains` line, changed, or a new one.
fn fast_flush_line(fast_flush: &FastFlush, site: &str) -> String {
    match &fast_flush.written {
        Some((line, written)) => {
            let now = format!("fast_flush_domains = {written}").trim_end().to_owned();
            let kept = written.trim_end_matches([',', ' ', '\t']);
            let then = if kept.is_empty() {
                format!("fast_flush_domains = {site}")
            } else {
                format!("fast_flush_domains = {kept}, {site}")
            };
            format!("change line {line} \"{now}\" to \"{then}\"")
        }
        // Postfix's default is $relay_domains: the advice keeps it, so
        // that a destination added to relay_domains later is covered too.
        None if fast_flush.domains.trim().is_empty() => format!(
            "add the line \"fast_flush_domains = $relay_domains, {site}\" (relay_domains is empty now)"
        ),
        None => format!(
            "add the line \"fast_flush_domains = $relay_domains, {site}\" (it is now $relay_domains: {})",
            fast_flush.domains
        ),
    }
}

/// Whether the error is about permissions rather than absence.
fn denied(err: &EndpointError) -> bool {
    std::error::Error::source(err)
        .and_then(|e| e.downcast_ref::<std::io::Error>())
        .is_some_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied)
}

/// What a delivery's endpoint looks like from here.
fn probe(rule: &Rule, delivery: &Delivery, queue: &Path, user: &str) -> Option<Finding> {
    let shown = queue.join(&delivery.connect);
    match endpoint::probe(&delivery.connect) {
        Err(err) if denied(&err) => Some(finding(
            rule,
            rule.places.action,
            Severity::Error,
            format!(
                "endpoint {}: permission denied for user {user}: run postkickd as user postfix, group postdrop (the unit's User= and Group=), which may enter public/ and private/",
                shown.display()
            ),
        )),
        Err(err @ EndpointError::NameTooLong { .. }) => Some(finding(
            rule,
            rule.places.action,
            Severity::Error,
            format!("endpoint: {err}: {}", err.hint()),
        )),
        Err(err) => Some(finding(
            rule,
            rule.places.action,
            Severity::Warning,
            format!(
                "endpoint {}: {err}: {}",
                shown.display(),
                err.hint()
            ),
        )),
        Ok(_) => None,
    }
}

/// What Postfix's master says about the service a delivery reaches: not
/// in master.cf (commented out, or misspelt) or in the other class. An
/// error while master runs (every kick would fail), a warning while it
/// is down (master.cf may be about to change).
pub(crate) struct Services<'m> {
    /// master.cf as read.
    pub master_cf: &'m MasterCf,
    /// Whether master runs.
    pub running: bool,
}

impl Services<'_> {
    fn judge(&self, rule: &Rule, delivery: &Delivery) -> Option<Finding> {
        let (class, service) = delivery.endpoint()?;
        let path = self.master_cf.path.display();
        let entries: Vec<&MasterEntry> = self.master_cf.local(&service).collect();
        if entries.iter().any(|e| e.class == class) {
            return None;
        }
        if let Some(entry) = entries.first() {
            return Some(finding(
                rule,
                rule.places.action,
                Severity::Error,
                format!(
                    "{service} is {} in {path} (line {}), so its endpoint is {}/{service}, not {class}/{service}: write {} {service} in the rule",
                    entry.class, entry.line, entry.class, entry.class
                ),
            ));
        }
        let why = match self.master_cf.commented_out(&service) {
            Some(entry) => format!(
                "service {service} is commented out in {path} (line {}): restore that entry and its -o lines, then postfix reload",
                entry.line
            ),
            None => {
                let meant = crate::rules::closest(&service, self.master_cf.local_names())
                    .map_or(String::new(), |name| format!(": did you mean {name}?"));
                format!(
                    "service {service} is not in {path}{meant} (postconf -M lists its services): fix the rule, or add the service and postfix reload"
                )
            }
        };
        let (severity, now) = if self.running {
            (
                Severity::Error,
                "Postfix runs without it, so every kick would fail",
            )
        } else {
            (Severity::Warning, "Postfix is not running")
        };
        Some(finding(
            rule,
            rule.places.action,
            severity,
            format!("{why} ({now})"),
        ))
    }
}

/// What the queue says about each enabled rule's endpoint and directory,
/// looked at from the queue directory (the working directory), and
/// master.cf about its services when it could be read.
pub(crate) fn plan(plan: &Plan, services: Option<&Services<'_>>) -> Vec<Finding> {
    let user = crate::sys::user_name();
    let mut findings = Vec::new();
    for planned in plan.enabled() {
        let rule = &planned.rule;
        for delivery in &planned.deliveries {
            // A service master.cf lacks explains its missing endpoint.
            match services.and_then(|s| s.judge(rule, delivery)) {
                Some(found) => findings.push(found),
                None => findings.extend(probe(rule, delivery, &plan.queue_directory, &user)),
            }
        }
        if let Source::Watch(watch) = &planned.source {
            let directory = watch.directory.display();
            let readable = match look_up(&watch.directory) {
                Lookup::Absent(reason) => {
                    findings.push(finding(
                        rule,
                        rule.places.trigger,
                        Severity::Warning,
                        format!(
                            "watched directory {directory} is not there ({reason}): it will be watched once it is"
                        ),
                    ));
                    continue;
                }
                Lookup::Refused(e) => Err(e),
                Lookup::Directory(_) => std::fs::read_dir(&watch.directory).map(drop),
            };
            match readable {
                Ok(()) => {}
                Err(e) => findings.push(finding(
                    rule,
                    rule.places.trigger,
                    Severity::Error,
                    format!(
                        "watched directory {directory} cannot be read by user {user} ({}): run postkickd as the user that owns it (postfix for the maildrop)",
                        crate::sys::io_error_text(&e)
                    ),
                )),
            }
        }
    }
    findings
}
