//! `postkickd reload`: what the unit's `ExecReload=` runs, and what an
//! administrator runs anywhere else. An invalid file fails the reload
//! (and the old rules keep running) instead of being refused quietly.
//!
//! By default it finds the daemon through its control socket and asks it
//! to reload; the daemon checks the file as `check` does and answers with
//! what runs now or every error, and the command waits for that answer:
//! synchronous for systemd, no pid file or init system needed, and a
//! refused reload is on record for `status`. With `--pid` it checks the
//! file itself, then sends `SIGHUP`; the process it signals must be a
//! postkickd: a pid of 0 or below (a process group) is refused, and so is
//! a process whose executable is anything else.

use std::path::{Path, PathBuf};

use super::check::check;
use crate::postkickd::control::client::ask_for;
use crate::postkickd::control::protocol::{ReloadAnswer, Request, StatusDocument};
use crate::postkickd::error::DaemonError;
use crate::postkickd::output::outln;

/// Which daemon to reload, and how to reach it.
#[derive(Debug, Clone)]
pub enum ReloadTarget {
    /// Signal this process (systemd's `$MAINPID`).
    Pid(i32),
    /// Ask the daemon that answers on this control socket.
    Control(PathBuf),
}

/// Checks the rules file, then makes the daemon reload it. `rules_path`
/// defaults to the daemon's own (asked over the socket) or, with a pid,
/// to the instance's (/etc/postkick/rules.yaml for the default one).
pub fn reload(
    rules_path: Option<&Path>,
    config_directory: Option<&Path>,
    target: &ReloadTarget,
) -> Result<(), DaemonError> {
    match target {
        ReloadTarget::Pid(pid) => {
            let pid = *pid;
            let rules = crate::postkickd::instance::rules_file(rules_path, config_directory)?;
            check(&rules, config_directory, 0)?;
            is_postkickd(pid).map_err(|why| DaemonError::NotTheDaemon { pid, why })?;
            crate::sys::send_hangup(pid).map_err(DaemonError::setup("the reload signal"))
        }
        ReloadTarget::Control(control) => {
            if let Some(given) = rules_path {
                let (status, _) =
                    ask_for::<StatusDocument>(control, &Request::Status { rule: None })?;
                let running = PathBuf::from(&status.rules_file);
                if given != running {
                    return Err(DaemonError::Answer(format!(
                        "the daemon at {} runs {}, not {}: it reloads its own file (omit --rules), or give --control the socket of the daemon that runs {}",
                        control.display(),
                        running.display(),
                        given.display(),
                        given.display()
                    )));
                }
            }
            // The daemon checks the file as check does and answers with
            // every error; a refused reload is then on record for status.
            let (answer, _) = ask_for::<ReloadAnswer>(control, &Request::Reload)?;
            outln!("reloaded: {}", answer.reloaded);
            Ok(())
        }
    }
}

/// Whether process `pid` runs a postkickd executable (an upgraded one
/// too: the kernel then names it `postkickd (deleted)`); why not if not.
/// A process whose executable cannot be seen (another user's, or hidden
/// by the unit's `ProtectProc=`, as `$MAINPID` is from `ExecReload=`) is
/// trusted if the kernel's name for its command is postkickd or cannot be
/// read either.
fn is_postkickd(pid: i32) -> Result<(), String> {
    if pid <= 0 {
        return Err("a process id is above 0; 0 and below name process groups".into());
    }
    if !crate::sys::process_exists(pid) {
        return Err("no such process".to_owned());
    }
    let Ok(exe) = std::fs::read_link(format!("/proc/{pid}/exe")) else {
        return match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
            Ok(comm) if comm.trim_end() != "postkickd" => {
                Err(format!("its command is {}", comm.trim_end()))
            }
            _ => Ok(()),
        };
    };
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name == "postkickd" || name.starts_with("postkickd ") {
        Ok(())
    } else {
        Err(format!("it runs {}", exe.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_postkickd_process_is_signalled() {
        assert!(is_postkickd(0).is_err());
        assert!(is_postkickd(-1).is_err());
        let own = i32::try_from(std::process::id()).expect("a pid");
        // The test binary itself is no postkickd.
        let why = is_postkickd(own).expect_err("not postkickd");
        assert!(why.starts_with("it runs "), "{why}");
        assert_eq!(is_postkickd(i32::MAX).expect_err("none"), "no such process");
    }
}
