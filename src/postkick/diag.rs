//! Postfix-style diagnostics on standard error.
//!
//! Owns the line format (`<tag>: <text>` for information, `<tag>: <level>:
//! <text>` otherwise), Postfix's sanitising of the text (every byte that is
//! not printable ASCII becomes `?`, except that UTF-8 sequences are kept once
//! `smtputf8_enable` is known to be on) and one `write(2)` per line. The tag
//! is printed raw, as Postfix does. It decides no exit status.

use std::io::Write;

/// The level of a diagnostic line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    /// No level word.
    Info,
    /// `warning:`.
    Warning,
    /// `error:`.
    Error,
    /// `fatal:`.
    Fatal,
}

/// Postfix's `printable()`: non-printable bytes become `?`; with `utf8`,
/// a lead byte 0xC2..=0xFE followed by a continuation byte is kept together
/// with all the continuation bytes that follow it.
pub(super) fn sanitise(text: &[u8], utf8: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    while at < text.len() {
        let byte = text[at];
        let continuation = |b: Option<&u8>| b.is_some_and(|b| (0x80..0xC0).contains(b));
        if (0x20..0x7F).contains(&byte) {
            out.push(byte);
        } else if utf8 && (0xC2..=0xFE).contains(&byte) && continuation(text.get(at + 1)) {
            out.push(byte);
            while continuation(text.get(at + 1)) {
                at += 1;
                out.push(text[at]);
            }
        } else {
            out.push(b'?');
        }
        at += 1;
    }
    out
}

/// Where and how a program reports.
#[derive(Debug)]
pub(super) struct Diagnostics {
    tag: Vec<u8>,
    /// How many `-v` (and `MAIL_VERBOSE`) are in force.
    pub verbose: usize,
    /// Whether UTF-8 survives sanitising (`smtputf8_enable`).
    pub utf8: bool,
}

impl Diagnostics {
    /// Diagnostics tagged with a program name.
    pub(super) fn new(tag: Vec<u8>) -> Self {
        Self {
            tag,
            verbose: 0,
            utf8: false,
        }
    }

    /// The tag, raw.
    pub(super) fn tag(&self) -> &[u8] {
        &self.tag
    }

    /// Prints one line at `level`, sanitising `text`.
    pub(super) fn line(&self, level: Level, text: &[u8]) {
        let word: &[u8] = match level {
            Level::Info => b"",
            Level::Warning => b"warning: ",
            Level::Error => b"error: ",
            Level::Fatal => b"fatal: ",
        };
        let line = [
            &self.tag,
            &b": "[..],
            word,
            &sanitise(text, self.utf8),
            b"\n",
        ]
        .concat();
        self.raw(&line);
    }

    /// Prints bytes exactly as given, in one write.
    pub(super) fn raw(&self, line: &[u8]) {
        // A closed or full stderr must not turn a kick into a failure.
        let _ = std::io::stderr().lock().write_all(line);
    }

    /// Prints an information line when at least `level` `-v` are in force;
    /// `text` is only built then, so quiet runs pay nothing for it.
    pub(super) fn debug<T: AsRef<[u8]>>(&self, level: usize, text: impl FnOnce() -> T) {
        if self.verbose >= level {
            self.line(Level::Info, text().as_ref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sanitise;

    #[test]
    fn control_bytes_and_tabs_become_question_marks() {
        assert_eq!(sanitise(b"a\tb\x01c\xff", true), b"a?b?c?");
    }

    #[test]
    fn utf8_is_kept_only_when_enabled() {
        assert_eq!(sanitise("é".as_bytes(), false), b"??");
        assert_eq!(sanitise("é".as_bytes(), true), "é".as_bytes());
        assert_eq!(sanitise(b"\xc3", true), b"?");
    }
}
