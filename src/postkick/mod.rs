//! The `postkick` command: Postfix's `postkick(1)`, minus its SIGPIPE death.
//!
//! ```text
//! postkick [-c config_dir] [-v] class service request
//! ```
//!
//! Sends `request` to the trigger endpoint `$queue_directory/class/service`
//! (a FIFO or a UNIX-domain socket) with the same bytes, messages and exit
//! statuses as Postfix 3.7's `postkick`: `-c` names the configuration
//! directory (else `$MAIL_CONFIG`, else `/etc/postfix`), `-v` (repeatable,
//! or `MAIL_VERBOSE` in the environment) adds debug lines, and the exit
//! status is 0 when the endpoint was reached, 1 otherwise. Unlike Postfix it
//! does not pause a second before a fatal exit, and a server that closes
//! after reading the request is a delivered kick (exit 0), never a death by
//! SIGPIPE. This module turns the command line into one kick and the result
//! into lines and an exit status ([`Exit`]), decided here and nowhere else;
//! [`getopt`] reads the command line as glibc does and `diag` prints as
//! Postfix prints. It never speaks Postfix's attribute protocol: it sends
//! the raw request, as Postfix's does. It trusts the command line and environment only when the
//! process is not set-id, as Postfix does.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

mod diag;
pub mod getopt;

use crate::exit::Exit;
use crate::postfix::config::{self, ConfigWarning, LoadOptions, MainCf, Reporter};
use crate::postfix::endpoint::{self, EndpointError, Loudness, PeerOutcome, Report, Timeouts};
use crate::postfix::services;
use diag::{Diagnostics, Level};

/// The program name Postfix derives from `argv[0]`: what follows the last
/// `/`, unless nothing does.
fn tag_of(argv0: &[u8]) -> Vec<u8> {
    match argv0.iter().rposition(|&b| b == b'/') {
        Some(slash) if slash + 1 < argv0.len() => argv0[slash + 1..].to_vec(),
        _ => argv0.to_vec(),
    }
}

struct CliReporter<'a> {
    diag: &'a mut Diagnostics,
}

impl Reporter for CliReporter<'_> {
    fn warning(&mut self, warning: ConfigWarning) {
        self.diag.line(Level::Warning, &warning.message());
    }

    fn smtputf8_decided(&mut self, enabled: bool) {
        self.diag.utf8 = enabled;
    }
}

fn usage(diag: &Diagnostics) -> Exit {
    let text = [
        &b"usage: "[..],
        diag.tag(),
        b" [-c config_dir] [-v] class service request",
    ]
    .concat();
    diag.line(Level::Fatal, &text);
    Exit::Failure
}

/// Runs `postkick` with its whole argument vector; returns the exit status.
pub fn run(args: Vec<OsString>) -> Exit {
    let argv0 = args
        .first()
        .map(|a| a.as_bytes().to_vec())
        .unwrap_or_default();
    let mut diag = Diagnostics::new(tag_of(&argv0));
    let set_id = crate::sys::running_set_id();
    if !set_id && std::env::var_os("MAIL_VERBOSE").is_some() {
        diag.verbose = 1;
    }
    let options = match getopt::parse(args.get(1..).unwrap_or_default()) {
        Ok(options) => options,
        Err(err) => {
            diag.raw(&[diag.tag(), b": ", &err.message(), b"\n"].concat());
            return usage(&diag);
        }
    };
    diag.verbose += options.verbose;
    let [class, service, request] = match <[OsString; 3]>::try_from(options.operands) {
        Ok(operands) => operands,
        Err(_) => return usage(&diag),
    };
    let config_directory = config::config_directory(options.config_directory.as_deref());
    let load_options = LoadOptions {
        config_directory,
        process_name: diag.tag().to_vec(),
        untrusted: set_id,
    };
    let main_cf = {
        let mut reporter = CliReporter { diag: &mut diag };
        config::load(&load_options, &mut reporter)
    };
    let main_cf = match main_cf {
        Ok(main_cf) => main_cf,
        Err(err) => {
            if let Some(error) = err.preceding_error() {
                diag.line(Level::Error, error.as_bytes());
            }
            diag.line(Level::Fatal, &err.message());
            return Exit::Failure;
        }
    };
    describe_config(&diag, &main_cf);
    if let Err(err) = std::env::set_current_dir(&main_cf.queue_directory) {
        let text = [
            &b"chdir "[..],
            main_cf.queue_directory.as_os_str().as_bytes(),
            b": ",
            crate::sys::io_error_text(&err).as_bytes(),
        ]
        .concat();
        diag.line(Level::Fatal, &text);
        return Exit::Failure;
    }
    let kick = Kick {
        class: class.as_bytes(),
        service: service.as_bytes(),
        request: request.as_bytes(),
    };
    kick.run(
        &diag,
        Timeouts::postfix(
            main_cf.trigger_timeout,
            main_cf.application_event_drain_time,
        ),
    )
}

fn describe_config(diag: &Diagnostics, main_cf: &MainCf) {
    diag.debug(1, || format!(
            "config_directory {}, queue_directory {}, trigger_timeout {}s, application_event_drain_time {}s",
            main_cf.config_directory.display(),
            main_cf.queue_directory.display(),
            main_cf.trigger_timeout.as_secs(),
            main_cf.application_event_drain_time.as_secs(),
        ));
    for (name, value) in &main_cf.parameters {
        diag.debug(2, || {
            [format!("parameter {name} = ").as_bytes(), value].concat()
        });
    }
}

struct Kick<'a> {
    class: &'a [u8],
    service: &'a [u8],
    request: &'a [u8],
}

impl Kick<'_> {
    fn run(&self, diag: &Diagnostics, timeouts: Timeouts) -> Exit {
        let path = endpoint::locate(Path::new(""), self.class, self.service);
        let shown = path.as_os_str().as_bytes();
        diag.debug(2, || [&b"unix_trigger: service "[..], shown].concat());
        if diag.verbose > 0 {
            let useless = services::lookup(self.service)
                .map(|known| (known, known.effect(self.request)))
                .filter(|(_, effect)| effect.is_useless());
            if let Some((known, effect)) = useless {
                diag.debug(1, || {
                    [known.name.as_bytes(), b": ", effect.to_string().as_bytes()].concat()
                });
                if let Some(instead) = known.instead() {
                    diag.debug(1, || {
                        [known.name.as_bytes(), b": ", instead.as_bytes()].concat()
                    });
                }
            }
        }
        let runtime = match crate::runtime() {
            Ok(runtime) => runtime,
            Err(err) => {
                let text = format!(
                    "cannot start the I/O runtime: {}",
                    crate::sys::io_error_text(&err)
                );
                diag.line(Level::Fatal, text.as_bytes());
                return Exit::Failure;
            }
        };
        match runtime.block_on(endpoint::kick(&path, self.request, timeouts)) {
            Ok(report) => {
                self.describe(diag, shown, &report);
                Exit::Success
            }
            Err(err) => self.fail(diag, &err),
        }
    }

    fn describe(&self, diag: &Diagnostics, shown: &[u8], report: &Report) {
        let about = |text: String| [shown, b": ", text.as_bytes()].concat();
        diag.debug(1, || {
            about(format!(
                "{}, wrote {} bytes",
                report.kind.as_str(),
                report.bytes_written
            ))
        });
        if let Some(failure) = &report.write_failure {
            if failure.is_peer_closed_after_request() {
                diag.debug(1, || {
                    about("server closed after reading the request; kick delivered".into())
                });
            } else if diag.verbose > 0 {
                let transport: &[u8] = match report.kind {
                    endpoint::EndpointKind::Fifo => b"fifo_trigger: write ",
                    endpoint::EndpointKind::Socket => b"unix_trigger: write to ",
                };
                let why = crate::sys::io_error_text(&failure.error);
                diag.line(
                    Level::Warning,
                    &[transport, shown, b": ", why.as_bytes()].concat(),
                );
            }
        }
        match report.peer {
            PeerOutcome::NotWaited => {}
            PeerOutcome::Closed(after) => {
                diag.debug(1, || {
                    about(format!(
                        "server closed after {:.3} ms",
                        after.as_secs_f64() * 1e3
                    ))
                });
            }
            PeerOutcome::ReadTimeout(_) => {
                let text = [&b"unix_trigger_event: read timeout for service "[..], shown].concat();
                diag.line(Level::Warning, &text);
            }
            PeerOutcome::DrainExpired(after) => {
                diag.debug(1, || {
                    about(format!(
                        "server still open after {:.3} s; leaving",
                        after.as_secs_f64()
                    ))
                });
            }
        }
    }

    fn fail(&self, diag: &Diagnostics, err: &EndpointError) -> Exit {
        match err.loudness() {
            Loudness::Fatal => {
                diag.line(Level::Fatal, &err.message());
                return Exit::Failure;
            }
            Loudness::Warning => diag.line(Level::Warning, &err.message()),
            Loudness::VerboseWarning if diag.verbose > 0 => {
                diag.line(Level::Warning, &err.message());
            }
            Loudness::VerboseInfo if diag.verbose > 0 => {
                diag.line(Level::Info, &err.message());
            }
            _ => {}
        }
        let text = [
            &b"Cannot contact class "[..],
            self.class,
            b" service ",
            self.service,
            b" - perhaps the mail system is down",
        ]
        .concat();
        diag.line(Level::Warning, &text);
        Exit::Failure
    }
}

#[cfg(test)]
mod tests {
    use super::tag_of;

    #[test]
    fn tag_is_the_last_path_component_unless_empty() {
        assert_eq!(tag_of(b"/usr/sbin/postkick"), b"postkick");
        assert_eq!(tag_of(b"postkick"), b"postkick");
        assert_eq!(tag_of(b"/some/path/"), b"/some/path/");
        assert_eq!(tag_of(b""), b"");
    }
}
