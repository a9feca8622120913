//! `postkickd`: runs a rules file's kicks until told to stop.
//!
//! The data flows one way. `load` reads the rules file and the `main.cf`
//! it points at, and `plan` resolves them once into what each rule sends
//! where. The `engine` runs a plan: its `sources` raise each rule's
//! pending kick, one kicker per rule sends it through the core sender (or
//! as a flush request), `serve` owns the daemon's life (ready, reload,
//! stop). `control` answers the control socket in its typed protocol, from
//! what the engine records; `render` turns those documents into a table
//! and Prometheus' text. `commands` are the read-only and demonstration
//! commands; `lint` is what `check` adds to validation. Errors are
//! [`DaemonError`]s until [`exit`] words them at the edge.
//!
//! This file is the front door only: it declares the parts and re-exports
//! what the binary calls.

mod commands;
mod control;
mod engine;
mod error;
mod instance;
mod lint;
mod load;
mod lock;
mod logging;
mod output;
mod plan;
mod render;

use engine::sources;

pub use commands::{
    check, demo, doctor, endpoints, kick, next, reload, status, ReloadTarget, StatusForm,
};
pub use engine::{run, RunOptions};
pub use error::{exit, DaemonError};
pub use instance::{control_socket, rules_file};
pub use logging::{init as init_logging, LogFormat, LogOptions, LogTarget, DEFAULT_SYSLOG_SOCKET};
pub use sources::files::WatchError;
