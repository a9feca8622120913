//! The `flush:` of a rule: `all`, `refresh`, `purge`, `{site: DOMAIN}` or
//! `{queue_id: ID}`, read into a [`Flush`]. A site must be a name the
//! flush service can keep a log for; a queue ID must be one the service
//! would not answer `bad` to. Whether `fast_flush_domains` covers a site
//! depends on `main.cf`, so `check` looks at that, not this.

use super::Validator;
use crate::rules::error::{Expected, RuleErrorKind};
use crate::rules::yaml::{Node, Value};
use crate::rules::Flush;

/// The keys of `flush:` as a mapping.
const FLUSH_KEYS: &[&str] = &["site", "queue_id"];
/// Postfix's longest host name, and longest queue file name.
const MAX_NAME: usize = 255;

/// A destination domain as the flush service files it: letters, digits,
/// dots, hyphens and underscores (an address literal's brackets and
/// colons too).
fn site_ok(site: &str) -> bool {
    !site.is_empty()
        && site.len() <= MAX_NAME
        && site
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_[]:".contains(c))
}

/// Postfix's `mail_queue_id_ok`.
fn queue_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_NAME
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Validator {
    pub(super) fn flush(&mut self, node: &Node) -> Option<Flush> {
        match &node.value {
            Value::String(word) => match word.as_str() {
                "all" => Some(Flush::All),
                "refresh" => Some(Flush::Refresh),
                "purge" => Some(Flush::Purge),
                _ => {
                    self.value_error(node, RuleErrorKind::FlushWord { text: word.clone() });
                    None
                }
            },
            Value::Mapping(_) => {
                let entries = self.mapping(node, "flush", FLUSH_KEYS)?;
                let [entry] = entries.as_slice() else {
                    self.value_error(node, RuleErrorKind::FlushMapping);
                    return None;
                };
                let text = self.string(entry.value, &format!("flush {}", entry.key))?;
                if entry.key == "site" {
                    if site_ok(&text) {
                        return Some(Flush::Site(text.to_ascii_lowercase()));
                    }
                    self.value_error(entry.value, RuleErrorKind::FlushSite { text });
                } else {
                    if queue_id_ok(&text) {
                        return Some(Flush::QueueId(text));
                    }
                    self.value_error(entry.value, RuleErrorKind::FlushQueueId { text });
                }
                None
            }
            _ => {
                self.wrong_type(node, "flush", Expected::Flush);
                None
            }
        }
    }
}
