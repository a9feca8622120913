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
//!
//! Mail administrators read mail.log, where Postfix's pickup and qmgr
//! write: journal entries carry the mail facility (`SYSLOG_FACILITY=2`,
//! so `journalctl --facility=mail` and rsyslog's `mail.*` see them), and
//! on a host without journald `--log-target syslog` sends each line to
//! `/dev/log` in the mail facility as `postkickd[PID]`, the way Postfix's
//! own programs log there. A syslog daemon that cannot keep up loses lines
//! rather than stalling the daemon.

use tracing::{Event, Level, Subscriber};

use super::DaemonError;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::registry::LookupSpan;

/// The syslog facility for mail, which Postfix logs to.
const MAIL_FACILITY: u8 = 2;

/// Where the daemon's log goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogTarget {
    /// Standard error: the journal under systemd (natively, in the mail
    /// facility), the terminal by hand.
    #[default]
    Stderr,
    /// The local syslog daemon (`/dev/log`), in the mail facility.
    Syslog,
}

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

/// The syslog socket, and this process's id for each line's tag.
struct Syslog {
    socket: std::os::unix::net::UnixDatagram,
    pid: u32,
}

/// Where the local syslog daemon listens, unless told otherwise.
pub const DEFAULT_SYSLOG_SOCKET: &str = "/dev/log";

impl Syslog {
    fn connect(path: &std::path::Path) -> std::io::Result<Syslog> {
        let socket = std::os::unix::net::UnixDatagram::unbound()?;
        socket.connect(path)?;
        socket.set_nonblocking(true)?;
        Ok(Syslog {
            socket,
            pid: std::process::id(),
        })
    }
}

/// One event's text, sent as one datagram when the formatter is done.
struct SyslogLine<'a> {
    syslog: &'a Syslog,
    level: Level,
    text: Vec<u8>,
}

impl std::io::Write for SyslogLine<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogLine<'_> {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.text);
        let line = syslog_line(
            self.level,
            self.syslog.pid,
            escape_line(text.trim_end()).as_str(),
        );
        // Lost if syslog cannot keep up: a log must not stall the kicks.
        let _ = self.syslog.socket.send(line.as_bytes());
    }
}

/// A line as Postfix's programs send it through syslog(3), but without
/// the time, which the syslog daemon adds as it receives the line (in its
/// own zone): `<PRI>postkickd[PID]: warning: text`.
fn syslog_line(level: Level, pid: u32, text: &str) -> String {
    let (severity, word) = match level {
        Level::ERROR => (3, "error: "),
        Level::WARN => (4, "warning: "),
        Level::INFO => (6, ""),
        _ => (7, ""),
    };
    format!(
        "<{}>postkickd[{pid}]: {word}{text}",
        MAIL_FACILITY * 8 + severity
    )
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Syslog {
    type Writer = SyslogLine<'a>;

    fn make_writer(&'a self) -> SyslogLine<'a> {
        SyslogLine {
            syslog: self,
            level: Level::INFO,
            text: Vec::new(),
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> SyslogLine<'a> {
        SyslogLine {
            syslog: self,
            level: *meta.level(),
            text: Vec::new(),
        }
    }
}

/// An event's message alone: a syslog line is words, as Postfix's are
/// (the rule, action and outcome are in them).
struct MessageOnly;

impl<S, N> FormatEvent<S, N> for MessageOnly
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        struct Message<'w, 'a>(&'w mut Writer<'a>, std::fmt::Result);
        impl tracing::field::Visit for Message<'_, '_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.1 = write!(self.0, "{value:?}");
                }
            }
        }
        let mut message = Message(&mut writer, Ok(()));
        event.record(&mut message);
        message.1?;
        writeln!(writer)
    }
}

/// How and where to log.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// 0 info, 1 debug, 2+ trace.
    pub verbose: u8,
    /// Text or JSON (standard error only).
    pub format: LogFormat,
    /// Standard error or syslog.
    pub target: LogTarget,
    /// The syslog daemon's socket.
    pub syslog_socket: std::path::PathBuf,
}

/// Sets up logging as `options` say.
pub fn init(options: &LogOptions) -> Result<(), DaemonError> {
    let LogOptions {
        verbose,
        format,
        target,
        ref syslog_socket,
    } = *options;
    let level = match verbose {
        0 => Level::INFO,
        1 => Level::DEBUG,
        _ => Level::TRACE,
    };
    if target == LogTarget::Syslog {
        let syslog = Syslog::connect(syslog_socket).map_err(|source| DaemonError::Syslog {
            path: syslog_socket.display().to_string(),
            source,
        })?;
        tracing_subscriber::fmt()
            .with_writer(syslog)
            .with_max_level(level)
            .event_format(MessageOnly)
            .init();
        return Ok(());
    }
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
                                .with_syslog_identifier("postkickd".into())
                                .with_custom_fields([(
                                    "SYSLOG_FACILITY",
                                    MAIL_FACILITY.to_string(),
                                )]),
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{escape_line, syslog_line};
    use tracing::Level;

    #[test]
    fn syslog_lines_are_in_the_mail_facility_with_postfix_s_words() {
        assert_eq!(
            syslog_line(
                Level::WARN,
                42,
                "pickup-on-maildrop: public pickup W failed"
            ),
            "<20>postkickd[42]: warning: pickup-on-maildrop: public pickup W failed"
        );
        assert_eq!(
            syslog_line(Level::ERROR, 1, "x"),
            "<19>postkickd[1]: error: x"
        );
        assert_eq!(syslog_line(Level::INFO, 1, "x"), "<22>postkickd[1]: x");
    }

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
