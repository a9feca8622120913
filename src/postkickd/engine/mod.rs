//! The engine: a plan at work. `serve` owns the daemon's life (ready,
//! reload, stop); `running` keeps one kicker and one pending flag per rule
//! name across reloads; `sources` raise the flags; each `kicker` takes its
//! flag and sends the rule's action; `stats` is what each rule did, which
//! the control side reads and never writes. Nothing here parses a request
//! or renders a document.

pub(crate) mod clock;
pub(crate) mod kicker;
pub(crate) mod live;
pub(crate) mod notify;
pub(crate) mod pending;
pub(crate) mod running;
mod serve;
pub(crate) mod sources;
pub(crate) mod state;
pub(crate) mod stats;
pub(crate) mod stop;
pub(crate) mod systemd;

pub use serve::{run, RunOptions};
pub(crate) use serve::{serve, StopSignals};
