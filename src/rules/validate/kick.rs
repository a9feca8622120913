//! The `kick:` of a rule: three words or a mapping, read into a
//! [`Target`] whose class and service each name one file below the queue
//! directory and whose request a trigger server reads whole.

use std::collections::HashMap;

use serde_yaml::Value;

use super::{child, Validator, KICK_KEYS};
use crate::rules::error::{Expected, RuleErrorKind};
use crate::rules::positions::Step;
use crate::rules::{Target, MAX_REQUEST_BYTES};

impl Validator {
    /// A class or service: one file name below the queue directory.
    fn name_part(&mut self, text: &str, path: &[Step], what: &'static str) -> bool {
        let why = if text.is_empty() {
            Some("must not be empty")
        } else if text.contains('/') {
            Some("must not contain \"/\"")
        } else if text == "." || text == ".." {
            Some("must not be \".\" or \"..\"")
        } else if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            Some("must not contain spaces or control characters")
        } else {
            None
        };
        if let Some(why) = why {
            self.value_error(
                path,
                RuleErrorKind::BadNamePart {
                    what,
                    text: text.to_owned(),
                    why,
                },
            );
        }
        why.is_none()
    }

    pub(super) fn kick(&mut self, value: &Value, path: &[Step]) -> Option<Target> {
        let (class, service, request, paths) = match value {
            Value::String(text) => {
                let words: Vec<&str> = text.split_whitespace().collect();
                let &[class, service, request] = words.as_slice() else {
                    self.value_error(path, RuleErrorKind::KickWords { text: text.clone() });
                    return None;
                };
                let p = path.to_vec();
                (
                    class.to_owned(),
                    service.to_owned(),
                    request.to_owned(),
                    [p.clone(), p.clone(), p],
                )
            }
            Value::Mapping(_) => {
                let entries = self.mapping(value, path, "kick", KICK_KEYS)?;
                let mut found: HashMap<String, String> = HashMap::new();
                for (key, item) in entries {
                    let at = child(path, &key);
                    if let Some(s) = self.string(item, &at, &format!("kick {key}")) {
                        found.insert(key, s);
                    }
                }
                let mut take = |key: &str| found.remove(key);
                let (Some(class), Some(service), Some(request)) =
                    (take("class"), take("service"), take("request"))
                else {
                    self.value_error(path, RuleErrorKind::KickIncomplete);
                    return None;
                };
                (
                    class,
                    service,
                    request,
                    [
                        child(path, "class"),
                        child(path, "service"),
                        child(path, "request"),
                    ],
                )
            }
            other => {
                self.wrong_type(path, "kick", Expected::Kick, other);
                return None;
            }
        };
        let class_ok = self.name_part(&class, &paths[0], "class");
        let service_ok = self.name_part(&service, &paths[1], "service");
        let request_ok = request.len() <= MAX_REQUEST_BYTES;
        if !request_ok {
            self.value_error(
                &paths[2],
                RuleErrorKind::RequestTooLong {
                    bytes: request.len(),
                },
            );
        }
        (class_ok && service_ok && request_ok).then_some(Target {
            class,
            service,
            request,
        })
    }
}
