//! The `kick:` of a rule: three words or a mapping, read into a
//! [`Target`] whose class and service each name one file below the queue
//! directory and whose request a trigger server reads whole.

use std::collections::HashMap;

use super::{Validator, KICK_KEYS};
use crate::rules::error::{Expected, RuleErrorKind};
use crate::rules::yaml::{Node, Value};
use crate::rules::{Target, MAX_REQUEST_BYTES};

impl Validator {
    /// A class or service: one file name below the queue directory.
    fn name_part(&mut self, text: &str, node: &Node, what: &'static str) -> bool {
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
                node,
                RuleErrorKind::BadNamePart {
                    what,
                    text: text.to_owned(),
                    why,
                },
            );
        }
        why.is_none()
    }

    pub(super) fn kick(&mut self, node: &Node) -> Option<Target> {
        let (class, service, request, nodes) = match &node.value {
            Value::String(text) => {
                let words: Vec<&str> = text.split_whitespace().collect();
                let &[class, service, request] = words.as_slice() else {
                    self.value_error(node, RuleErrorKind::KickWords { text: text.clone() });
                    return None;
                };
                (
                    class.to_owned(),
                    service.to_owned(),
                    request.to_owned(),
                    [node, node, node],
                )
            }
            Value::Mapping(_) => {
                let entries = self.mapping(node, "kick", KICK_KEYS)?;
                let mut found: HashMap<&str, (String, &Node)> = HashMap::new();
                for entry in entries {
                    let what = format!("kick {}", entry.key);
                    if let Some(s) = self.string(entry.value, &what) {
                        found.insert(entry.key, (s, entry.value));
                    }
                }
                let mut take = |key: &str| found.remove(key);
                let (Some(class), Some(service), Some(request)) =
                    (take("class"), take("service"), take("request"))
                else {
                    self.value_error(node, RuleErrorKind::KickIncomplete);
                    return None;
                };
                (
                    class.0,
                    service.0,
                    request.0,
                    [class.1, service.1, request.1],
                )
            }
            _ => {
                self.wrong_type(node, "kick", Expected::Kick);
                return None;
            }
        };
        let class_ok = self.name_part(&class, nodes[0], "class");
        let service_ok = self.name_part(&service, nodes[1], "service");
        let request_ok = request.len() <= MAX_REQUEST_BYTES;
        if !request_ok {
            self.value_error(
                nodes[2],
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
