//! `postkickd`: kicks Postfix services from YAML rules. See
//! [`postkick::daemon`] and `postkickd --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use postkick::rules::DEFAULT_RULES_PATH;

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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the rules in the foreground until SIGTERM or SIGINT; SIGHUP reloads.
    Run {
        /// The rules file.
        #[arg(long, default_value = DEFAULT_RULES_PATH)]
        rules: PathBuf,
        /// Postfix configuration directory (overrides the rules file's).
        #[arg(short = 'c', long = "config-directory")]
        config_directory: Option<PathBuf>,
        /// Log the kicks that would be sent, and send none.
        #[arg(long)]
        dry_run: bool,
    },
    /// Validate a rules file: every error with FILE:LINE:COLUMN, then warnings.
    Check {
        /// The rules file.
        #[arg(long, default_value = DEFAULT_RULES_PATH)]
        rules: PathBuf,
        /// Postfix configuration directory (overrides the rules file's).
        #[arg(short = 'c', long = "config-directory")]
        config_directory: Option<PathBuf>,
    },
    /// Print the next fire times of every timer rule.
    Next {
        /// The rules file.
        #[arg(long, default_value = DEFAULT_RULES_PATH)]
        rules: PathBuf,
        /// How many fire times per rule.
        #[arg(short = 'n', long, default_value_t = 5)]
        count: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status = match cli.command {
        Command::Run {
            rules,
            config_directory,
            dry_run,
        } => {
            postkick::daemon::init_logging(cli.verbose);
            let options = postkick::daemon::RunOptions {
                rules_path: rules,
                config_directory,
                dry_run,
            };
            match postkick::daemon::run(&options) {
                Ok(()) => 0,
                Err(err) => {
                    for line in err.to_string().lines() {
                        tracing::error!("{line}");
                    }
                    1
                }
            }
        }
        Command::Check {
            rules,
            config_directory,
        } => postkick::daemon::check(&rules, config_directory.as_deref()),
        Command::Next { rules, count } => postkick::daemon::next(&rules, count),
    };
    ExitCode::from(status)
}
