//! Renderings of the protocol's documents for people and for Prometheus:
//! the `status` table (also `SIGUSR1`'s lines) and the metrics text. They
//! read typed documents and records only; they ask nothing and change
//! nothing.

mod metrics;
mod table;

pub(crate) use metrics::metrics;
pub(crate) use table::table;
