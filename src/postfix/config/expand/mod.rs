//! `$name` expansion of `main.cf` values, with Postfix's syntax and quirks.
//!
//! It owns the macro language: `$$`, `$name`, `${name}`, `$(name)`,
//! `${name?text}`, `${name:text}`, `${name?{a}:{b}}` and the relational forms
//! `${{a} OP {b}?{t}:{f}}` (with `OP` one of `== != < <= >= >`, or those
//! followed by `level` to compare compatibility levels). Expansion is
//! recursive: a looked-up value is expanded again, and nesting deeper than
//! 100 is an error. Every syntax problem is reported as a warning worded as
//! Postfix words it and makes the whole expansion fail. Values come from a
//! caller-supplied lookup; this module must not know where they are stored.

use super::ConfigWarning;
use crate::postfix::config::compat;

/// Why an expansion failed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ExpandFailure {
    /// One or more syntax problems, already reported as warnings.
    Macro,
    /// A numeric comparison whose operand does not fit in a `long`.
    BadConversion(Vec<u8>),
}

const WHITESPACE: &[u8] = b" \t\r\n";
const MAX_NESTING: usize = 100;
const OPERATORS: &str = "\"==\" or \"!=\"\" or \"<\"\" or \"<=\"\" or \">=\"\" or \">\"";

/// Expands `value`, looking names up with `lookup` (raw, unexpanded values).
pub(super) fn expand(
    value: &[u8],
    lookup: &dyn Fn(&[u8]) -> Option<Vec<u8>>,
    warn: &mut dyn FnMut(ConfigWarning),
) -> Result<Vec<u8>, ExpandFailure> {
    let mut expander = Expander {
        lookup,
        warn,
        fatal: None,
    };
    let mut context = Context::default();
    let error = expander.parse(value, &mut context);
    if let Some(fatal) = expander.fatal {
        return Err(fatal);
    }
    if error {
        return Err(ExpandFailure::Macro);
    }
    Ok(context.result)
}

#[derive(Default)]
struct Context {
    result: Vec<u8>,
    level: usize,
    error: bool,
}

struct Expander<'a> {
    lookup: &'a dyn Fn(&[u8]) -> Option<Vec<u8>>,
    warn: &'a mut dyn FnMut(ConfigWarning),
    fatal: Option<ExpandFailure>,
}

enum Piece<'v> {
    Literal(&'v [u8]),
    Expression(&'v [u8]),
}

fn span(bytes: &[u8], set: &[u8]) -> usize {
    bytes.iter().take_while(|b| set.contains(b)).count()
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn at_most_20(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(20)]
}

/// If `rest` is optional white space then `{`, the index of the `{`.
fn left_curly(rest: &[u8]) -> Option<usize> {
    let skip = span(rest, WHITESPACE);
    (rest.get(skip) == Some(&b'{')).then_some(skip)
}

fn quote(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

impl Expander<'_> {
    fn warn(&mut self, context: &mut Context, text: Vec<u8>) {
        (self.warn)(ConfigWarning::Macro(text));
        context.error = true;
    }

    /// Postfix's syntax warning: `<what> at: "...<seen>>>><rest>"`, with
    /// at most 20 bytes of what follows the mistake.
    fn warn_at(&mut self, context: &mut Context, what: &[u8], seen: &[&[u8]], rest: &[u8]) {
        let text = quote(&[
            what,
            b" at: \"...",
            &seen.concat(),
            b">>>",
            at_most_20(rest),
            b"\"",
        ]);
        self.warn(context, text);
    }

    /// Postfix's `mac_parse`: splits `value` into literal text and macro
    /// references and hands each to `piece`. Returns the error status.
    fn parse(&mut self, value: &[u8], context: &mut Context) -> bool {
        let mut status = false;
        let mut literal = Vec::new();
        let mut at = 0;
        while at < value.len() {
            if value[at] != b'$' {
                literal.push(value[at]);
                at += 1;
                continue;
            }
            if value.get(at + 1) == Some(&b'$') {
                literal.push(b'$');
                at += 2;
                continue;
            }
            if !literal.is_empty() {
                status |= self.piece(Piece::Literal(&literal), context);
                literal.clear();
            }
            at += 1;
            let name: &[u8] = match value.get(at) {
                Some(&open @ (b'{' | b'(')) => {
                    let close = if open == b'{' { b'}' } else { b')' };
                    let mut level = 1;
                    let mut end = at + 1;
                    while level > 0 {
                        match value.get(end) {
                            None => break,
                            Some(&b) if b == open => level += 1,
                            Some(&b) if b == close => level -= 1,
                            Some(_) => {}
                        }
                        end += 1;
                    }
                    if level > 0 {
                        let text = quote(&[b"truncated macro reference: \"", value, b"\""]);
                        (self.warn)(ConfigWarning::Macro(text));
                        status = true;
                        break;
                    }
                    let name = &value[at + 1..end - 1];
                    at = end;
                    name
                }
                _ => {
                    let len = value[at..].iter().take_while(|&&b| is_name_byte(b)).count();
                    let name = &value[at..at + len];
                    at += len;
                    name
                }
            };
            if name.is_empty() {
                let text = quote(&[b"empty macro name: \"", value, b"\""]);
                (self.warn)(ConfigWarning::Macro(text));
                status = true;
                break;
            }
            status |= self.piece(Piece::Expression(name), context);
        }
        if !literal.is_empty() && !status {
            status |= self.piece(Piece::Literal(&literal), context);
        }
        status
    }

    /// Postfix's `mac_expand_callback`, including its habit of not undoing
    /// the nesting count on an error path.
    fn piece(&mut self, piece: Piece<'_>, context: &mut Context) -> bool {
        let level = context.level;
        context.level += 1;
        if level > MAX_NESTING {
            let text = match &piece {
                Piece::Literal(t) | Piece::Expression(t) => {
                    quote(&[b"unreasonable macro call nesting: \"", t, b"\""])
                }
            };
            self.warn(context, text);
        }
        if context.error || self.fatal.is_some() {
            return true;
        }
        match piece {
            Piece::Literal(text) => context.result.extend_from_slice(text),
            Piece::Expression(expression) => {
                if self.expression(expression, context).is_none() {
                    return true;
                }
            }
        }
        context.level -= 1;
        context.error
    }

    /// Evaluates one `${...}` body into `context`; `None` on a syntax error.
    fn expression(&mut self, body: &[u8], context: &mut Context) -> Option<()> {
        let mut rest: &[u8];
        let operator: Option<u8>;
        let found: Option<Vec<u8>>;
        if let Some(skip) = left_curly(body) {
            let (truth, after) = self.relational(&body[skip..], context)?;
            found = Some(truth);
            rest = after;
            match rest.first() {
                None => operator = None,
                Some(&op @ (b'?' | b':')) => {
                    operator = Some(op);
                    rest = &rest[1..];
                }
                Some(_) => {
                    self.warn_at(context, b"\"?\" or \":\" expected", &[b"}"], rest);
                    return None;
                }
            }
        } else {
            let start = span(body, WHITESPACE);
            let mut at = start;
            let name_end;
            loop {
                let blanks = span(&body[at..], WHITESPACE);
                match body.get(at + blanks) {
                    None => {
                        name_end = at;
                        operator = None;
                        rest = &[];
                        break;
                    }
                    Some(&op @ (b'?' | b':')) => {
                        name_end = at;
                        operator = Some(op);
                        rest = &body[at + blanks + 1..];
                        break;
                    }
                    Some(_) => {}
                }
                if !is_name_byte(body[at]) {
                    let text = quote(&[
                        b"attribute name syntax error at: \"...",
                        &body[..at],
                        b">>>",
                        at_most_20(&body[at..]),
                        b"\"",
                    ]);
                    self.warn(context, text);
                    return None;
                }
                at += 1;
            }
            found = (self.lookup)(&body[start..name_end]);
        }
        let non_empty = found.as_ref().is_some_and(|v| !v.is_empty());
        match operator {
            None => {
                if let Some(value) = found.filter(|v| !v.is_empty()) {
                    if self.parse(&value, context) {
                        return None;
                    }
                }
            }
            Some(op) => {
                if op == b'?' {
                    let if_true;
                    (if_true, rest) = self.operand(rest, context)?;
                    if non_empty && self.parse(&if_true, context) {
                        return None;
                    }
                    if rest.is_empty() {
                        return Some(());
                    }
                    if rest[0] != b':' {
                        self.warn_at(context, b"\":\" expected", &[&if_true, b"}"], rest);
                        return None;
                    }
                    rest = &rest[1..];
                }
                let if_false;
                (if_false, rest) = self.operand(rest, context)?;
                if !non_empty && self.parse(&if_false, context) {
                    return None;
                }
                if !rest.is_empty() {
                    self.warn_at(context, b"unexpected input", &[&if_false, b"}"], rest);
                    return None;
                }
            }
        }
        Some(())
    }

    /// A result operand: `{text}` (rest follows it) or all remaining text.
    fn operand<'b>(
        &mut self,
        rest: &'b [u8],
        context: &mut Context,
    ) -> Option<(Vec<u8>, &'b [u8])> {
        match left_curly(rest) {
            Some(skip) => {
                let (payload, after) = self.curly_payload(&rest[skip..], context)?;
                Some((payload.to_vec(), after))
            }
            None => Some((rest.to_vec(), &[])),
        }
    }

    /// The text between a `{` at `from[0]` and its matching `}`, and what
    /// follows that `}` after white space.
    fn curly_payload<'b>(
        &mut self,
        from: &'b [u8],
        context: &mut Context,
    ) -> Option<(&'b [u8], &'b [u8])> {
        let mut level = 1;
        for (i, &b) in from.iter().enumerate().skip(1) {
            match b {
                b'{' => level += 1,
                b'}' => {
                    level -= 1;
                    if level == 0 {
                        let after = &from[i + 1..];
                        return Some((&from[1..i], &after[span(after, WHITESPACE)..]));
                    }
                }
                _ => {}
            }
        }
        let text = quote(&[b"unbalanced {} in attribute expression: \"", from, b"\""]);
        self.warn(context, text);
        None
    }

    /// `{a} OP {b}` at `from`: its truth (`true` or empty) and what follows.
    fn relational<'b>(
        &mut self,
        from: &'b [u8],
        context: &mut Context,
    ) -> Option<(Vec<u8>, &'b [u8])> {
        let (left, rest) = self.curly_payload(from, context)?;
        let op_len = span(rest, b"<>!=?+-*/~&|%");
        let op = &rest[..op_len];
        if !matches!(op, b"==" | b"!=" | b"<" | b"<=" | b">=" | b">") {
            let expected = [OPERATORS.as_bytes(), b" expected"].concat();
            self.warn_at(context, &expected, &[left, b"}"], rest);
            return None;
        }
        let mut rest = &rest[op_len..];
        let suffix_len = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        let compare_levels = suffix_len > 0;
        if compare_levels && &rest[..suffix_len] != b"level" {
            let text = quote(&[
                b"bad operator suffix at: \"...",
                op,
                b">>>",
                &rest[..suffix_len],
                b"\"",
            ]);
            self.warn(context, text);
            return None;
        }
        rest = &rest[suffix_len..];
        let Some(skip) = left_curly(rest) else {
            self.warn_at(
                context,
                b"\"{expression}\" expected",
                &[b"{", left, b"} ", op],
                rest,
            );
            return None;
        };
        let (right, rest) = self.curly_payload(&rest[skip..], context)?;
        let left = self.sub_expand(left, context);
        let right = self.sub_expand(right, context);
        let (left, right) = (left?, right?);
        let ordering = if compare_levels {
            let mut bad = |this: &mut Self, text: &[u8]| {
                let msg = quote(&[b"malformed compatibility level syntax: \"", text, b"\""]);
                this.warn(context, msg);
            };
            let l = compat::parse(&left);
            if l.is_none() {
                bad(self, &left);
                return None;
            }
            let r = compat::parse(&right);
            if r.is_none() {
                bad(self, &right);
                return None;
            }
            l.cmp(&r)
        } else if left.iter().all(u8::is_ascii_digit) && right.iter().all(u8::is_ascii_digit) {
            let l = self.parse_long(&left)?;
            let r = self.parse_long(&right)?;
            l.cmp(&r)
        } else {
            left.cmp(&right)
        };
        use std::cmp::Ordering::*;
        let truth = match op {
            b"==" => ordering == Equal,
            b"!=" => ordering != Equal,
            b"<" => ordering == Less,
            b"<=" => ordering != Greater,
            b">=" => ordering != Less,
            _ => ordering == Greater,
        };
        let value = if truth { b"true".to_vec() } else { Vec::new() };
        Some((value, rest))
    }

    /// Expands a relational operand in a context of its own.
    fn sub_expand(&mut self, text: &[u8], context: &mut Context) -> Option<Vec<u8>> {
        let mut sub = Context::default();
        if self.parse(text, &mut sub) {
            context.error = true;
            return None;
        }
        Some(sub.result)
    }

    fn parse_long(&mut self, digits: &[u8]) -> Option<i64> {
        let parsed = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok());
        if parsed.is_none() {
            self.fatal = Some(ExpandFailure::BadConversion(digits.to_vec()));
        }
        parsed
    }
}

#[cfg(test)]
mod tests;
