//! The daemon's life: a plan started, reloaded in place, stopped.
//!
//! `run` loads the plan, starts its rules (`running`), tells systemd when
//! it is ready, reloads on `SIGHUP` (the new file is checked first; an
//! invalid one leaves the old rules running; a valid one is taken in place,
//! rule by rule, so that nothing pending is lost and no rule's timers
//! restart), and stops on `SIGTERM` or `SIGINT` within a second, giving an
//! in-flight kick what is left of that second. It runs on one thread; kicks are asynchronous
//! and never block it. Every line it logs carries an `event` field for
//! machines (`started`, `reloaded`, `reload_refused`, `stopping`).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};

use std::path::PathBuf;

use super::running::Running;
use super::state::StateFile;
use super::systemd;
use crate::files::write_whole;
use crate::postkickd::control::health::{HealthGauge, Target as HealthTarget};
use crate::postkickd::control::observed::{DaemonView, Observed};
use crate::postkickd::control::protocol::Reloads;
use crate::postkickd::control::queue::QueueGauge;
use crate::postkickd::control::server as control;
use crate::postkickd::error::DaemonError;
use crate::postkickd::instance::Instance;
use crate::postkickd::load::load_plan;
use crate::postkickd::plan::Plan;
use crate::postkickd::render;

/// What `postkickd run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The rules file.
    pub rules_path: PathBuf,
    /// `-c`: overrides the rules file's `postfix.config_directory`.
    pub config_directory: Option<PathBuf>,
    /// Log the kicks instead of sending them.
    pub dry_run: bool,
    /// The control socket; `None`: the unit's, if its directory exists.
    pub control: Option<PathBuf>,
    /// The state file; `None`: the unit's.
    pub state: Option<PathBuf>,
    /// The control socket's group; `None`: the daemon's own.
    pub control_group: Option<String>,
}

impl RunOptions {
    /// The same options with every path absolute, from the current
    /// working directory.
    fn absolute(&self) -> std::io::Result<RunOptions> {
        let absolute = |path: &PathBuf| std::path::absolute(path);
        Ok(RunOptions {
            rules_path: absolute(&self.rules_path)?,
            config_directory: self.config_directory.as_ref().map(absolute).transpose()?,
            dry_run: self.dry_run,
            control: self.control.as_ref().map(absolute).transpose()?,
            state: self.state.as_ref().map(absolute).transpose()?,
            control_group: self.control_group.clone(),
        })
    }
}

/// How long in-flight kicks may go on at a stop: what is left of the
/// second a stop may take goes to the state and metrics files and the
/// exit.
const STOP_GRACE: Duration = Duration::from_millis(600);

/// `SIGTERM` and `SIGINT`: the ways to ask any long-running command to end.
pub(crate) struct StopSignals {
    terminate: Signal,
    interrupt: Signal,
}

impl StopSignals {
    /// Installs the handlers (inside a runtime).
    pub(crate) fn install() -> Result<Self, DaemonError> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())
                .map_err(DaemonError::setup("the SIGTERM handler"))?,
            interrupt: signal(SignalKind::interrupt())
                .map_err(DaemonError::setup("the SIGINT handler"))?,
        })
    }

    /// Resolves at the next `SIGTERM` or `SIGINT`.
    pub(crate) async fn recv(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}

/// A task that ends when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Makes the directory of a default path if it is missing (systemd makes
/// it for the unit; by hand, under sysvinit or in a container nobody
/// does), so that no control socket or state is dropped without a word.
fn default_directory(
    path: PathBuf,
    mode: u32,
    what: &'static str,
    option: &'static str,
) -> Result<PathBuf, DaemonError> {
    use std::os::unix::fs::DirBuilderExt;
    let directory = path.parent().unwrap_or(Path::new("/"));
    match std::fs::DirBuilder::new().mode(mode).create(directory) {
        Ok(()) => Ok(path),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(path),
        Err(source) => Err(DaemonError::Directory {
            path: directory.display().to_string(),
            what,
            mode: if mode == 0o700 { "0700" } else { "0755" },
            option,
            source,
        }),
    }
}

/// The control socket: `--control PATH`, else the instance's.
fn control_socket(
    options: &RunOptions,
    plan: &Plan,
) -> Result<(tokio::net::UnixListener, control::OwnedSocket), DaemonError> {
    let path = match &options.control {
        Some(path) => path.clone(),
        None => default_directory(
            plan.instance.clone()?.control_path(),
            0o755,
            "control socket",
            "--control",
        )?,
    };
    control::bind(&path, options.control_group.as_deref())
}

/// The state file: `--state PATH`, else the instance's.
fn state_file(options: &RunOptions, plan: &Plan) -> Result<StateFile, DaemonError> {
    Ok(StateFile::new(&match &options.state {
        Some(path) => path.clone(),
        None => default_directory(
            plan.instance.clone()?.state_path(),
            0o700,
            "state file",
            "--state",
        )?,
    }))
}

/// How often the metrics file is written.
const METRICS_EVERY: Duration = Duration::from_secs(15);

/// The metrics file, and whether its last write failed (warned once
/// until a write succeeds again, not every 15 s).
struct MetricsFile {
    path: PathBuf,
    failing: std::sync::atomic::AtomicBool,
}

impl MetricsFile {
    fn new(path: PathBuf) -> Arc<MetricsFile> {
        Arc::new(MetricsFile {
            path,
            failing: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Writes the metrics whole, so that a scrape never reads half a file.
    fn write(&self, observed: &Observed) {
        use std::sync::atomic::Ordering;
        let file = self.path.display();
        match write_whole(&self.path, render::metrics(observed).as_bytes()) {
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(event = "metrics_written", file = %file, "the metrics file is written again");
                }
            }
            Err(e) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(event = "metrics_not_written", file = %file, error = %e, "cannot write the metrics file (retried every 15 s, said once; postkickd check tells why)");
                }
            }
        }
    }
}

/// The one-line summary systemd shows in `systemctl status`.
fn status_line(observed: &Observed) -> String {
    let summary = observed.summary();
    let (rules, kicks) = (summary.rules, summary.kicks);
    if summary.failing.is_empty() {
        format!("{rules} rules, {kicks} kicks, none failing")
    } else {
        format!(
            "{rules} rules, {kicks} kicks, failing: {}",
            summary.failing.join(", ")
        )
    }
}

/// What the daemon runs, in one line.
fn summary(plan: &Plan, dry_run: bool) -> String {
    let enabled: Vec<_> = plan.enabled().map(|p| &p.rule).collect();
    format!(
        "{} rules running ({}), queue {}{}",
        enabled.len(),
        crate::rules::count_by_kind(enabled.iter().copied()),
        plan.queue_directory.display(),
        if dry_run { ", dry run" } else { "" }
    )
}

/// What the running plan decides beyond its rules, kept while a reload is
/// refused.
struct Settings {
    queue: PathBuf,
    metrics_file: Option<Arc<MetricsFile>>,
    /// The Postfix instance the control socket or state file was named
    /// after, when either was: a reload must not move the daemon to
    /// another.
    instance: Option<Instance>,
}

/// Takes a `SIGHUP`: the rules file is read and checked again and taken in
/// place, or refused with the previous rules left running.
/// Reloads the rules file; what runs now (its summary), or why the
/// reload was refused and the previous rules run on.
fn reload(
    options: &RunOptions,
    running: &mut Running,
    settings: &mut Settings,
    observed: &Observed,
) -> Result<String, String> {
    systemd::reloading();
    let rules_file = options.rules_path.display();
    let reloaded =
        load_plan(&options.rules_path, options.config_directory.as_deref()).and_then(|plan| {
            if let Some(serving) = &settings.instance {
                if plan.instance.as_ref().ok() != Some(serving) {
                    return Err(DaemonError::InstanceMoved {
                        serving: serving.to_string(),
                    });
                }
            }
            plan.enter()?;
            if let Err(err) = running.reload(&plan) {
                // The old rules keep running, from their queue.
                let _ = std::env::set_current_dir(&settings.queue);
                return Err(err);
            }
            settings.queue = plan.queue_directory.clone();
            if settings.metrics_file.as_ref().map(|file| &file.path) != plan.metrics_file.as_ref() {
                settings.metrics_file = plan.metrics_file.clone().map(MetricsFile::new);
            }
            observed.queue.set_showq(plan.showq.clone());
            observed.health.set_target(health_target(&plan));
            Ok((summary(&plan, options.dry_run), running.views(&plan)))
        });
    observed.reloaded(
        reloaded
            .as_ref()
            .map(|(_, views)| views.clone())
            .map_err(ToString::to_string),
    );
    match reloaded {
        Ok((summary_line, _)) => {
            tracing::info!(event = "reloaded", rules = %rules_file, "reloaded: {summary_line}");
            systemd::ready(&summary_line);
            Ok(summary_line)
        }
        Err(err) => {
            for line in err.to_string().lines() {
                tracing::error!(event = "reload_refused", rules = %rules_file, "reload refused, the previous rules keep running: {line}");
            }
            systemd::ready("reload refused; previous rules running");
            Err(format!(
                "reload refused, the previous rules keep running:\n{err}"
            ))
        }
    }
}

/// What the health gauge judges for `plan`.
fn health_target(plan: &Plan) -> HealthTarget {
    HealthTarget {
        site: Arc::clone(&plan.site),
        services: plan.services(),
        pickup_limit: plan.pickup_limit(),
    }
}

/// Runs the daemon until `SIGTERM` or `SIGINT`.
pub fn run(options: &RunOptions) -> Result<(), DaemonError> {
    crate::runtime()
        .map_err(DaemonError::setup("the runtime"))?
        .block_on(serve(options, std::future::pending()))
}

/// Runs the rules until a signal says stop or `until` completes.
pub(crate) async fn serve(
    options: &RunOptions,
    until: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    tokio::pin!(until);
    // The daemon works in the queue directory: a relative path given on
    // the command line means the directory it was started in.
    let options = &options
        .absolute()
        .map_err(DaemonError::setup("the working directory"))?;
    let mut hangup =
        signal(SignalKind::hangup()).map_err(DaemonError::setup("the SIGHUP handler"))?;
    let mut user1 =
        signal(SignalKind::user_defined1()).map_err(DaemonError::setup("the SIGUSR1 handler"))?;
    let mut stop_signals = StopSignals::install()?;
    let rules_file = options.rules_path.display().to_string();
    let plan = load_plan(&options.rules_path, options.config_directory.as_deref())?;
    plan.enter()?;
    // Before any rule runs: a second daemon on the same socket must not
    // kick anything.
    let control = control_socket(options, &plan)?;
    let mut running = Running::start(&plan, options.dry_run, Some(state_file(options, &plan)?))?;
    let now = jiff::Timestamp::now();
    let observed = Arc::new(Observed::new(
        DaemonView {
            started: now,
            rules_file: rules_file.clone(),
            loaded: now,
            last_reload: None,
            reloads: Reloads::default(),
            queue_directory: plan.queue_directory.display().to_string(),
        },
        running.views(&plan),
        QueueGauge::new(plan.showq.clone()),
        HealthGauge::new(health_target(&plan)),
    ));
    // Dropped last: the socket goes when the daemon has stopped.
    let (listener, _owned_socket) = control;
    let (reload_asks, mut reloads_asked) = tokio::sync::mpsc::channel::<control::ReloadAsked>(4);
    let _control = AbortOnDrop(tokio::spawn(control::serve(
        listener,
        Arc::clone(&observed),
        reload_asks,
    )));
    let summary_line = summary(&plan, options.dry_run);
    tracing::info!(event = "started", rules = %rules_file, "{summary_line}");
    systemd::ready(&summary_line);
    let watchdog = systemd::watchdog_interval();
    let mut watchdog_tick = tokio::time::interval(watchdog.unwrap_or(Duration::from_secs(3600)));
    // systemd's STATUS= line follows the counters, at most once a second.
    let mut status_tick = tokio::time::interval(Duration::from_secs(1));
    // node_exporter's textfile collector reads the metrics file when it
    // scrapes; every 15 s keeps it fresh without writing all the time.
    let mut settings = Settings {
        queue: plan.queue_directory.clone(),
        metrics_file: plan.metrics_file.clone().map(MetricsFile::new),
        instance: (options.control.is_none() || options.state.is_none())
            .then(|| plan.instance.clone().ok())
            .flatten(),
    };
    let mut metrics_tick = tokio::time::interval(METRICS_EVERY);
    let mut shown_status = String::new();
    loop {
        tokio::select! {
            _ = user1.recv() => {
                if let Ok(status) = observed.document(None) {
                    for line in render::table(&status, jiff::Timestamp::now()).lines() {
                        tracing::info!(event = "status", "{line}");
                    }
                }
            }
            _ = metrics_tick.tick(), if settings.metrics_file.is_some() => {
                if let Some(file) = settings.metrics_file.clone() {
                    // showq may take seconds on a huge queue, and fsync
                    // on a busy disk as long: the loop goes on meanwhile.
                    let observed = Arc::clone(&observed);
                    tokio::spawn(async move {
                        observed.queue.read().await;
                        let _ = tokio::task::spawn_blocking(move || file.write(&observed)).await;
                    });
                }
            }
            _ = status_tick.tick(), if systemd::listening() => {
                let line = status_line(&observed);
                if line != shown_status {
                    systemd::status(&line);
                    shown_status = line;
                }
            }
            _ = hangup.recv() => {
                let _ = reload(options, &mut running, &mut settings, &observed);
            }
            Some(asked) = reloads_asked.recv() => {
                let _ = asked.send(reload(options, &mut running, &mut settings, &observed));
            }
            () = stop_signals.recv() => break,
            () = &mut until => break,
            _ = watchdog_tick.tick(), if watchdog.is_some() => systemd::watchdog(),
        }
    }
    systemd::stopping();
    tracing::info!(event = "stopping", "stopping");
    running.stop(STOP_GRACE).await;
    if let Some(file) = &settings.metrics_file {
        file.write(&observed);
    }
    Ok(())
}
