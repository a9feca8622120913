//! Warnings about valid rules that will not do what their author hopes.
//!
//! Three sources: the `services` catalog (a request the service will not
//! understand, a service in an unusual class), the queue directory (an
//! endpoint that does not exist or is neither socket nor FIFO, a socket
//! path too long for `sockaddr_un`), and watched directories that do not
//! exist. It only looks (`stat`); it never opens or kicks an endpoint.

use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use super::{Diagnostic, RuleSet, Trigger};
use crate::services;

/// Endpoint paths of this many bytes or more do not fit `sockaddr_un`.
const SUN_PATH_LEN: usize = 108;

/// Lints `rules`; `queue_directory` is `None` when `main.cf` could not be
/// read, and then the queue is not looked at.
pub fn lint(rules: &RuleSet, queue_directory: Option<&Path>) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    for rule in &rules.rules {
        let mut warn = |message: String| {
            warnings.push(Diagnostic {
                position: rule.position,
                message: format!("rule \"{}\": {message}", rule.name),
            });
        };
        let target = &rule.target;
        if let Some(service) = services::lookup(target.service.as_bytes()) {
            let effect = service.effect(target.request.as_bytes());
            if effect.is_useless() {
                warn(format!(
                    "kick {} {} {:?}: {effect}",
                    target.class, target.service, target.request
                ));
            }
            if service.class.as_str() != target.class {
                warn(format!(
                    "{} usually lives in {}/, not {}/",
                    service.name,
                    service.class.as_str(),
                    target.class
                ));
            }
        }
        if let Some(queue) = queue_directory {
            let endpoint = queue.join(&target.class).join(&target.service);
            match std::fs::metadata(&endpoint) {
                Err(e) => warn(format!(
                    "endpoint {} cannot be looked up ({}): is Postfix running, and is {} in master.cf?",
                    endpoint.display(),
                    crate::sys::io_error_text(&e),
                    target.service
                )),
                Ok(m) if !(m.file_type().is_socket() || m.file_type().is_fifo()) => warn(format!(
                    "endpoint {} is not a socket or a fifo",
                    endpoint.display()
                )),
                Ok(m) if m.file_type().is_socket()
                    && endpoint.as_os_str().len() >= SUN_PATH_LEN =>
                {
                    warn(format!(
                        "endpoint {} is {} bytes long; UNIX-domain socket paths must be shorter than {SUN_PATH_LEN}",
                        endpoint.display(),
                        endpoint.as_os_str().len()
                    ));
                }
                Ok(_) => {}
            }
        }
        if let Trigger::Watch { directory, .. } = &rule.trigger {
            let resolved = match queue_directory {
                Some(queue) => queue.join(directory),
                None if directory.is_absolute() => directory.clone(),
                None => continue,
            };
            if !resolved.is_dir() {
                warn(format!(
                    "watched directory {} does not exist (yet): it will be watched once it appears",
                    resolved.display()
                ));
            }
        }
    }
    warnings
}
