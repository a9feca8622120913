//! The commands beside `run`: `check` and `next` read and report, `reload`
//! checks and then signals or asks the daemon, `status` and `kick` ask it, `demo`
//! and `endpoints` run the daemon against a throw-away test queue;
//! `doctor` judges the path a message takes through Postfix, once.
//!
//! None of them sends a kick to a real Postfix or changes a file outside
//! the test queue it was given.

mod check;
mod demo;
mod doctor;
mod kick;
mod next;
mod reload;
mod status;
mod test_queue;

pub use check::check;
pub use demo::{demo, endpoints};
pub use doctor::doctor;
pub use kick::kick;
pub use next::next;
pub use reload::{reload, ReloadTarget};
pub use status::{status, StatusForm};
