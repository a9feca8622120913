//! The warnings and errors of reading `main.cf`, worded as Postfix words them.
//!
//! Each carries the raw bytes Postfix would print (a file may hold any
//! bytes), so that the caller can sanitise them the way Postfix does;
//! `Display` gives a lossy rendering for logs. Nothing here prints.

use std::fmt;

use crate::sys::io_error_text;

/// A problem that Postfix reports and then carries on from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigWarning {
    /// Text before any `name = value` line starts with white space.
    LeadingWhitespace {
        /// `<dir>/main.cf`.
        path: String,
        /// The logical line.
        text: Vec<u8>,
    },
    /// A parameter set twice with different values; the later one wins.
    Override {
        /// `<dir>/main.cf`.
        path: String,
        /// The first physical line of the later entry.
        line: usize,
        /// The parameter.
        name: Vec<u8>,
        /// The value it had before.
        old: Vec<u8>,
    },
    /// A `$name` syntax problem; the expansion then fails as a whole.
    Macro(Vec<u8>),
}

impl ConfigWarning {
    /// The text Postfix prints after `warning: `.
    pub fn message(&self) -> Vec<u8> {
        match self {
            Self::LeadingWhitespace { path, text } => {
                let shown = &text[..text.len().min(30)];
                let more: &[u8] = if text.len() > 30 { b"..." } else { b"" };
                [
                    path.as_bytes(),
                    b": logical line must not start with whitespace: \"",
                    shown,
                    more,
                    b"\"",
                ]
                .concat()
            }
            Self::Override {
                path,
                line,
                name,
                old,
            } => [
                format!("{path}, line {line}: overriding earlier entry: ").as_bytes(),
                name,
                b"=",
                old,
            ]
            .concat(),
            Self::Macro(text) => text.clone(),
        }
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.message()))
    }
}

/// A problem that stops Postfix (a `fatal:` line).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `main.cf` cannot be opened.
    #[error("open {path}: {}", io_error_text(source))]
    Open {
        /// `<dir>/main.cf`.
        path: String,
        /// The system's error (`ENOENT`, `EACCES`, `EISDIR`, ...).
        source: std::io::Error,
    },
    /// `main.cf` cannot be read (a directory, an I/O error).
    #[error("read {path}: {}", io_error_text(source))]
    Read {
        /// `<dir>/main.cf`.
        path: String,
        /// The system's error (`ENOENT`, `EACCES`, `EISDIR`, ...).
        source: std::io::Error,
    },
    /// A logical line that is not `name = value`.
    #[error("{}", String::from_utf8_lossy(&self.message()))]
    Syntax {
        /// `<dir>/main.cf`.
        path: String,
        /// Its first physical line.
        line: usize,
        /// Postfix's words for the problem.
        what: &'static str,
        /// The logical line.
        text: Vec<u8>,
    },
    /// A set-id process was pointed at a directory `/etc/postfix/main.cf`
    /// does not list.
    #[error("specify \"alternate_config_directories = {directory}\" or \"multi_instance_directories = {directory}\" in /etc/postfix/main.cf")]
    UnauthorisedDirectory {
        /// The directory that was asked for.
        directory: String,
    },
    /// `$name` syntax errors, reported as warnings just before.
    #[error("dictionary mail_dict: macro processing error")]
    MacroProcessing,
    /// A numeric comparison with an operand out of range.
    #[error("mac_exp_eval: bad conversion: {}", String::from_utf8_lossy(.0))]
    BadConversion(Vec<u8>),
    /// `compatibility_level` is not `major[.minor[.patch]]`.
    #[error("malformed compatibility level syntax: \"{}\"", String::from_utf8_lossy(.0))]
    CompatLevel(Vec<u8>),
    /// A string parameter shorter than its minimum.
    #[error("bad string length {} < {min}: {name} = {}", value.len(), String::from_utf8_lossy(value))]
    StringLength {
        /// The parameter.
        name: &'static str,
        /// Its expanded value.
        value: Vec<u8>,
        /// The minimum length.
        min: usize,
    },
    /// A time value Postfix cannot read.
    #[error(
        "parameter {name}: bad time value or unit: {}",
        String::from_utf8_lossy(value)
    )]
    BadTime {
        /// The parameter.
        name: &'static str,
        /// Its expanded value.
        value: Vec<u8>,
    },
    /// A time value below its minimum.
    #[error("invalid {name}: {seconds} (min {min})")]
    TimeTooSmall {
        /// The parameter.
        name: &'static str,
        /// The value in seconds.
        seconds: i64,
        /// The minimum in seconds.
        min: i64,
    },
    /// A boolean that is neither yes nor no.
    #[error(
        "bad boolean configuration: {name} = {}",
        String::from_utf8_lossy(value)
    )]
    BadBool {
        /// The parameter.
        name: &'static str,
        /// Its expanded value.
        value: Vec<u8>,
    },
    /// `import_environment` with unbalanced braces.
    #[error("import_environment: {}", String::from_utf8_lossy(.0))]
    ImportEnvironment(Vec<u8>),
    /// An `import_environment` setting without a name.
    #[error("update_env: {what} in: {}", String::from_utf8_lossy(entry))]
    UpdateEnv {
        /// Postfix's words for the problem.
        what: &'static str,
        /// The entry.
        entry: Vec<u8>,
    },
}

impl ConfigError {
    /// The text Postfix prints after `fatal: `, with the file's own bytes.
    pub fn message(&self) -> Vec<u8> {
        let quoted =
            |prefix: String, text: &[u8], suffix: &[u8]| [prefix.as_bytes(), text, suffix].concat();
        match self {
            Self::Syntax {
                path,
                line,
                what,
                text,
            } => quoted(format!("{path}, line {line}: {what}: \""), text, b"\""),
            Self::BadConversion(text) => quoted("mac_exp_eval: bad conversion: ".into(), text, b""),
            Self::CompatLevel(text) => quoted(
                "malformed compatibility level syntax: \"".into(),
                text,
                b"\"",
            ),
            Self::StringLength { name, value, min } => quoted(
                format!("bad string length {} < {min}: {name} = ", value.len()),
                value,
                b"",
            ),
            Self::BadTime { name, value } => quoted(
                format!("parameter {name}: bad time value or unit: "),
                value,
                b"",
            ),
            Self::BadBool { name, value } => {
                quoted(format!("bad boolean configuration: {name} = "), value, b"")
            }
            Self::ImportEnvironment(text) => quoted("import_environment: ".into(), text, b""),
            Self::UpdateEnv { what, entry } => {
                quoted(format!("update_env: {what} in: "), entry, b"")
            }
            other => other.to_string().into_bytes(),
        }
    }

    /// The `error:` line Postfix prints before the fatal one, if any.
    pub fn preceding_error(&self) -> Option<String> {
        match self {
            Self::UnauthorisedDirectory { directory } => Some(format!(
                "unauthorized configuration directory name: {directory}"
            )),
            _ => None,
        }
    }
}
