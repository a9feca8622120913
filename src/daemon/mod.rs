//! `postkickd`: runs a rules file's kicks until told to stop.
//!
//! This module owns the daemon's life: it reads `main.cf` (for the queue
//! directory) and the rules file, starts one generation of rule tasks and
//! watches, tells systemd when it is ready, reloads on `SIGHUP` (the new
//! file is checked first; an invalid one leaves the old rules running; a
//! valid one replaces them without losing a pending kick: the old tasks
//! send what they had pending while the new ones are already watching),
//! and stops on `SIGTERM` or `SIGINT` within a second, giving an in-flight
//! kick what is left of that second. It runs on one thread; kicks are
//! asynchronous and never block it. The rules file and `main.cf` are read
//! with the daemon's privileges and trusted only after validation.

mod commands;
mod demo;
mod kick;
mod rule;
mod systemd;

pub use commands::{check, next};
pub use demo::{demo, endpoints};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{self, ConfigError, ConfigWarning, LoadOptions};
use crate::rules::{self, Readiness, RuleSet, RulesError, Trigger};
use crate::watch::{Registration, Signal, WatchError, WatchHub};
use rule::Stop;

/// How long a stop may take, in-flight kicks included.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// What `postkickd run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The rules file.
    pub rules_path: PathBuf,
    /// `-c`: overrides the rules file's `postfix.config_directory`.
    pub config_directory: Option<PathBuf>,
    /// Log the kicks instead of sending them.
    pub dry_run: bool,
}

/// Why the daemon could not start (or reload).
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The rules file is unreadable or invalid.
    #[error(transparent)]
    Rules(#[from] RulesError),
    /// `main.cf` is unreadable or invalid.
    #[error("{directory}/main.cf: {}; fix it, or point postfix.config_directory in the rules file (or -c) at the right directory", String::from_utf8_lossy(&error.message()))]
    Config {
        /// The configuration directory.
        directory: String,
        /// Postfix's words for the problem.
        error: ConfigError,
    },
    /// The file watcher could not start.
    #[error(transparent)]
    Watch(#[from] WatchError),
    /// The runtime or a signal handler could not be set up.
    #[error("cannot set up {what}: {source}")]
    Setup {
        /// What.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

/// What every rule task shares.
#[derive(Debug)]
pub struct Context {
    /// Endpoints are below this directory.
    pub queue_directory: PathBuf,
    /// Log kicks instead of sending them.
    pub dry_run: bool,
}

/// The rules file and the `main.cf` it points at, both validated.
pub struct Loaded {
    /// The rules.
    pub rules: RuleSet,
    /// `main.cf`'s values.
    pub main_cf: config::MainCf,
}

/// Reads the rules file, then the `main.cf` it (or `-c`) points at.
pub fn load(
    rules_path: &std::path::Path,
    config_directory: Option<&std::path::Path>,
) -> Result<Loaded, DaemonError> {
    let rules = rules::load(rules_path)?;
    let options = main_cf_options(&rules, config_directory);
    let directory = options.config_directory.clone();
    let mut warn = |w: ConfigWarning| tracing::warn!("main.cf: {w}");
    let main_cf = config::load(&options, &mut warn).map_err(|error| DaemonError::Config {
        directory: PathBuf::from(directory).display().to_string(),
        error,
    })?;
    Ok(Loaded { rules, main_cf })
}

/// How to read the `main.cf` a rules file uses: `-c`, else the file's
/// `postfix.config_directory`, else `$MAIL_CONFIG`, else `/etc/postfix`.
fn main_cf_options(rules: &RuleSet, config_directory: Option<&std::path::Path>) -> LoadOptions {
    let chosen = config_directory.or(rules.config_directory.as_deref());
    LoadOptions {
        config_directory: config::config_directory(chosen.map(|p| p.as_os_str())),
        process_name: b"postkickd".to_vec(),
        untrusted: false,
    }
}

/// One set of running rules.
struct Generation {
    stop: watch::Sender<Stop>,
    tasks: Vec<JoinHandle<()>>,
    _hub: Option<WatchHub>,
}

impl Generation {
    fn start(loaded: &Loaded, dry_run: bool) -> Result<(Generation, String), DaemonError> {
        let queue = &loaded.main_cf.queue_directory;
        let context = Arc::new(Context {
            queue_directory: queue.clone(),
            dry_run,
        });
        let (stop, stop_rx) = watch::channel(Stop::Running);
        let mut registrations = Vec::new();
        let mut counts = [0usize; 3];
        let mut rules = Vec::new();
        for rule in loaded.rules.rules.iter().filter(|r| r.enabled) {
            let rule = Arc::new(rule.clone());
            let signal = Arc::new(Signal::default());
            if rule.on_start {
                signal.raise();
            }
            match &rule.trigger {
                Trigger::Watch {
                    directory,
                    pattern,
                    poll,
                    ready,
                    ..
                } => {
                    counts[2] += 1;
                    registrations.push(Registration {
                        directory: queue.join(directory),
                        pattern: pattern.clone(),
                        poll: *poll,
                        ready: ready.unwrap_or_else(|| Readiness::default_for(directory, queue)),
                        signal: Arc::clone(&signal),
                    });
                }
                Trigger::Cron { .. } => counts[0] += 1,
                Trigger::Every { .. } => counts[1] += 1,
            }
            rules.push((rule, signal));
        }
        // Watches first: if they cannot be set up, no task has started.
        let hub = if registrations.is_empty() {
            None
        } else {
            Some(WatchHub::start(registrations)?)
        };
        let mut tasks = Vec::new();
        for (rule, signal) in rules {
            if !matches!(rule.trigger, Trigger::Watch { .. }) {
                tasks.push(tokio::spawn(rule::timer(
                    Arc::clone(&rule),
                    Arc::clone(&signal),
                    stop_rx.clone(),
                )));
            }
            tasks.push(tokio::spawn(rule::kicker(
                rule,
                signal,
                Arc::clone(&context),
                stop_rx.clone(),
            )));
        }
        let summary = format!(
            "{} rules running ({} cron, {} every, {} watch), queue {}{}",
            counts.iter().sum::<usize>(),
            counts[0],
            counts[1],
            counts[2],
            queue.display(),
            if dry_run { ", dry run" } else { "" }
        );
        Ok((
            Generation {
                stop,
                tasks,
                _hub: hub,
            },
            summary,
        ))
    }

    fn finished(&self) -> bool {
        self.tasks.iter().all(JoinHandle::is_finished)
    }
}

/// The single-threaded runtime every `postkickd` command runs on.
fn runtime() -> Result<tokio::runtime::Runtime, DaemonError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|source| DaemonError::Setup {
            what: "the runtime",
            source,
        })
}

/// Runs the daemon until `SIGTERM` or `SIGINT`.
pub fn run(options: &RunOptions) -> Result<(), DaemonError> {
    runtime()?.block_on(serve(options, std::future::pending()))
}

/// Runs the rules until a signal says stop or `until` completes.
async fn serve(
    options: &RunOptions,
    until: impl std::future::Future<Output = ()>,
) -> Result<(), DaemonError> {
    tokio::pin!(until);
    let setup = |what| move |source| DaemonError::Setup { what, source };
    let mut hangup = signal(SignalKind::hangup()).map_err(setup("the SIGHUP handler"))?;
    let mut terminate = signal(SignalKind::terminate()).map_err(setup("the SIGTERM handler"))?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(setup("the SIGINT handler"))?;
    let loaded = load(&options.rules_path, options.config_directory.as_deref())?;
    let (mut current, summary) = Generation::start(&loaded, options.dry_run)?;
    tracing::info!(rules = %options.rules_path.display(), "{summary}");
    systemd::ready(&summary);
    let mut draining: Vec<Generation> = Vec::new();
    let watchdog = systemd::watchdog_interval();
    let mut watchdog_tick = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    loop {
        tokio::select! {
            _ = hangup.recv() => {
                systemd::reloading();
                match load(&options.rules_path, options.config_directory.as_deref())
                    .and_then(|loaded| Generation::start(&loaded, options.dry_run))
                {
                    Ok((next, summary)) => {
                        let previous = std::mem::replace(&mut current, next);
                        // The old rules send what they had pending, then end.
                        let _ = previous.stop.send(Stop::Drain);
                        draining.push(previous);
                        tracing::info!(rules = %options.rules_path.display(), "reloaded: {summary}");
                        systemd::ready(&summary);
                    }
                    Err(err) => {
                        for line in err.to_string().lines() {
                            tracing::error!("reload refused, the previous rules keep running: {line}");
                        }
                        systemd::ready("reload refused; previous rules running");
                    }
                }
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            () = &mut until => break,
            _ = watchdog_tick.tick(), if watchdog.is_some() => systemd::watchdog(),
        }
        draining.retain(|g| !g.finished());
    }
    systemd::stopping();
    tracing::info!("stopping");
    let deadline = tokio::time::Instant::now() + STOP_GRACE;
    let mut generations = draining;
    generations.push(current);
    for generation in &generations {
        let _ = generation.stop.send(Stop::Now);
    }
    for generation in generations {
        for task in generation.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
            }
        }
    }
    Ok(())
}

/// Sets up logging to stderr: one line per event, without timestamps when
/// journald (which stamps lines itself) is listening.
pub fn init_logging(verbose: u8) {
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
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        builder.without_time().init();
    } else {
        builder.init();
    }
}
