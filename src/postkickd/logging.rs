//! Where the daemon's log goes, and in which form.
//!
//! Text for people: one line per event on stderr. Under journald (which
//! sets `JOURNAL_STREAM` for a service's stderr) events go to the journal
//! natively, with their priority (`journalctl -p err` shows failed kicks)
//! and their fields as journal fields (`journalctl RULE=pickup-on-maildrop`,
//! `OUTCOME=failed`); if the journal's socket cannot be opened, text lines
//! without timestamps that start with their syslog priority (`<3>` for an
//! error), which journald reads from stderr. Lines printed outside the
//! logger (errors at the edge, `check`'s findings) carry that prefix too
//! ([`priority`]). JSON for machines
//! (`--log-format json`): one object per line with the event's fields at
//! the top level and the kick's span (rule, trigger, target) under `span`,
//! for log shippers and for the tests, which read fields, never wording.
//! Text lines have their control characters escaped (`\n`, `\u{1b}`): a
//! watched file named with a newline or a terminal escape can neither
//! forge a line nor reach a terminal raw. JSON escapes them by itself.

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;

/// The form of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The syslog priority prefix journald reads, for a line printed at
/// `level` outside the logger (errors at the edge, `check`'s findings);
/// empty when stderr is not journald.
pub(crate) fn priority(level: Level) -> &'static str {
    if std::env::var_os("JOURNAL_STREAM").is_none() {
        return "";
    }
    priority_prefix(level)
}

fn priority_prefix(level: Level) -> &'static str {
    match level {
        Level::ERROR => "<3>",
        Level::WARN => "<4>",
        Level::INFO => "<6>",
        _ => "<7>",
    }
}

/// A text line with journald's priority prefix in front.
struct WithPriority<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithPriority<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        writer.write_str(priority_prefix(*event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// Standard error for text lines, escaped ([`escape_line`]).
struct EscapedStderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for EscapedStderr {
    type Writer = EscapedStderr;

    fn make_writer(&'a self) -> EscapedStderr {
        EscapedStderr
    }
}

impl std::io::Write for EscapedStderr {
    /// Takes one formatted event (the formatter writes each whole).
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(line);
        std::io::stderr().write_all(escape_line(&text).as_bytes())?;
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// `line` with every control character but its final newline escaped.
fn escape_line(line: &str) -> String {
    let (body, end) = match line.strip_suffix('\n') {
        Some(body) => (body, "\n"),
        None => (line, ""),
    };
    let mut escaped = String::with_capacity(line.len());
    for c in body.chars() {
        if c.is_control() && c != '\t' {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    escaped.push_str(end);
    escaped
}

/// Sets up logging to stderr at `verbose` (0 info, 1 debug, 2+ trace).
pub fn init(verbose: u8, format: LogFormat) {
    let level = match verbose {
        0 => Level::INFO,
        1 => Level::DEBUG,
        _ => Level::TRACE,
    };
    let builder = tracing_subscriber::fmt()
        .with_writer(EscapedStderr)
        .with_ansi(false)
        .with_target(false)
        .with_max_level(level);
    match format {
        LogFormat::Json => builder
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        LogFormat::Text if std::env::var_os("JOURNAL_STREAM").is_some() => {
            use tracing_subscriber::layer::SubscriberExt;
            use tracing_subscriber::util::SubscriberInitExt;
            match tracing_journald::layer() {
                Ok(journal) => {
                    let filter = tracing_subscriber::filter::LevelFilter::from_level(level);
                    let _ = tracing_subscriber::registry()
                        .with(
                            journal
                                .with_field_prefix(None)
                                .with_syslog_identifier("postkickd".into()),
                        )
                        .with(filter)
                        .try_init();
                }
                Err(_) => builder
                    .event_format(WithPriority(
                        format::format()
                            .without_time()
                            .with_target(false)
                            .with_ansi(false),
                    ))
                    .init(),
            }
        }
        LogFormat::Text => builder.init(),
    }
}

#[cfg(test)]
mod tests {
    use super::escape_line;

    #[test]
    fn control_characters_in_a_text_line_are_escaped_but_its_end() {
        assert_eq!(
            escape_line("kick: file incoming/evil\nERROR forged\u{1b}[2J\r\n"),
            "kick: file incoming/evil\\nERROR forged\\u{1b}[2J\\r\n"
        );
        assert_eq!(
            escape_line("plain\tline ünïcode\n"),
            "plain\tline ünïcode\n"
        );
        assert_eq!(escape_line("no end \u{9b}"), "no end \\u{9b}");
    }
}
