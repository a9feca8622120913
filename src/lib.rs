//! postkick: kick Postfix services, by hand or by rule.
//!
//! The tree is the architecture. [`postfix`] is everything that talks to
//! Postfix: its `main.cf`, its services, the core sender that delivers a
//! kick to a trigger endpoint, and the request-protocol client for the
//! services that answer (flush, showq). [`postkick`] is the drop-in
//! command built on the sender alone. [`rules`] is the rules file: its model and its validation.
//! [`postkickd`] is the daemon: it resolves a rules file and `main.cf`
//! into a plan once, runs each planned rule's trigger source, and hands
//! the kicks to one kicker per rule, which calls the sender (or the flush
//! client). Data flows one way: rules file + `main.cf` → plan → sources →
//! kicker → sender.
//! Binaries in `src/bin/` only parse their arguments and call into here;
//! [`exit`] and the runtime builder are shared by both.

#![deny(missing_docs)]
#![deny(unsafe_code)]
#![warn(unreachable_pub)]

pub mod exit;
mod files;
pub mod postfix;
pub mod postkick;
pub mod postkickd;
pub mod rules;
mod sys;

/// The single-threaded Tokio runtime every program here runs on: kicks are
/// asynchronous, and one thread is all they need.
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
}
