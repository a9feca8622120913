//! The `main.cf` file format: logical lines and `name = value` pairs.
//!
//! It turns the bytes of one file into an ordered dictionary exactly as
//! Postfix's line reader does: comments and blank lines vanish (even inside a
//! continuation, without ending it), a line that starts with white space
//! continues the previous one, the value is trimmed, and a later entry
//! overrides an earlier one. The file is trusted no more than its bytes: no
//! value is interpreted here, and nothing is expanded.

use super::{ConfigError, ConfigWarning};

/// Postfix's `ISSPACE`: the C locale's white space.
pub(crate) fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// The parameter dictionary: names in insertion order with their raw values
/// and, for those the file sets, the line that set them last.
#[derive(Debug, Default, Clone)]
pub(crate) struct Dictionary {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    name: Vec<u8>,
    value: Vec<u8>,
    line: Option<usize>,
}

impl Dictionary {
    fn entry(&self, name: &[u8]) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The raw (unexpanded) value of `name`, if it is set.
    pub(crate) fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.entry(name).map(|e| e.value.as_slice())
    }

    /// The `main.cf` line that set `name`, if the file set it.
    pub(crate) fn line(&self, name: &[u8]) -> Option<usize> {
        self.entry(name).and_then(|e| e.line)
    }

    /// Sets `name` (not from the file), replacing any earlier value;
    /// returns the earlier value.
    pub(crate) fn set(&mut self, name: &[u8], value: &[u8]) -> Option<Vec<u8>> {
        self.set_at(name, value, None)
    }

    fn set_at(&mut self, name: &[u8], value: &[u8], line: Option<usize>) -> Option<Vec<u8>> {
        match self.entries.iter_mut().find(|e| e.name == name) {
            Some(entry) => {
                entry.line = line;
                Some(std::mem::replace(&mut entry.value, value.to_vec()))
            }
            None => {
                self.entries.push(Entry {
                    name: name.to_vec(),
                    value: value.to_vec(),
                    line,
                });
                None
            }
        }
    }
}

/// One logical line, with the number of its first physical line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LogicalLine {
    pub(crate) first_line: usize,
    pub(crate) text: Vec<u8>,
}

/// Splits `bytes` into logical lines (Postfix's `readlline`, which reads
/// every file of its format: `main.cf`, and the files lists name),
/// reporting lines that begin with white space where no logical line is
/// open.
pub(crate) fn logical_lines(
    path: &str,
    bytes: &[u8],
    warn: &mut dyn FnMut(ConfigWarning),
) -> Vec<LogicalLine> {
    let mut physical = bytes.split(|&b| b == b'\n').peekable();
    // A final newline leaves an empty tail that is not a line of its own.
    let trailing_newline = bytes.last() == Some(&b'\n');
    let mut lines = Vec::new();
    let mut current: Option<LogicalLine> = None;
    let mut lineno = 0;
    while let Some(line) = physical.next() {
        if physical.peek().is_none() && (trailing_newline || line.is_empty()) {
            break;
        }
        lineno += 1;
        let first_text = line.iter().position(|&b| !is_space(b));
        let Some(first_text) = first_text else {
            continue;
        };
        if line[first_text] == b'#' {
            continue;
        }
        let starts_with_space = first_text > 0;
        match (&mut current, starts_with_space) {
            (Some(open), true) => open.text.extend_from_slice(line),
            (_, _) => {
                lines.extend(current.take());
                current = Some(LogicalLine {
                    first_line: lineno,
                    text: line.to_vec(),
                });
            }
        }
    }
    lines.extend(current);
    lines
        .into_iter()
        .filter(|logical| {
            let leading_space = logical.text.first().is_some_and(|&b| is_space(b));
            if leading_space {
                warn(ConfigWarning::LeadingWhitespace {
                    path: path.to_owned(),
                    text: logical.text.clone(),
                });
            }
            !leading_space
        })
        .collect()
}

/// Splits a logical line into name and trimmed value, as Postfix's
/// `split_nameval` does.
pub(crate) fn split_name_value(text: &[u8]) -> Result<(&[u8], &[u8]), &'static str> {
    let start = text
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(text.len());
    let rest = &text[start..];
    if rest.is_empty() || rest[0] == b'=' {
        return Err("missing attribute name");
    }
    let name_len = rest
        .iter()
        .position(|&b| is_space(b) || b == b'=')
        .unwrap_or(rest.len());
    let (name, after_name) = rest.split_at(name_len);
    let after_blanks = after_name
        .iter()
        .position(|&b| !is_space(b))
        .map_or(&after_name[after_name.len()..], |i| &after_name[i..]);
    match after_blanks.split_first() {
        Some((b'=', value)) => Ok((name, trim(value))),
        _ => Err("missing '=' after attribute name"),
    }
}

pub(crate) fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |i| i + 1);
    &value[start..end]
}

/// Loads the bytes of the file at `path` into `dict`, which may hold
/// preloaded entries (`process_name`, `config_directory`): an entry that
/// changes an existing value is reported as an override.
pub(super) fn load_into(
    dict: &mut Dictionary,
    path: &str,
    bytes: &[u8],
    warn: &mut dyn FnMut(ConfigWarning),
) -> Result<(), ConfigError> {
    for line in logical_lines(path, bytes, warn) {
        // Postfix handles lines as C strings: a NUL byte ends the line.
        let text = line.text.split(|&b| b == 0).next().unwrap_or_default();
        let (name, value) = split_name_value(text).map_err(|what| ConfigError::Syntax {
            path: path.to_owned(),
            line: line.first_line,
            what,
            text: text.to_vec(),
        })?;
        if let Some(old) = dict.set_at(name, value, Some(line.first_line)) {
            if old != value {
                warn(ConfigWarning::Override {
                    path: path.to_owned(),
                    line: line.first_line,
                    name: name.to_vec(),
                    old,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (Dictionary, Vec<String>) {
        let mut dict = Dictionary::default();
        let mut warnings = Vec::new();
        load_into(&mut dict, "/c/main.cf", text.as_bytes(), &mut |w| {
            warnings.push(w.to_string())
        })
        .expect("loads");
        (dict, warnings)
    }

    fn value(dict: &Dictionary, name: &str) -> String {
        String::from_utf8_lossy(dict.get(name.as_bytes()).expect("set")).into_owned()
    }

    #[test]
    fn comments_and_blank_lines_inside_a_continuation_do_not_end_it() {
        let (dict, _) = load("a = x\n\n# c\n  y\nb=1");
        assert_eq!(value(&dict, "a"), "x  y");
        assert_eq!(value(&dict, "b"), "1");
    }

    #[test]
    fn value_is_trimmed_and_may_contain_equals() {
        let (dict, _) = load("name\t =  a=b \r\n");
        assert_eq!(value(&dict, "name"), "a=b");
    }

    #[test]
    fn hash_after_text_is_data() {
        let (dict, _) = load("a = x # not a comment\n");
        assert_eq!(value(&dict, "a"), "x # not a comment");
    }

    #[test]
    fn leading_whitespace_at_file_start_is_skipped_with_a_warning() {
        let (dict, warnings) = load("  stray = 1234567890123456789012345678901\nb = 2\n");
        assert!(dict.get(b"stray").is_none());
        assert_eq!(
            warnings,
            vec![
                "/c/main.cf: logical line must not start with whitespace: \
                 \"  stray = 12345678901234567890...\""
            ]
        );
    }

    #[test]
    fn later_entry_wins_and_a_changed_value_is_reported() {
        let (dict, warnings) = load("a = 1\na = 1\na = 2\n");
        assert_eq!(value(&dict, "a"), "2");
        assert_eq!(
            warnings,
            vec!["/c/main.cf, line 3: overriding earlier entry: a=1"]
        );
    }

    #[test]
    fn syntax_errors_name_the_first_physical_line() {
        let mut dict = Dictionary::default();
        let err = load_into(&mut dict, "/c/main.cf", b"# c\n\nfoo\n bar\n", &mut |_| {})
            .expect_err("no =");
        assert_eq!(
            err.to_string(),
            "/c/main.cf, line 3: missing '=' after attribute name: \"foo bar\""
        );
        let err = load_into(&mut dict, "/c/main.cf", b"= x\n", &mut |_| {}).expect_err("no name");
        assert_eq!(
            err.to_string(),
            "/c/main.cf, line 1: missing attribute name: \"= x\""
        );
    }

    #[test]
    fn unterminated_last_line_counts() {
        let (dict, _) = load("a = 1\nb = 2");
        assert_eq!(value(&dict, "b"), "2");
    }
}
