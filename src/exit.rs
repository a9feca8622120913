//! Exit statuses: one vocabulary for both programs.
//!
//! Postfix's programs exit 0 on success and 1 on every reported error;
//! `postkick` must match that byte for byte, and `postkickd` (whose
//! `check` gates `ExecStartPre=` and whose `run` feeds `Restart=`) follows
//! the same two values so that scripts read both the same way, except
//! `postkickd status`, which speaks monitoring-plugins' four (0 ok,
//! 1 warning, 2 critical, 3 unknown) so that Nagios, Icinga or a systemd
//! timer can call it as it is. Which
//! status a run ends with is decided by the command modules; turning it
//! into a process status happens here and nowhere else.

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The work was done: the kick delivered, the rules valid, the daemon
    /// stopped when told to.
    Success,
    /// An error was reported.
    Failure,
    /// `postkickd status` for monitoring, as monitoring-plugins read a
    /// check: 1 warning, 2 critical, 3 unknown.
    Attention(u8),
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::Attention(code) => code,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        Self::from(exit.code())
    }
}
