//! `postkickd doctor`: "why isn't mail moving?", asked once, without a
//! running daemon.
//!
//! It reads main.cf (from `-c`, the rules file's
//! `postfix.config_directory`, `$MAIL_CONFIG` or /etc/postfix) and, if the
//! rules file can be read, which services its rules kick and how long the
//! maildrop may take to drain; then it judges every link of the path a
//! message takes ([`crate::postfix::health`]) and prints one line per
//! link: its state, its name, the cause and the fix. It exits as `status`
//! does for monitoring: 0 when every link is ok, 1 when one needs a look,
//! 2 when one has failed. Read-only: it reads files, lists the maildrop
//! and asks showq for the queue; it kicks nothing and changes nothing. Run
//! it as root or as the mail owner (others cannot look in the maildrop).

use std::path::Path;
use std::time::Duration;

use crate::postfix::health::{Site, State, PICKUP_LIMIT};
use crate::postfix::showq;
use crate::postkickd::error::{Attention, DaemonError};
use crate::postkickd::load::read_main_cf;
use crate::postkickd::output::outln;
use crate::postkickd::plan::Plan;
use crate::rules::{self, RuleSet};

/// The longest showq may take to answer.
const SHOWQ_WITHIN: Duration = Duration::from_secs(5);

/// Judges every link of the path a message takes and prints them.
pub fn doctor(rules_path: &Path, config_directory: Option<&Path>) -> Result<(), DaemonError> {
    let rules = match rules::load(rules_path) {
        Ok(rules) => Some(rules),
        Err(err) => {
            outln!(
                "(the rules file cannot be used, so only pickup, qmgr and showq are checked: {})",
                err.to_string().lines().next().unwrap_or_default()
            );
            None
        }
    };
    let empty = RuleSet::default();
    let rule_set = rules.as_ref().unwrap_or(&empty);
    let main_cf = read_main_cf(rules_path, rule_set, config_directory, |_| {})?;
    let plan = Plan::resolve(rule_set, &main_cf);
    let site = Site::from_main_cf(&main_cf);
    let (services, pickup_limit) = if rules.is_some() {
        (plan.services(), plan.pickup_limit())
    } else {
        (Vec::new(), PICKUP_LIMIT)
    };
    plan.enter()?;
    let started = tokio::time::Instant::now();
    let reading = crate::runtime()
        .map_err(DaemonError::setup("the runtime"))?
        .block_on(showq::read(
            &plan.showq,
            crate::postkickd::control::queue::CAP,
            started + SHOWQ_WITHIN,
        ))
        .map_err(|e| format!("{e}: {}", e.hint()));
    if !site.is_postfix() {
        let why = format!(
            "there is no {}: is {} Postfix's configuration directory? (-c names another)",
            main_cf.config_directory.join("master.cf").display(),
            main_cf.config_directory.display()
        );
        return Err(DaemonError::Attention {
            level: Attention::Critical,
            reasons: vec![(Attention::Critical, why)],
        });
    }
    let links = site.links(
        &services,
        pickup_limit,
        &reading,
        jiff::Timestamp::now().as_second(),
    );
    outln!(
        "postkickd doctor: Postfix of {}, queue {}",
        main_cf.config_directory.display(),
        main_cf.queue_directory.display()
    );
    let width = links.iter().map(|l| l.name.len()).max().unwrap_or(0);
    for link in &links {
        let state = match link.state {
            State::Ok => "ok",
            State::Warning => "WARNING",
            State::Failed => "FAILED",
        };
        outln!("{state:7}  {:width$}  {}", link.name, link.said());
    }
    let reasons: Vec<(Attention, String)> = links
        .iter()
        .filter_map(|link| {
            let level = match link.state {
                State::Ok => return None,
                State::Warning => Attention::Warning,
                State::Failed => Attention::Critical,
            };
            Some((level, format!("{}: {}", link.name, link.said())))
        })
        .collect();
    let worst = reasons.iter().map(|(level, _)| *level).max();
    match worst {
        None => Ok(()),
        Some(level) => {
            let mut reasons = reasons;
            reasons.sort_by_key(|(level, _)| std::cmp::Reverse(*level));
            Err(DaemonError::Attention { level, reasons })
        }
    }
}
