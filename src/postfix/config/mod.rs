//! Postfix's `main.cf`, read the way Postfix's own programs read it.
//!
//! This module owns the configuration directory choice, the preloaded
//! parameters (`process_name`, `config_directory`), Postfix's built-in
//! defaults in Postfix's processing order (a default becomes visible to
//! `$name` only once its parameter has been processed), and the validation
//! of the parameters the kick tools use: `queue_directory`,
//! `trigger_timeout`, `application_event_drain_time`, `import_environment`,
//! `smtputf8_enable` and `compatibility_level`; it also expands what the
//! daemon's flush and showq requests read (`fast_flush_domains` and the
//! `*_service_name`s). The file is trusted as much as Postfix trusts it:
//! when this process runs set-id, a configuration directory other than
//! `/etc/postfix` must be listed in `/etc/postfix/main.cf`. It validates no
//! parameter that no kick tool uses (`mail_owner`, `syslog_facility`, ...),
//! and it reports, never prints: warnings go to the caller's sink, errors are
//! returned, both worded as Postfix words them.

mod compat;
mod error;
mod expand;
mod maincf;
mod parameters;
mod time;

pub use error::{ConfigError, ConfigWarning};
pub(crate) use maincf::{logical_lines, Dictionary};

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use parameters::{Kind, Parameter, PARAMETERS};

/// Receives what loading `main.cf` reports before it succeeds or fails.
pub trait Reporter {
    /// A problem Postfix reports and carries on from.
    fn warning(&mut self, warning: ConfigWarning);
    /// `smtputf8_enable` is now known: from here on Postfix keeps UTF-8 in
    /// its diagnostics when it is on.
    fn smtputf8_decided(&mut self, _enabled: bool) {}
}

impl<F: FnMut(ConfigWarning)> Reporter for F {
    fn warning(&mut self, warning: ConfigWarning) {
        self(warning);
    }
}

/// The configuration directory Postfix uses when nothing else is said.
pub(crate) const DEFAULT_CONFIG_DIRECTORY: &str = "/etc/postfix";
/// The environment variable that names another configuration directory.
pub(crate) const CONFIG_ENV: &str = "MAIL_CONFIG";
/// The Postfix release whose defaults and behaviour this crate follows.
pub(crate) const MAIL_VERSION: &str = "3.7.11";

/// What a kick tool needs from `main.cf`, validated.
#[derive(Debug, Clone)]
pub struct MainCf {
    /// The directory `main.cf` was read from.
    pub config_directory: PathBuf,
    /// Where the `public/` and `private/` trigger endpoints live.
    pub queue_directory: PathBuf,
    /// The time allowed to connect to and write to an endpoint.
    pub trigger_timeout: Duration,
    /// The longest wait for a server to close its end after a kick.
    pub application_event_drain_time: Duration,
    /// Whether diagnostics may keep UTF-8 text (`smtputf8_enable`).
    pub smtputf8_enable: bool,
    /// Every processed parameter with its expanded value, in the order
    /// Postfix processes them: what `-vv` shows.
    pub parameters: Vec<(String, Vec<u8>)>,
    /// The services the daemon's flush actions and queue reads talk to.
    pub services: ServiceNames,
    /// What decides which sites the flush service keeps logs for.
    pub fast_flush: FastFlush,
    /// `sendmail_path`: how the daemon mails its notices.
    pub sendmail_path: PathBuf,
}

/// Postfix's default `sendmail_path`.
const DEFAULT_SENDMAIL_PATH: &str = "/usr/sbin/sendmail";

/// `*_service_name`: the endpoint names of Postfix's services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNames {
    /// `pickup_service_name`.
    pub pickup: String,
    /// `queue_service_name` (qmgr).
    pub queue: String,
    /// `showq_service_name`.
    pub showq: String,
    /// `flush_service_name`.
    pub flush: String,
}

/// `fast_flush_domains`, and how Postfix matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastFlush {
    /// The list, expanded.
    pub domains: String,
    /// `parent_domain_matches_subdomains`, expanded.
    pub parent_domain_matches_subdomains: String,
    /// Where `main.cf` sets `fast_flush_domains`, and the value as written
    /// there; `None` when it is left at its default.
    pub written: Option<(usize, String)>,
}

/// How to find and trust `main.cf`.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The configuration directory (`-c`, else `$MAIL_CONFIG`, else
    /// `/etc/postfix`).
    pub config_directory: OsString,
    /// The program's name, preloaded as `$process_name`.
    pub process_name: Vec<u8>,
    /// True when the directory must be authorised by `/etc/postfix/main.cf`
    /// because this process runs set-id.
    pub untrusted: bool,
}

/// The configuration directory a Postfix program uses: the last `-c` value,
/// else `$MAIL_CONFIG`, else `/etc/postfix`.
pub(crate) fn config_directory(command_line: Option<&OsStr>) -> OsString {
    command_line
        .map(OsStr::to_os_string)
        .or_else(|| std::env::var_os(CONFIG_ENV))
        .unwrap_or_else(|| OsString::from(DEFAULT_CONFIG_DIRECTORY))
}

/// The main.cf path for a directory, as Postfix forms it (no normalising).
fn main_cf_path(directory: &OsStr) -> OsString {
    let mut path = directory.as_bytes().to_vec();
    path.extend_from_slice(b"/main.cf");
    OsString::from_vec(path)
}

/// The largest `main.cf` read: Debian's, fully commented, is 2 KiB, and
/// the daemon must stay within a few tens of MB whatever it is given.
const MAX_MAIN_CF_BYTES: u64 = 4 << 20;

/// `main.cf`'s bytes, opened without blocking: a FIFO or device at the
/// path is refused (it would hang Postfix's own programs) and a file past
/// the bound is not read.
fn read_main_cf(path: &OsStr) -> Result<Vec<u8>, ConfigError> {
    use crate::files::{read_bounded, Links, ReadError};
    let display = path.to_string_lossy().into_owned();
    read_bounded(Path::new(path), MAX_MAIN_CF_BYTES, Links::Follow).map_err(|error| match error {
        ReadError::Io(source) => ConfigError::Open {
            path: display,
            source,
        },
        ReadError::Directory => ConfigError::Read {
            path: display,
            source: std::io::Error::from_raw_os_error(libc::EISDIR),
        },
        other => ConfigError::Read {
            path: display,
            source: std::io::Error::other(other.to_string()),
        },
    })
}

/// A set-id process may only use a configuration directory that the
/// administrator listed in `/etc/postfix/main.cf`.
fn check_authorised(directory: &OsStr) -> Result<(), ConfigError> {
    if directory == DEFAULT_CONFIG_DIRECTORY {
        return Ok(());
    }
    let path = main_cf_path(OsStr::new(DEFAULT_CONFIG_DIRECTORY));
    let bytes = read_main_cf(&path)?;
    let mut dict = Dictionary::default();
    maincf::load_into(&mut dict, &path.to_string_lossy(), &bytes, &mut |_| {})?;
    let listed = ["alternate_config_directories", "multi_instance_directories"]
        .iter()
        .filter_map(|name| dict.get(name.as_bytes()))
        .flat_map(|value| value.split(|&b| b", \t\r\n".contains(&b)))
        .any(|word| word == directory.as_bytes());
    if listed {
        Ok(())
    } else {
        Err(ConfigError::UnauthorisedDirectory {
            directory: directory.to_string_lossy().into_owned(),
        })
    }
}

/// Reads `main.cf` and evaluates every parameter a kick tool needs.
pub fn load(options: &LoadOptions, reporter: &mut dyn Reporter) -> Result<MainCf, ConfigError> {
    let directory = options.config_directory.as_os_str();
    if options.untrusted {
        check_authorised(directory)?;
    }
    let bytes = read_main_cf(&main_cf_path(directory))?;
    evaluate(options, &bytes, reporter)
}

/// Evaluates the text of the `main.cf` in `options.config_directory`
/// (already read) exactly as [`load`] does.
pub fn evaluate(
    options: &LoadOptions,
    main_cf: &[u8],
    reporter: &mut dyn Reporter,
) -> Result<MainCf, ConfigError> {
    let directory = options.config_directory.as_os_str();
    let mut dict = Dictionary::default();
    dict.set(b"process_name", &options.process_name);
    dict.set(b"config_directory", directory.as_bytes());
    let path = main_cf_path(directory);
    maincf::load_into(&mut dict, &path.to_string_lossy(), main_cf, &mut |w| {
        reporter.warning(w)
    })?;
    Evaluator {
        dict,
        directory: directory.to_os_string(),
    }
    .run(reporter)
}

struct Evaluator {
    dict: Dictionary,
    directory: OsString,
}

impl Evaluator {
    fn expand(
        &self,
        value: &[u8],
        warn: &mut dyn FnMut(ConfigWarning),
    ) -> Result<Vec<u8>, ConfigError> {
        let lookup = |name: &[u8]| self.dict.get(name).map(<[u8]>::to_vec);
        expand::expand(value, &lookup, warn).map_err(|failure| match failure {
            expand::ExpandFailure::Macro => ConfigError::MacroProcessing,
            expand::ExpandFailure::BadConversion(text) => ConfigError::BadConversion(text),
        })
    }

    /// Postfix's `get_mail_conf_*`: the file's value expanded, else the
    /// default expanded and entered into the dictionary.
    fn value(
        &mut self,
        parameter: &Parameter,
        warn: &mut dyn FnMut(ConfigWarning),
    ) -> Result<Vec<u8>, ConfigError> {
        let name = parameter.name.as_bytes();
        if let Some(raw) = self.dict.get(name).map(<[u8]>::to_vec) {
            return self.expand(&raw, warn);
        }
        let default = match parameter.kind {
            Kind::HostName => {
                let host = crate::sys::hostname();
                if host.contains('.') {
                    host.into_bytes()
                } else {
                    let domain = match self.dict.get(b"mydomain").map(<[u8]>::to_vec) {
                        Some(raw) => self.expand(&raw, warn)?,
                        None => b"localdomain".to_vec(),
                    };
                    [host.as_bytes(), b".", &domain].concat()
                }
            }
            Kind::DomainName => {
                let host = self.dict.get(b"myhostname").unwrap_or_default();
                match host.iter().position(|&b| b == b'.') {
                    Some(dot) if host[dot + 1..].contains(&b'.') => host[dot + 1..].to_vec(),
                    _ => parameter.default.as_bytes().to_vec(),
                }
            }
            _ => self.expand(parameter.default.as_bytes(), warn)?,
        };
        self.dict.set(name, &default);
        Ok(default)
    }

    fn run(mut self, reporter: &mut dyn Reporter) -> Result<MainCf, ConfigError> {
        let mut parameters = Vec::with_capacity(PARAMETERS.len());
        let mut queue_directory = Vec::new();
        let mut trigger_timeout = 0;
        let mut drain_time = 0;
        let mut smtputf8_enable = false;
        for parameter in PARAMETERS {
            let value = self.value(parameter, &mut |w| reporter.warning(w))?;
            let name = parameter.name;
            match parameter.kind {
                Kind::Text { min_len } if value.len() < min_len => {
                    return Err(ConfigError::StringLength {
                        name,
                        value,
                        min: min_len,
                    });
                }
                Kind::CompatLevel if compat::parse(&value).is_none() => {
                    return Err(ConfigError::CompatLevel(value));
                }
                Kind::Bool => {
                    smtputf8_enable = parse_bool(name, &value)?;
                    reporter.smtputf8_decided(smtputf8_enable);
                }
                Kind::Time { min } => {
                    let default_unit = time::default_unit(parameter.default);
                    let seconds =
                        time::parse(&value, default_unit).ok_or_else(|| ConfigError::BadTime {
                            name,
                            value: value.clone(),
                        })?;
                    if seconds < min {
                        return Err(ConfigError::TimeTooSmall { name, seconds, min });
                    }
                    if name == "trigger_timeout" {
                        trigger_timeout = seconds;
                    } else {
                        drain_time = seconds;
                    }
                }
                Kind::Environment => check_environment(&value)?,
                _ => {}
            }
            if name == "queue_directory" {
                queue_directory.clone_from(&value);
            }
            parameters.push((name.to_owned(), value));
        }
        let seconds = |s: i64| Duration::from_secs(u64::try_from(s).unwrap_or(0));
        let text = |name: &str| {
            parameters
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
                .unwrap_or_default()
        };
        let services = ServiceNames {
            pickup: text("pickup_service_name"),
            queue: text("queue_service_name"),
            showq: text("showq_service_name"),
            flush: text("flush_service_name"),
        };
        let name = b"fast_flush_domains";
        let fast_flush = FastFlush {
            domains: text("fast_flush_domains"),
            parent_domain_matches_subdomains: text("parent_domain_matches_subdomains"),
            written: self.dict.line(name).map(|line| {
                let raw = self.dict.get(name).unwrap_or_default();
                (line, String::from_utf8_lossy(raw).into_owned())
            }),
        };
        // Not among the parameters a kick tool processes (so that -vv
        // stays Postfix's own list): read as written, unless it names
        // other parameters.
        let sendmail_path = self
            .dict
            .get(b"sendmail_path")
            .filter(|raw| !raw.contains(&b'$') && raw.starts_with(b"/"))
            .map_or_else(
                || PathBuf::from(DEFAULT_SENDMAIL_PATH),
                |raw| PathBuf::from(OsString::from_vec(raw.trim_ascii().to_vec())),
            );
        Ok(MainCf {
            config_directory: PathBuf::from(self.directory),
            sendmail_path,
            queue_directory: PathBuf::from(OsString::from_vec(queue_directory)),
            trigger_timeout: seconds(trigger_timeout),
            application_event_drain_time: seconds(drain_time),
            smtputf8_enable,
            parameters,
            services,
            fast_flush,
        })
    }
}

fn parse_bool(name: &'static str, value: &[u8]) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case(b"yes") {
        Ok(true)
    } else if value.eq_ignore_ascii_case(b"no") {
        Ok(false)
    } else {
        Err(ConfigError::BadBool {
            name,
            value: value.to_vec(),
        })
    }
}

/// Checks `import_environment` the way Postfix splits and applies it. The
/// settings themselves change nothing a kick does, so none is applied.
fn check_environment(value: &[u8]) -> Result<(), ConfigError> {
    for word in split_braced(value) {
        let entry = if word.first() == Some(&b'{') {
            strip_braces(word)?
        } else {
            word.to_vec()
        };
        if entry.contains(&b'=') {
            if let Err(what) = maincf::split_name_value(&entry) {
                return Err(ConfigError::UpdateEnv { what, entry });
            }
        }
    }
    Ok(())
}

/// Splits on commas and white space, keeping `{...}` groups whole, as
/// Postfix splits its lists.
pub(crate) fn split_braced(value: &[u8]) -> Vec<&[u8]> {
    let separator = |b: u8| b", \t\r\n".contains(&b);
    let mut words = Vec::new();
    let mut at = 0;
    while at < value.len() {
        while at < value.len() && separator(value[at]) {
            at += 1;
        }
        if at == value.len() {
            break;
        }
        let start = at;
        let mut level = 0usize;
        while at < value.len() {
            match value[at] {
                b'{' => level += 1,
                b'}' if level > 0 => level -= 1,
                b if level == 0 && separator(b) => break,
                _ => {}
            }
            at += 1;
        }
        words.push(&value[start..at]);
        at += 1;
    }
    words
}

/// `{ text }` to `text`, with Postfix's errors for unbalanced braces.
fn strip_braces(word: &[u8]) -> Result<Vec<u8>, ConfigError> {
    let mut level = 0usize;
    let mut close = None;
    for (i, &b) in word.iter().enumerate() {
        match b {
            b'{' => level += 1,
            b'}' => {
                level -= 1;
                if level == 0 {
                    close = Some(i);
                    break;
                }
            }
            _ => {}
        }
    }
    let quoted = |prefix: &str| [prefix.as_bytes(), b" in \"", word, b"\""].concat();
    match close {
        None => Err(ConfigError::ImportEnvironment(quoted("missing '}'"))),
        Some(i) if i + 1 != word.len() => Err(ConfigError::ImportEnvironment(quoted(
            "syntax error after '}'",
        ))),
        Some(i) => Ok(maincf::trim(&word[1..i]).to_vec()),
    }
}

#[cfg(test)]
mod tests;
