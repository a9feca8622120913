//! The end-to-end tests, as one binary: real sockets, FIFOs, files,
//! signals, a real `postkickd` and `postkick`, and a private Postfix.
//! Helpers live in the `postkick-testkit` crate (`tests/kit`), shared with
//! the benchmarks.

mod check;
mod doctor;
mod examples;
mod faults;
mod flush;
mod health;
mod hostile_paths;
mod logs;
mod notify;
mod postkick;
mod postkickd;
mod properties;
mod reloads;
mod service;
mod standalone;
mod status;
mod watch;
mod zones;
