//! postkick: kick Postfix services, by hand or by rule.
//!
//! The crate holds everything both programs share: reading Postfix's
//! `main.cf` ([`config`]), delivering a kick to a trigger endpoint
//! ([`trigger`]), and knowing what each Postfix service does with a raw
//! request ([`services`]). The `postkick` command ([`command`]) is a drop-in
//! replacement for Postfix's own; the `postkickd` daemon ([`daemon`]) runs
//! a rules file ([`rules`]) of timers ([`schedule`]) and directory watches
//! ([`watch`]). Binaries in `src/bin/` only parse their arguments and call
//! into here.

#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod command;
pub mod config;
pub mod daemon;
pub mod diag;
pub mod endpoints;
pub mod getopt;
pub mod rules;
pub mod schedule;
pub mod services;
pub(crate) mod sys;
pub mod trigger;
pub mod watch;
