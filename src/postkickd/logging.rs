//! Where the daemon's log goes, and in which form.
//!
//! Text for people: one line per event on stderr, without timestamps when
//! journald (which stamps lines itself) is listening. JSON for machines
//! (`--log-format json`): one object per line with the event's fields at
//! the top level and the kick's span (rule, trigger, target) under `span`,
//! for log shippers and for the tests, which read fields, never wording.

/// The form of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Sets up logging to stderr at `verbose` (0 info, 1 debug, 2+ trace).
pub fn init(verbose: u8, format: LogFormat) {
    let level = match verbose {
        0 => tracing::Level::INFO,
        1 => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
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
            builder.without_time().init();
        }
        LogFormat::Text => builder.init(),
    }
}
