//! `postkickd reload`: what the unit's `ExecReload=` runs. It checks the
//! rules file as `check` does, so that an invalid file fails the reload
//! (and the old rules keep running) instead of being refused quietly, then
//! sends `SIGHUP` to the daemon. The process it signals must be a
//! postkickd: a pid of 0 or below (a process group) is refused, and so is
//! a process whose executable is anything else.

use std::path::Path;

use super::check::check;
use crate::postkickd::error::DaemonError;

/// Checks the rules file, then asks the daemon `pid` to reload it.
pub fn reload(
    rules_path: &Path,
    config_directory: Option<&Path>,
    pid: i32,
) -> Result<(), DaemonError> {
    check(rules_path, config_directory, 0)?;
    is_postkickd(pid).map_err(|why| DaemonError::NotTheDaemon { pid, why })?;
    crate::sys::send_hangup(pid).map_err(DaemonError::setup("the reload signal"))
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
