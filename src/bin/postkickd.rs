//! `postkickd`: kicks Postfix services from YAML rules. See
//! [`postkick::postkickd`] and `postkickd --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use postkick::postkickd::{
    self, LogFormat, LogOptions, LogTarget, ReloadTarget, RunOptions, StatusForm,
};

#[derive(Parser)]
#[command(
    name = "postkickd",
    version,
    about = "Kick Postfix services from YAML rules (cron, intervals, file events)"
)]
struct Cli {
    /// More log detail (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// The form of log lines: text for people, json for log shippers.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// Where log lines go: stderr (the journal under systemd) or syslog
    /// (/dev/log, mail facility, beside Postfix's lines in mail.log).
    #[arg(long, value_enum, default_value_t = LogTarget::Stderr, global = true)]
    log_target: LogTarget,
    /// The syslog daemon's socket, for --log-target syslog.
    #[arg(long, default_value = postkickd::DEFAULT_SYSLOG_SOCKET, global = true)]
    syslog_socket: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the rules in the foreground until SIGTERM or SIGINT; SIGHUP reloads.
    Run {
        /// The rules file (default: the instance's, /etc/postkick/rules.yaml or /etc/postkick/NAME.yaml).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Postfix configuration directory: the instance to serve (overrides the rules file's).
        #[arg(short = 'c', long = "config-directory")]
        config_directory: Option<PathBuf>,
        /// Log the kicks that would be sent, and send none.
        #[arg(long)]
        dry_run: bool,
        /// The control socket (default: the instance's, /run/postkickd/control or /run/postkickd-NAME/control; the directory is made if missing).
        #[arg(long)]
        control: Option<PathBuf>,
        /// The control socket's group (default: the daemon's own, postdrop under the unit).
        #[arg(long, value_name = "GROUP")]
        control_group: Option<String>,
        /// The state file: last fires, for catch_up and intervals across restarts
        /// (default: the instance's, /var/lib/postkick/state or /var/lib/postkick-NAME/state; the directory is made if missing).
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Ask the running daemon what each rule did and will do; exit 0 ok, 1 warning, 2 critical, 3 unknown.
    Status {
        /// Only this rule.
        rule: Option<String>,
        /// The JSON document (schema in postkickd(8)).
        #[arg(long, conflicts_with = "metrics")]
        json: bool,
        /// Prometheus' text exposition format.
        #[arg(long)]
        metrics: bool,
        /// The daemon's control socket (default: the instance's).
        #[arg(long, conflicts_with = "config_directory")]
        control: Option<PathBuf>,
        /// Postfix configuration directory: ask the daemon serving that instance.
        #[arg(short = 'c', long = "config-directory")]
        config_directory: Option<PathBuf>,
    },
    /// Fire a rule now through the running daemon and print the outcome.
    Kick {
        /// The rule's name.
        rule: String,
        /// The daemon's control socket (default: the instance's).
        #[arg(long, conflicts_with = "config_directory")]
        control: Option<PathBuf>,
        /// Postfix configuration directory: ask the daemon serving that instance.
        #[arg(short = 'c', long = "config-directory")]
        config_directory: Option<PathBuf>,
    },
    /// Validate a rules file: every error with FILE:LINE:COLUMN, then warnings.
    Check {
        /// The rules file (default: the instance's).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Postfix configuration directory (overrides the rules file's).
        #[arg(short = 'c', long = "config-directory")]
        config_directory: Option<PathBuf>,
    },
    /// Why isn't mail moving? Judge each link of Postfix's path once, without the daemon: exit 0 ok, 1 warning, 2 failed.
    Doctor {
        /// The rules file (for the services its rules kick; optional; default: the instance's).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Postfix configuration directory (overrides the rules file's).
        #[arg(short = 'c', long = "config-directory")]
        config_directory: Option<PathBuf>,
    },
    /// Check the rules file, then make the daemon reload it: through its control socket, or by SIGHUP to --pid (systemd's ExecReload=).
    Reload {
        /// The rules file (default: the daemon's own; with --pid, the instance's).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Postfix configuration directory: reload the daemon serving that instance.
        #[arg(short = 'c', long = "config-directory")]
        config_directory: Option<PathBuf>,
        /// Signal this process ($MAINPID) instead of asking over the control socket.
        #[arg(long, conflicts_with = "control")]
        pid: Option<i32>,
        /// The daemon's control socket (default: the instance's).
        #[arg(long, conflicts_with = "config_directory")]
        control: Option<PathBuf>,
    },
    /// Show the daemon at work on a throw-away test queue: no mail system needed.
    Demo {
        /// How long to run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Serve a test queue in DIR (main.cf and live endpoints that print what they receive).
    Endpoints {
        /// An empty directory for the test queue.
        dir: PathBuf,
        /// Also create the endpoints this rules file names.
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// Print the next fire times of every timer rule.
    Next {
        /// The rules file.
        #[arg(long, default_value = postkick::rules::DEFAULT_RULES_PATH)]
        rules: PathBuf,
        /// How many fire times per rule.
        #[arg(short = 'n', long, default_value_t = 5)]
        count: usize,
        /// Count from this instant instead of now (RFC 3339, e.g. 2026-11-01T04:30:00Z).
        #[arg(long)]
        after: Option<jiff::Timestamp>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logging = LogOptions {
        verbose: cli.verbose,
        format: cli.log_format,
        target: cli.log_target,
        syslog_socket: cli.syslog_socket,
    };
    let result = match cli.command {
        Command::Run {
            rules,
            config_directory,
            dry_run,
            control,
            control_group,
            state,
        } => postkickd::init_logging(&logging)
            .and_then(|()| postkickd::rules_file(rules.as_deref(), config_directory.as_deref()))
            .and_then(|rules_path| {
                postkickd::run(&RunOptions {
                    rules_path,
                    config_directory,
                    dry_run,
                    control,
                    state,
                    control_group,
                })
            }),
        Command::Status {
            rule,
            json,
            metrics,
            control,
            config_directory,
        } => {
            let form = if metrics {
                StatusForm::Metrics
            } else if json {
                StatusForm::Json
            } else {
                StatusForm::Table
            };
            postkickd::status(
                control.as_deref(),
                config_directory.as_deref(),
                rule.as_deref(),
                form,
            )
        }
        Command::Kick {
            rule,
            control,
            config_directory,
        } => postkickd::control_socket(control.as_deref(), config_directory.as_deref())
            .and_then(|control| postkickd::kick(&control, &rule)),
        Command::Demo { seconds } => {
            postkickd::init_logging(&logging).and_then(|()| postkickd::demo(seconds))
        }
        Command::Endpoints { dir, rules } => postkickd::endpoints(&dir, rules.as_deref()),
        Command::Check {
            rules,
            config_directory,
        } => postkickd::rules_file(rules.as_deref(), config_directory.as_deref())
            .and_then(|rules| postkickd::check(&rules, config_directory.as_deref(), cli.verbose)),
        Command::Doctor {
            rules,
            config_directory,
        } => postkickd::rules_file(rules.as_deref(), config_directory.as_deref())
            .and_then(|rules| postkickd::doctor(&rules, config_directory.as_deref())),
        Command::Reload {
            rules,
            config_directory,
            pid,
            control,
        } => match pid {
            Some(pid) => Ok(ReloadTarget::Pid(pid)),
            None => postkickd::control_socket(control.as_deref(), config_directory.as_deref())
                .map(ReloadTarget::Control),
        }
        .and_then(|target| {
            postkickd::reload(rules.as_deref(), config_directory.as_deref(), &target)
        }),
        Command::Next {
            rules,
            count,
            after,
        } => postkickd::next(&rules, count, after),
    };
    postkickd::exit(result).into()
}
