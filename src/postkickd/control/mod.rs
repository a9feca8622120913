//! The control side: answering the control socket, and asking it.
//!
//! `protocol` is the request and the documents, one set of types for both
//! ends; `server` answers clients of the running daemon (bounded in size
//! and time) from what `observed` collects of the engine's records and
//! the `queue` gauge's showq reading and the `health` gauge's judgement of
//! Postfix's path; `client` is what `postkickd status`
//! and `kick` use to ask. It reads the engine's records and never changes
//! a rule, except to raise one's pending kick for `kick RULE`.

pub(crate) mod client;
pub(crate) mod health;
pub(crate) mod observed;
pub(crate) mod protocol;
pub(crate) mod queue;
pub(crate) mod server;
