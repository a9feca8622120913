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

/// Sets up logging to stderr at `verbose` (0 info, 1 debug, 2+ trace).
pub fn init(verbose: u8, format: LogFormat) {
    let level = match verbose {
        0 => Level::INFO,
        1 => Level::DEBUG,
        _ => Level::TRACE,
    };
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .with_max_level(level);
    match format {
        LogFormat::Json => builder
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
