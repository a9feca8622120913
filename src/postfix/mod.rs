//! Everything that talks to Postfix, and nothing that decides when to.
//!
//! [`config`] reads `main.cf` the way Postfix's own programs read it;
//! `services` knows what each of Debian's `master.cf` services does with
//! a raw request; [`endpoint`] is the core sender that delivers one kick to
//! a trigger endpoint (a FIFO or a UNIX-domain socket). [`attr`] speaks
//! Postfix's request protocol (attribute lists) for the services that
//! answer: [`flush`] and [`showq`]; [`domain_list`] matches a site against
//! `fast_flush_domains` as Postfix does; `master` reads `master.cf` and
//! tells whether master runs; `health` judges each link of the path a
//! message takes. Both programs use these parts
//! (`postkick` only `config` and `endpoint`); none of them reads a rules
//! file, keeps state between kicks or prints: their callers decide what to
//! say and when to kick.

pub mod attr;
pub mod config;
pub mod domain_list;
pub mod endpoint;
pub mod flush;
pub(crate) mod health;
pub(crate) mod master;
pub(crate) mod services;
pub mod showq;
