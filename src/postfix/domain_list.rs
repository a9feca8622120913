//! Whether a Postfix domain list such as `fast_flush_domains` covers a
//! site, matched the way Postfix's `domain_list_match` matches it.
//!
//! Entries are separated by commas and white space; `!` negates one; the
//! first entry that matches decides; a name matches itself and, when the
//! parameter is listed in `parent_domain_matches_subdomains`, its
//! subdomains (otherwise only a `.name` entry matches subdomains); a
//! `/file` entry is read in place (its lines, `#` comments skipped). A
//! `type:table` entry (or a `{...}` group) is a lookup this crate cannot
//! make: the answer is then [`Coverage::Unknown`], never a guess. It reads
//! only the files the list names, never a table.

use std::path::Path;

use super::config::{logical_lines, split_braced};

/// A file a list names is read if it is no larger than this (else the
/// answer is unknown).
const MAX_FILE_BYTES: u64 = 1 << 20;
/// `/file` entries nested deeper than this are not followed.
const MAX_DEPTH: usize = 8;

/// What a list says about a site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Coverage {
    /// This entry matched.
    Covered(String),
    /// No entry matched, or a negated one did (given, if any).
    NotCovered(Option<String>),
    /// A lookup table comes first that only Postfix can consult.
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Name(String),
    Table(String),
    /// A `/file` that could not be read: Postfix fails lookups on it.
    Unreadable(String),
}

/// A parsed list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainList {
    /// Entries with their sign (false: negated), in order.
    entries: Vec<(bool, Entry)>,
    parent_style: bool,
}

impl DomainList {
    /// The list `value` of the parameter `parameter`, given the value of
    /// `parent_domain_matches_subdomains`.
    pub fn parse(parameter: &str, value: &str, parent_domain_matches_subdomains: &str) -> Self {
        let parent_style = words(parent_domain_matches_subdomains)
            .iter()
            .any(|w| w == parameter);
        let mut entries = Vec::new();
        add(&mut entries, value, true, 0);
        Self {
            entries,
            parent_style,
        }
    }

    /// True when the list has no entry at all (the service is off).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `site` is covered.
    pub fn covers(&self, site: &str) -> Coverage {
        let site = site.to_ascii_lowercase();
        for (positive, entry) in &self.entries {
            let shown = |text: &str| format!("{}{text}", if *positive { "" } else { "!" });
            match entry {
                Entry::Table(table) => return Coverage::Unknown(table.clone()),
                Entry::Unreadable(file) => return Coverage::Unknown(file.clone()),
                Entry::Name(pattern) if self.matches(&site, pattern) => {
                    return if *positive {
                        Coverage::Covered(shown(pattern))
                    } else {
                        Coverage::NotCovered(Some(shown(pattern)))
                    };
                }
                Entry::Name(_) => {}
            }
        }
        Coverage::NotCovered(None)
    }

    fn matches(&self, site: &str, pattern: &str) -> bool {
        if site == pattern {
            return true;
        }
        if self.parent_style {
            site.len() > pattern.len() + 1
                && site.ends_with(pattern)
                && site.as_bytes()[site.len() - pattern.len() - 1] == b'.'
        } else {
            pattern.starts_with('.') && site.len() > pattern.len() && site.ends_with(pattern)
        }
    }
}

/// The list's words, split as Postfix splits its lists.
fn words(value: &str) -> Vec<String> {
    split_braced(value.as_bytes())
        .into_iter()
        .map(|word| String::from_utf8_lossy(word).into_owned())
        .collect()
}

fn add(entries: &mut Vec<(bool, Entry)>, value: &str, positive: bool, depth: usize) {
    for word in &words(value) {
        let bangs = word.len() - word.trim_start_matches('!').len();
        let item = &word[bangs..];
        let sign = positive ^ (bangs % 2 == 1);
        if item.is_empty() {
            continue;
        }
        if item.starts_with('/') {
            match read_list_file(Path::new(item)) {
                Some(bytes) if depth < MAX_DEPTH => {
                    for line in logical_lines(item, &bytes, &mut |_| {}) {
                        add(
                            entries,
                            &String::from_utf8_lossy(&line.text),
                            sign,
                            depth + 1,
                        );
                    }
                }
                _ => entries.push((sign, Entry::Unreadable(item.to_owned()))),
            }
        } else if is_table(item) || item.contains(['{', '}']) {
            // A table, or a braced group this reader does not take apart.
            entries.push((sign, Entry::Table(item.to_owned())));
        } else {
            entries.push((sign, Entry::Name(item.to_ascii_lowercase())));
        }
    }
}

/// `type:table`: a colon before any slash, as Postfix tells them apart.
fn is_table(item: &str) -> bool {
    item.find([':', '/'])
        .is_some_and(|at| item.as_bytes()[at] == b':')
}

/// The list file's bytes: a regular file within the bound, opened without
/// blocking; anything else is unreadable, as a FIFO or a huge file must
/// not hang or fill `check`.
fn read_list_file(path: &Path) -> Option<Vec<u8>> {
    crate::files::read_bounded(path, MAX_FILE_BYTES, crate::files::Links::Follow).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "debug_peer_list,fast_flush_domains,mynetworks";

    fn covers(value: &str, parent: &str, site: &str) -> Coverage {
        DomainList::parse("fast_flush_domains", value, parent).covers(site)
    }

    #[test]
    fn names_match_themselves_and_parents_match_subdomains_when_so_configured() {
        assert_eq!(
            covers("partner.example", PARENT, "Partner.Example"),
            Coverage::Covered("partner.example".into())
        );
        assert_eq!(
            covers("partner.example", PARENT, "mx.partner.example"),
            Coverage::Covered("partner.example".into())
        );
        assert_eq!(
            covers("partner.example", "", "mx.partner.example"),
            Coverage::NotCovered(None)
        );
        assert_eq!(
            covers(".partner.example", "", "mx.partner.example"),
            Coverage::Covered(".partner.example".into())
        );
        assert_eq!(
            covers("partner.example", PARENT, "otherpartner.example"),
            Coverage::NotCovered(None)
        );
    }

    #[test]
    fn the_first_match_decides_and_negation_excludes() {
        assert_eq!(
            covers(
                "!mx.partner.example, partner.example",
                PARENT,
                "mx.partner.example"
            ),
            Coverage::NotCovered(Some("!mx.partner.example".into()))
        );
        assert_eq!(
            covers("!!partner.example", PARENT, "partner.example"),
            Coverage::Covered("partner.example".into())
        );
    }

    #[test]
    fn tables_are_not_guessed_and_empty_lists_cover_nothing() {
        assert_eq!(
            covers("hash:/etc/postfix/relay", PARENT, "partner.example"),
            Coverage::Unknown("hash:/etc/postfix/relay".into())
        );
        assert_eq!(
            covers("a.example hash:/etc/x", PARENT, "a.example"),
            Coverage::Covered("a.example".into())
        );
        assert!(DomainList::parse("fast_flush_domains", " , ", PARENT).is_empty());
        assert!(matches!(
            covers("inline:{ a.example, b.example }", PARENT, "b.example"),
            Coverage::Unknown(_)
        ));
    }

    #[test]
    fn files_are_read_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("domains");
        std::fs::write(
            &file,
            "# partners\none.example\n  two.example\n\nthree.example\n",
        )
        .expect("write");
        let list = format!("{}", file.display());
        for site in ["one.example", "two.example", "three.example"] {
            assert!(matches!(covers(&list, PARENT, site), Coverage::Covered(_)));
        }
        assert_eq!(
            covers(&format!("!{list}, example"), PARENT, "two.example"),
            Coverage::NotCovered(Some("!two.example".into()))
        );
        assert_eq!(
            covers("/nonexistent/file", PARENT, "x.example"),
            Coverage::Unknown("/nonexistent/file".into())
        );
    }

    #[test]
    fn a_fifo_or_device_in_the_list_is_unknown_not_a_hang() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        for file in [fifo.display().to_string(), "/dev/zero".to_owned()] {
            assert_eq!(
                covers(&file, PARENT, "x.example"),
                Coverage::Unknown(file.clone())
            );
        }
    }
}
