//! Where each node of a YAML document sits: line and column by path.
//!
//! `serde_yaml`'s `Value` keeps no positions, so this module reads the same
//! text once more with an event parser and records, for every mapping key
//! and every value, its line and column under its path from the root
//! (`rules[2].cron`). Validation looks a bad node up by its path to say
//! `FILE:LINE:COLUMN`. It interprets nothing and trusts nothing: a text the
//! event parser rejects gives an empty index, and lookups fall back to the
//! nearest ancestor that has a position.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// One step of a path from the document root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Step {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

/// A path from the document root.
pub(super) type NodePath = Vec<Step>;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl Position {
    fn from_marker(marker: Marker) -> Self {
        Self {
            line: marker.line(),
            column: marker.col() + 1,
        }
    }
}

/// The positions of a document's keys and values.
#[derive(Debug, Default)]
pub(super) struct PositionIndex {
    keys: HashMap<NodePath, Position>,
    values: HashMap<NodePath, Position>,
    /// Keys written twice in one mapping, at their second place.
    duplicates: Vec<(String, Position)>,
}

enum Frame {
    Mapping {
        path: NodePath,
        key: Option<String>,
        awaiting_key: bool,
    },
    Sequence {
        path: NodePath,
        next: usize,
    },
}

#[derive(Default)]
struct Builder {
    index: PositionIndex,
    stack: Vec<Frame>,
    /// Nesting depth inside a container used as a mapping key, whose
    /// contents have no path.
    ignored_depth: usize,
    /// A mapping value whose position is its first key's.
    pending_mapping: Option<NodePath>,
}

impl Builder {
    /// The path a new node gets, or `None` when it is a mapping key.
    fn place(&mut self, marker: Marker, key_text: Option<&str>) -> Option<NodePath> {
        let position = Position::from_marker(marker);
        if let Some(path) = self.pending_mapping.take() {
            self.index.values.entry(path).or_insert(position);
        }
        match self.stack.last_mut() {
            None => Some(Vec::new()),
            Some(Frame::Mapping {
                path,
                key,
                awaiting_key,
            }) => {
                if *awaiting_key {
                    *awaiting_key = false;
                    *key = key_text.map(str::to_owned);
                    if let Some(text) = key_text {
                        let mut key_path = path.clone();
                        key_path.push(Step::Key(text.to_owned()));
                        match self.index.keys.entry(key_path) {
                            Entry::Occupied(_) => {
                                self.index.duplicates.push((text.to_owned(), position));
                            }
                            Entry::Vacant(place) => {
                                place.insert(position);
                            }
                        }
                    }
                    None
                } else {
                    let mut value_path = path.clone();
                    value_path.push(Step::Key(key.clone().unwrap_or_default()));
                    self.index.values.insert(value_path.clone(), position);
                    Some(value_path)
                }
            }
            Some(Frame::Sequence { path, next }) => {
                let mut value_path = path.clone();
                value_path.push(Step::Index(*next));
                self.index.values.insert(value_path.clone(), position);
                Some(value_path)
            }
        }
    }

    /// A value is complete: its container moves on to the next key or item.
    fn finish_value(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Mapping { awaiting_key, .. }) => *awaiting_key = true,
            Some(Frame::Sequence { next, .. }) => *next += 1,
            None => {}
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, marker: Marker) {
        if self.ignored_depth > 0 {
            match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => self.ignored_depth += 1,
                Event::MappingEnd | Event::SequenceEnd => self.ignored_depth -= 1,
                _ => {}
            }
            return;
        }
        match event {
            Event::Scalar(..) | Event::Alias(_) => {
                let text = match &event {
                    Event::Scalar(text, ..) => Some(text.as_str()),
                    _ => None,
                };
                if self.place(marker, text).is_some() {
                    self.finish_value();
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_mapping = matches!(event, Event::MappingStart(..));
                match self.place(marker, None) {
                    Some(path) if is_mapping => {
                        self.index.values.remove(&path);
                        self.pending_mapping = Some(path.clone());
                        self.stack.push(Frame::Mapping {
                            path,
                            key: None,
                            awaiting_key: true,
                        });
                    }
                    Some(path) => self.stack.push(Frame::Sequence { path, next: 0 }),
                    None => self.ignored_depth = 1,
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.pending_mapping = None;
                self.stack.pop();
                self.finish_value();
            }
            _ => {}
        }
    }
}

impl PositionIndex {
    /// Indexes `text`; an unparsable text gives an empty index.
    pub(super) fn build(text: &str) -> Self {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut builder, false).is_err() {
            return Self::default();
        }
        builder.index
    }

    /// Keys written twice in one mapping, at their second place.
    pub(super) fn duplicates(&self) -> &[(String, Position)] {
        &self.duplicates
    }

    /// The position of the key that ends `path`, else of its value.
    pub(super) fn key(&self, path: &[Step]) -> Option<Position> {
        self.keys.get(path).copied().or_else(|| self.value(path))
    }

    /// The position of the value at `path`, else of its nearest ancestor.
    pub(super) fn value(&self, path: &[Step]) -> Option<Position> {
        (0..=path.len())
            .rev()
            .find_map(|len| {
                self.values
                    .get(&path[..len])
                    .or_else(|| self.keys.get(&path[..len]))
            })
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Step {
        Step::Key(name.to_owned())
    }

    #[test]
    fn keys_and_values_in_block_and_flow_style() {
        let text = "a: 1\nrules:\n  - name: x\n    kick: {class: p, service: q}\n  - name: y\n";
        let index = PositionIndex::build(text);
        let at = |line, column| Some(Position { line, column });
        assert_eq!(index.key(&[key("a")]), at(1, 1));
        assert_eq!(index.value(&[key("a")]), at(1, 4));
        assert_eq!(index.value(&[key("rules"), Step::Index(0)]), at(3, 5));
        assert_eq!(
            index.key(&[key("rules"), Step::Index(0), key("name")]),
            at(3, 5)
        );
        assert_eq!(
            index.value(&[key("rules"), Step::Index(0), key("name")]),
            at(3, 11)
        );
        let service = [key("rules"), Step::Index(0), key("kick"), key("service")];
        assert_eq!(index.key(&service), at(4, 22));
        assert_eq!(
            index.value(&[key("rules"), Step::Index(1), key("name")]),
            at(5, 11)
        );
    }

    #[test]
    fn missing_paths_fall_back_to_the_nearest_ancestor() {
        let index = PositionIndex::build("rules:\n  - name: x\n");
        let path = [key("rules"), Step::Index(0), key("cron")];
        assert_eq!(index.value(&path), Some(Position { line: 2, column: 5 }));
    }

    #[test]
    fn complex_keys_do_not_derail_the_index() {
        let index = PositionIndex::build("? [a, b]\n: 1\nc: 2\n");
        assert_eq!(
            index.value(&[key("c")]),
            Some(Position { line: 3, column: 4 })
        );
    }
}
