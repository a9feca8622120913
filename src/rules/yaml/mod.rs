//! The rules file's YAML, read once into nodes that carry their positions.
//!
//! One pass of yaml-rust2's event parser builds the tree the validator
//! walks: every node knows its `LINE:COLUMN`, every mapping entry its key's
//! too, so a mistake is reported where it is written without a second
//! parse. The text is trusted no further than its syntax, and the costs
//! are bounded before they are paid: nesting deeper than [`MAX_DEPTH`]
//! stops the read at the container that goes too deep (the parser is
//! pulled one event at a time, so the rest of the text is never scanned),
//! and anchors and aliases may copy at most [`MAX_ALIASED`] values in all
//! (the values written out are bounded by the file's size).
//! A key written twice is recorded at its second place and the first
//! entry kept. Plain scalars are resolved by YAML 1.2's core schema
//! (`true`, `null`, `30`, `1.5`; `yes` stays a string).

use std::collections::{HashMap, HashSet};

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Lists and mappings nested deeper than this are refused: a rules file
/// needs five levels.
pub(super) const MAX_DEPTH: usize = 64;
/// Anchors (kept as copies) and aliases (repeating them) may copy at most
/// this many values in all: enough to share a few blocks, while a
/// "billion laughs", or an anchor on every level of a deep nest, stops at
/// a few megabytes.
pub(super) const MAX_ALIASED: usize = 1 << 16;

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

/// A value with where it is written; a mapping's position is its first
/// key's, where the reader's eye lands.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) value: Value,
    pub(super) position: Position,
}

/// A YAML value.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Null,
    Bool(bool),
    /// An integer or a float, as written.
    Number(String),
    String(String),
    Sequence(Vec<Node>),
    /// Entries in file order, each key a node of its own.
    Mapping(Vec<(Node, Node)>),
    /// A value under a tag that is not one of the core schema's.
    Tagged,
}

impl Node {
    /// The text of a string.
    pub(super) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A non-negative integer that fits in 64 bits.
    pub(super) fn as_u64(&self) -> Option<u64> {
        let Value::Number(text) = &self.value else {
            return None;
        };
        let digits = text.strip_prefix('+').unwrap_or(text);
        if let Some(hex) = digits.strip_prefix("0x") {
            u64::from_str_radix(hex, 16).ok()
        } else if let Some(octal) = digits.strip_prefix("0o") {
            u64::from_str_radix(octal, 8).ok()
        } else {
            digits.parse().ok()
        }
    }

    /// The value of `key` in a mapping.
    pub(super) fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Mapping(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// What kind of value this is, as a message says it.
    pub(super) fn describe(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Sequence(_) => "a list",
            Value::Mapping(_) => "a mapping",
            Value::Tagged => "a tagged value",
        }
    }
}

/// A parsed rules file.
#[derive(Debug)]
pub(super) struct Document {
    /// `None` for a file with nothing but comments.
    pub(super) root: Option<Node>,
    /// Keys written twice in one mapping, at their second place.
    pub(super) duplicates: Vec<(String, Position)>,
}

/// Why the text is not a YAML document we read, and where.
#[derive(Debug)]
pub(super) struct SyntaxError {
    pub(super) position: Position,
    pub(super) message: String,
}

impl SyntaxError {
    fn at(marker: Marker, message: impl Into<String>) -> Self {
        Self {
            position: Position::from_marker(marker),
            message: message.into(),
        }
    }
}

/// Parses `text` into one document.
pub(super) fn parse(text: &str) -> Result<Document, SyntaxError> {
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::default();
    let mut documents = 0;
    loop {
        let (event, marker) = parser.next_token().map_err(|e| {
            // The scanner looks ahead, and meets its own limit on flow
            // nesting (255) before this reader sees level 65.
            let message = match e.info() {
                "recursion limit exceeded" => too_deep(),
                other => other.to_owned(),
            };
            SyntaxError::at(*e.marker(), message)
        })?;
        match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(SyntaxError::at(
                        marker,
                        "a second document starts here: a rules file is one YAML document",
                    ));
                }
            }
            other => builder.event(other, marker)?,
        }
    }
    Ok(Document {
        root: builder.root,
        duplicates: builder.duplicates,
    })
}

enum Frame {
    Sequence {
        node: Node,
        anchor: usize,
        items: Vec<Node>,
    },
    Mapping {
        node: Node,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        seen: HashSet<String>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    duplicates: Vec<(String, Position)>,
    /// Anchored values with their sizes in values.
    anchors: HashMap<usize, (Node, usize)>,
    /// Values copied by anchors and aliases so far.
    copied: usize,
}

impl Builder {
    fn event(&mut self, event: Event, marker: Marker) -> Result<(), SyntaxError> {
        let position = Position::from_marker(marker);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let node = Node {
                    value: scalar(text, style, tag.as_ref()),
                    position,
                };
                self.remember(anchor, &node, marker)?;
                self.finish(node);
            }
            Event::Alias(anchor) => {
                let Some((node, size)) = self.anchors.get(&anchor) else {
                    return Err(SyntaxError::at(marker, "an alias to an unknown anchor"));
                };
                let (node, size) = (node.clone(), *size);
                self.copy(size, marker)?;
                self.finish(node);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(SyntaxError::at(marker, too_deep()));
                }
                let node = Node {
                    value: Value::Null,
                    position,
                };
                self.stack.push(match event {
                    Event::SequenceStart(..) => Frame::Sequence {
                        node,
                        anchor,
                        items: Vec::new(),
                    },
                    _ => Frame::Mapping {
                        node,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        seen: HashSet::new(),
                    },
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Sequence {
                        mut node,
                        anchor,
                        items,
                    }) => {
                        node.value = Value::Sequence(items);
                        (node, anchor)
                    }
                    Some(Frame::Mapping {
                        mut node,
                        anchor,
                        entries,
                        ..
                    }) => {
                        if let Some((key, _)) = entries.first() {
                            node.position = key.position;
                        }
                        node.value = Value::Mapping(entries);
                        (node, anchor)
                    }
                    None => return Ok(()),
                };
                self.remember(anchor, &node, marker)?;
                self.finish(node);
            }
            _ => {}
        }
        Ok(())
    }

    /// Counts `values` more copied, within [`MAX_ALIASED`].
    fn copy(&mut self, values: usize, marker: Marker) -> Result<(), SyntaxError> {
        self.copied = self.copied.saturating_add(values);
        if self.copied > MAX_ALIASED {
            return Err(SyntaxError::at(
                marker,
                format!("anchors and aliases copy more than {MAX_ALIASED} values: write them out, or use fewer"),
            ));
        }
        Ok(())
    }

    /// Keeps a copy of an anchored node for its aliases.
    fn remember(&mut self, anchor: usize, node: &Node, marker: Marker) -> Result<(), SyntaxError> {
        if anchor == 0 {
            return Ok(());
        }
        let size = size_of(node);
        self.copy(size, marker)?;
        self.anchors.insert(anchor, (node.clone(), size));
        Ok(())
    }

    /// A value is complete: it joins its container, or is the document.
    fn finish(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping {
                entries, key, seen, ..
            }) => match key.take() {
                None => *key = Some(node),
                Some(key) => {
                    let text = match &key.value {
                        Value::String(s) | Value::Number(s) => Some(s.clone()),
                        Value::Bool(b) => Some(b.to_string()),
                        Value::Null => Some(String::new()),
                        _ => None,
                    };
                    match text {
                        Some(text) if !seen.insert(text.clone()) => {
                            self.duplicates.push((text, key.position));
                        }
                        _ => entries.push((key, node)),
                    }
                }
            },
        }
    }
}

/// How many values a node holds, itself included.
fn size_of(node: &Node) -> usize {
    1 + match &node.value {
        Value::Sequence(items) => items.iter().map(size_of).sum(),
        Value::Mapping(entries) => entries.iter().map(|(k, v)| size_of(k) + size_of(v)).sum(),
        _ => 0,
    }
}

/// A scalar's value: quoted text is a string; plain text is resolved by
/// the core schema; a core tag says how to read it.
fn scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    match tag {
        Some(tag) if tag.handle == "tag:yaml.org,2002:" => match tag.suffix.as_str() {
            "str" => Value::String(text),
            "null" if is_null(&text) => Value::Null,
            "bool" => bool_of(&text).map_or(Value::Tagged, Value::Bool),
            "int" if is_integer(&text) => Value::Number(text),
            "float" if is_integer(&text) || is_float(&text) => Value::Number(text),
            _ => Value::Tagged,
        },
        Some(_) => Value::Tagged,
        None if style != TScalarStyle::Plain => Value::String(text),
        None if is_null(&text) => Value::Null,
        None => match bool_of(&text) {
            Some(b) => Value::Bool(b),
            None if is_integer(&text) || is_float(&text) => Value::Number(text),
            None => Value::String(text),
        },
    }
}

fn too_deep() -> String {
    format!("lists and mappings nested more than {MAX_DEPTH} deep: a rules file needs at most five levels")
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn bool_of(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn all_digits(text: &str, radix: u32) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_digit(radix))
}

/// `[-+]?[0-9]+`, `0o[0-7]+` or `0x[0-9a-fA-F]+`.
fn is_integer(text: &str) -> bool {
    if let Some(hex) = text.strip_prefix("0x") {
        return all_digits(hex, 16);
    }
    if let Some(octal) = text.strip_prefix("0o") {
        return all_digits(octal, 8);
    }
    all_digits(text.strip_prefix(['-', '+']).unwrap_or(text), 10)
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, infinities, NaN.
fn is_float(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", fraction)) => all_digits(fraction, 10),
        Some((whole, fraction)) => {
            all_digits(whole, 10) && (fraction.is_empty() || all_digits(fraction, 10))
        }
        None => all_digits(mantissa, 10),
    };
    let exponent_ok =
        exponent.is_none_or(|e| all_digits(e.strip_prefix(['-', '+']).unwrap_or(e), 10));
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests;
