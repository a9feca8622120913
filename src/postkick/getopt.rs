//! `postkick`'s command line, parsed as glibc's `getopt(argc, argv, "+c:v")`.
//!
//! Options come first and parsing stops at the first operand (the `+`);
//! `-c` takes a value, attached (`-cDIR`) or in the next argument even if
//! that starts with `-`; `-v` may repeat and cluster (`-vvc DIR`); `--`
//! ends the options; a lone `-` is an operand. Arguments are raw bytes:
//! nothing here assumes UTF-8 or validates an operand.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The parsed command line.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// The last `-c` value.
    pub config_directory: Option<OsString>,
    /// How many times `-v` was given.
    pub verbose: usize,
    /// Everything after the options.
    pub operands: Vec<OsString>,
}

/// A getopt error, with glibc's wording (after `<program>: `).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GetoptError {
    /// An option letter that is not `c` or `v`.
    #[error("invalid option -- '{}'", char::from(*.0))]
    InvalidOption(u8),
    /// `-c` as the last argument.
    #[error("option requires an argument -- '{}'", char::from(*.0))]
    MissingArgument(u8),
}

impl GetoptError {
    /// glibc's message as raw bytes: the option byte is printed as is.
    pub fn message(&self) -> Vec<u8> {
        let (text, byte) = match *self {
            Self::InvalidOption(b) => ("invalid option -- '", b),
            Self::MissingArgument(b) => ("option requires an argument -- '", b),
        };
        [text.as_bytes(), &[byte], b"'"].concat()
    }
}

/// Parses the arguments that follow the program name.
pub fn parse(args: &[OsString]) -> Result<Options, GetoptError> {
    let mut options = Options::default();
    let mut index = 0;
    while index < args.len() {
        let arg = args[index].as_bytes();
        if arg == b"--" {
            index += 1;
            break;
        }
        if arg.len() < 2 || arg[0] != b'-' {
            break;
        }
        index += 1;
        for (at, &letter) in arg[1..].iter().enumerate() {
            match letter {
                b'v' => options.verbose += 1,
                b'c' => {
                    let attached = &arg[at + 2..];
                    let value = if !attached.is_empty() {
                        attached.to_vec()
                    } else if let Some(next) = args.get(index) {
                        index += 1;
                        next.as_bytes().to_vec()
                    } else {
                        return Err(GetoptError::MissingArgument(b'c'));
                    };
                    options.config_directory = Some(OsString::from_vec(value));
                    break;
                }
                other => return Err(GetoptError::InvalidOption(other)),
            }
        }
    }
    options.operands = args[index..].to_vec();
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn ok(list: &[&str]) -> Options {
        parse(&args(list)).expect("parses")
    }

    #[test]
    fn plain_operands() {
        let o = ok(&["public", "pickup", "W"]);
        assert_eq!(o.operands, args(&["public", "pickup", "W"]));
        assert_eq!((o.verbose, o.config_directory), (0, None));
    }

    #[test]
    fn attached_separate_and_clustered_config_values() {
        assert_eq!(ok(&["-c/x", "a"]).config_directory, Some("/x".into()));
        assert_eq!(ok(&["-c", "/x", "a"]).config_directory, Some("/x".into()));
        let o = ok(&["-vc", "/x", "-vv", "a"]);
        assert_eq!((o.verbose, o.config_directory), (3, Some("/x".into())));
        assert_eq!(ok(&["-c", "-v", "a"]).config_directory, Some("-v".into()));
        assert_eq!(ok(&["-c/a", "-c/b"]).config_directory, Some("/b".into()));
    }

    #[test]
    fn parsing_stops_at_the_first_operand() {
        let o = ok(&["public", "-v", "pickup", "W"]);
        assert_eq!(o.verbose, 0);
        assert_eq!(o.operands.len(), 4);
    }

    #[test]
    fn double_dash_ends_options_and_lone_dash_is_an_operand() {
        assert_eq!(ok(&["--", "-v"]).operands, args(&["-v"]));
        assert_eq!(ok(&["-", "x"]).operands, args(&["-", "x"]));
    }

    #[test]
    fn errors_use_glibc_wording() {
        let err = parse(&args(&["-x"])).expect_err("invalid");
        assert_eq!(err.to_string(), "invalid option -- 'x'");
        let err = parse(&args(&["--c"])).expect_err("invalid");
        assert_eq!(err.to_string(), "invalid option -- '-'");
        let err = parse(&args(&["-v", "-c"])).expect_err("missing");
        assert_eq!(err.to_string(), "option requires an argument -- 'c'");
    }
}
