//! Warnings about valid rules that will not do what their author hopes.
//!
//! Two looks. [`requests`] needs only the rules: a request the service will
//! not understand, or a service in an unusual class (from the services
//! catalog). [`plan`] needs the resolved plan: an endpoint that a kick
//! would fail on, found by the sender's own [`endpoint::probe`] and worded
//! with its hint, and a watched directory that does not exist. It only
//! looks (`stat`); it never opens or kicks an endpoint.

use crate::postfix::{endpoint, services};
use crate::rules::{Position, Rule};

use super::plan::{Plan, Source};

/// A warning about one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Warning {
    /// Where the rule starts, if known.
    pub position: Option<Position>,
    /// What will go wrong.
    pub message: String,
}

fn warning(rule: &Rule, message: String) -> Warning {
    Warning {
        position: rule.position,
        message: format!("rule \"{}\": {message}", rule.name),
    }
}

/// What the services catalog says about each rule's request.
pub(crate) fn requests<'r>(rules: impl Iterator<Item = &'r Rule>) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for rule in rules {
        let target = &rule.target;
        let Some(service) = services::lookup(target.service.as_bytes()) else {
            continue;
        };
        let effect = service.effect(target.request.as_bytes());
        if effect.is_useless() {
            warnings.push(warning(
                rule,
                format!(
                    "kick {} {} {:?}: {effect}",
                    target.class, target.service, target.request
                ),
            ));
        }
        if service.class.as_str() != target.class {
            warnings.push(warning(
                rule,
                format!(
                    "{} usually lives in {}/, not {}/",
                    service.name,
                    service.class.as_str(),
                    target.class
                ),
            ));
        }
    }
    warnings
}

/// What the queue says about each planned rule's endpoint and directory.
pub(crate) fn plan(plan: &Plan) -> Vec<Warning> {
    let mut warnings = Vec::new();
    for planned in &plan.rules {
        if let Err(err) = endpoint::probe(&planned.endpoint) {
            warnings.push(warning(
                &planned.rule,
                format!("endpoint: {err}: {}", err.hint()),
            ));
        }
        if let Source::Watch(watch) = &planned.source {
            if !watch.directory.is_dir() {
                warnings.push(warning(
                    &planned.rule,
                    format!(
                        "watched directory {} does not exist (yet): it will be watched once it appears",
                        watch.directory.display()
                    ),
                ));
            }
        }
    }
    warnings
}
