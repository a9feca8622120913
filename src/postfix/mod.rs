//! Everything that talks to Postfix, and nothing that decides when to.
//!
//! [`config`] reads `main.cf` the way Postfix's own programs read it;
//! `services` knows what each of Debian's `master.cf` services does with
//! a raw request; [`endpoint`] is the core sender that delivers one kick to
//! a trigger endpoint (a FIFO or a UNIX-domain socket). Both programs use
//! these parts; none of them reads a rules file, keeps state between kicks
//! or prints: their callers decide what to say and when to kick.

pub mod config;
pub mod endpoint;
pub(crate) mod services;
