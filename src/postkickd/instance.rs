//! Which Postfix instance a postkickd serves, and the files that follow
//! from it: the rules file, the control socket and the state file.
//!
//! A host may run several Postfix instances (postmulti, Debian's
//! `postfix@NAME`), each with its own configuration directory; each gets
//! its own postkickd, and every command finds the right one from the same
//! `-c` Postfix's own commands take (`postqueue -c /etc/postfix-out`). The
//! default instance (`/etc/postfix`) keeps the unit's paths; any other is
//! named by `multi_instance_name` in its `main.cf` (what postmulti sets and
//! `postmulti -i NAME` finds), else by its directory's last component, and
//! its files carry that name: `/etc/postkick/NAME.yaml`,
//! `/run/postkickd-NAME/control`, `/var/lib/postkick-NAME/state` (beside
//! the default's, never below them: stopping one daemon removes its own
//! runtime directory only). It reads the instance's `main.cf` and nothing
//! else; it makes no directory (`run` does, for the paths it uses).

use std::path::{Component, Path, PathBuf};

use super::error::DaemonError;
use crate::postfix::config::{self, LoadOptions, MainCf, DEFAULT_CONFIG_DIRECTORY};
use crate::rules::DEFAULT_RULES_PATH;

/// Where the default instance's daemon listens.
pub(crate) const DEFAULT_CONTROL_PATH: &str = "/run/postkickd/control";
/// Where the default instance's daemon remembers its timers.
const DEFAULT_STATE_PATH: &str = "/var/lib/postkick/state";

/// A Postfix instance, as postkickd names its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Instance {
    /// The one in `/etc/postfix`.
    Default,
    /// Any other, by name.
    Named(String),
}

impl Instance {
    /// The instance whose configuration directory is `-c` (else
    /// `$MAIL_CONFIG`, else `/etc/postfix`): its `main.cf` is read only
    /// when the directory is not the default one.
    pub(crate) fn of_directory(config_directory: Option<&Path>) -> Result<Instance, DaemonError> {
        let directory = PathBuf::from(config::config_directory(
            config_directory.map(Path::as_os_str),
        ));
        if is_default_directory(&directory) {
            return Ok(Instance::Default);
        }
        let options = LoadOptions {
            config_directory: directory.clone().into_os_string(),
            process_name: b"postkickd".to_vec(),
            untrusted: false,
        };
        let main_cf = config::load(&options, &mut |_| {}).map_err(|error| DaemonError::Config {
            named_at: None,
            directory: directory.display().to_string(),
            error,
        })?;
        Ok(Instance::of_main_cf(&main_cf)?)
    }

    /// The instance whose `main.cf` this is.
    pub(crate) fn of_main_cf(main_cf: &MainCf) -> Result<Instance, InstanceNameError> {
        let directory = &main_cf.config_directory;
        if is_default_directory(directory) {
            return Ok(Instance::Default);
        }
        let multi_instance_name = main_cf
            .parameters
            .iter()
            .find(|(name, _)| name == "multi_instance_name")
            .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
            .unwrap_or_default();
        named(directory, &multi_instance_name)
    }

    /// The rules file its daemon runs unless told another.
    pub(crate) fn rules_path(&self) -> PathBuf {
        match self {
            Instance::Default => PathBuf::from(DEFAULT_RULES_PATH),
            Instance::Named(name) => PathBuf::from(format!("/etc/postkick/{name}.yaml")),
        }
    }

    /// Where its daemon listens.
    pub(crate) fn control_path(&self) -> PathBuf {
        match self {
            Instance::Default => PathBuf::from(DEFAULT_CONTROL_PATH),
            Instance::Named(name) => PathBuf::from(format!("/run/postkickd-{name}/control")),
        }
    }

    /// Where its daemon remembers its timers.
    pub(crate) fn state_path(&self) -> PathBuf {
        match self {
            Instance::Default => PathBuf::from(DEFAULT_STATE_PATH),
            Instance::Named(name) => PathBuf::from(format!("/var/lib/postkick-{name}/state")),
        }
    }
}

impl std::fmt::Display for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Instance::Default => write!(f, "the default instance ({DEFAULT_CONFIG_DIRECTORY})"),
            Instance::Named(name) => write!(f, "instance {name}"),
        }
    }
}

/// The unit that runs the daemon listening at `control`, as the
/// instance paths name it: `postkickd` or `postkickd@NAME`.
pub(crate) fn unit_of(control: &Path) -> String {
    let directory = control
        .parent()
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    match directory.strip_prefix("postkickd-") {
        Some(name) if is_file_name(name) => format!("postkickd@{name}"),
        _ => "postkickd".to_owned(),
    }
}

/// Whether `directory` is Postfix's default configuration directory,
/// as written or through a link.
fn is_default_directory(directory: &Path) -> bool {
    if directory == Path::new(DEFAULT_CONFIG_DIRECTORY) {
        return true;
    }
    match (
        std::fs::canonicalize(directory),
        std::fs::canonicalize(DEFAULT_CONFIG_DIRECTORY),
    ) {
        (Ok(given), Ok(default)) => given == default,
        _ => false,
    }
}

/// A non-default instance: `multi_instance_name`, else the directory's
/// last component; either must be a plain file name, since it becomes
/// part of three paths.
fn named(directory: &Path, multi_instance_name: &str) -> Result<Instance, InstanceNameError> {
    let (name, from) = if multi_instance_name.is_empty() {
        let last = match directory.components().next_back() {
            Some(Component::Normal(last)) => last.to_string_lossy().into_owned(),
            _ => String::new(),
        };
        (last, "the directory's last component")
    } else {
        (multi_instance_name.to_owned(), "multi_instance_name")
    };
    if is_file_name(&name) {
        Ok(Instance::Named(name))
    } else {
        Err(InstanceNameError {
            directory: directory.display().to_string(),
            name,
            from,
        })
    }
}

/// An instance whose name cannot be part of a path.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{directory}: the instance's name {name:?} (from {from}) cannot name postkickd's files: set multi_instance_name in its main.cf to letters, digits, '.', '_', '+' or '-', or give --control PATH (and, for run, --state PATH and --rules PATH)")]
pub struct InstanceNameError {
    /// The configuration directory.
    directory: String,
    /// The name found.
    name: String,
    /// Where it was found.
    from: &'static str,
}

/// `given` (`--rules`), else the rules file of `-c`'s instance (else
/// `$MAIL_CONFIG`'s, else the default's).
pub fn rules_file(
    given: Option<&Path>,
    config_directory: Option<&Path>,
) -> Result<PathBuf, DaemonError> {
    match given {
        Some(path) => Ok(path.to_owned()),
        None => Ok(Instance::of_directory(config_directory)?.rules_path()),
    }
}

/// `given` (`--control`), else the control socket of the daemon serving
/// `-c`'s instance.
pub fn control_socket(
    given: Option<&Path>,
    config_directory: Option<&Path>,
) -> Result<PathBuf, DaemonError> {
    match given {
        Some(path) => Ok(path.to_owned()),
        None => Ok(Instance::of_directory(config_directory)?.control_path()),
    }
}

/// Letters, digits, `.`, `_`, `+` and `-`, not starting with `.` or `-`,
/// at most 64 bytes: a name that is safe in a path and a unit name.
fn is_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_is_named_by_multi_instance_name_else_its_directory() {
        let out = named(Path::new("/etc/postfix-out"), "postfix-out").expect("named");
        assert_eq!(out, Instance::Named("postfix-out".into()));
        assert_eq!(
            out.rules_path(),
            Path::new("/etc/postkick/postfix-out.yaml")
        );
        assert_eq!(
            out.control_path(),
            Path::new("/run/postkickd-postfix-out/control")
        );
        assert_eq!(
            out.state_path(),
            Path::new("/var/lib/postkick-postfix-out/state")
        );
        // postmulti's name wins over the directory's.
        assert_eq!(
            named(Path::new("/srv/mail/conf"), "postfix-in").expect("named"),
            Instance::Named("postfix-in".into())
        );
        assert_eq!(
            named(Path::new("/srv/mail/conf/"), "").expect("named"),
            Instance::Named("conf".into())
        );
    }

    #[test]
    fn a_name_unsafe_in_a_path_is_refused() {
        for (directory, name) in [
            ("/etc/postfix-out", "../etc"),
            ("/etc/postfix-out", "a b"),
            ("/etc/postfix-out", "-"),
            ("/", ""),
            ("/etc/.hidden", ""),
        ] {
            let err = named(Path::new(directory), name).expect_err(directory);
            assert!(
                err.to_string().contains("--control PATH"),
                "{directory} {name}: {err}"
            );
        }
    }

    #[test]
    fn the_default_instance_keeps_the_units_paths() {
        assert!(is_default_directory(Path::new("/etc/postfix/")));
        assert!(is_default_directory(Path::new("/etc//postfix")));
        assert_eq!(
            Instance::of_directory(Some(Path::new("/etc/postfix"))).expect("default"),
            Instance::Default
        );
        assert_eq!(
            Instance::Default.control_path(),
            Path::new(DEFAULT_CONTROL_PATH)
        );
        assert_eq!(
            Instance::Default.state_path(),
            Path::new("/var/lib/postkick/state")
        );
    }

    #[test]
    fn the_unit_is_named_from_the_control_path() {
        assert_eq!(unit_of(Path::new(DEFAULT_CONTROL_PATH)), "postkickd");
        assert_eq!(
            unit_of(Path::new("/run/postkickd-postfix-out/control")),
            "postkickd@postfix-out"
        );
        assert_eq!(unit_of(Path::new("/tmp/x/control")), "postkickd");
    }
}
