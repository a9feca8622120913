//! Postfix's attribute lists as they travel on local sockets (`attr0`):
//! each attribute is its name, a NUL, its value and a NUL; a lone NUL (an
//! empty name) ends the list.
//!
//! The [`Decoder`] is fed whatever bytes arrive and hands back one item at
//! a time. It trusts nothing it is fed: a name or value longer than its
//! [`Limits`] is an error as soon as that many bytes have come without a
//! NUL, so what it holds is bounded by the limits plus the last chunk fed,
//! whatever the peer sends. It never reads or writes a socket itself.

use std::fmt;

/// The longest name and value the decoder accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in an attribute name (Postfix's are short words).
    pub name: usize,
    /// Bytes in an attribute value.
    pub value: usize,
}

impl Default for Limits {
    /// Names up to 100 bytes; values up to 64 KiB (a deferral reason is a
    /// line of the remote server's reply, well under that).
    fn default() -> Self {
        Self {
            name: 100,
            value: 64 << 10,
        }
    }
}

/// One decoded item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `name NUL value NUL`.
    Attribute {
        /// The name (never empty); bytes that are not UTF-8 are replaced.
        name: String,
        /// The value; bytes that are not UTF-8 are replaced.
        value: String,
    },
    /// The lone NUL that ends a list.
    End,
}

/// Input no Postfix server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A name ran past [`Limits::name`] bytes without its NUL.
    #[error("an attribute name is longer than {0} bytes")]
    NameTooLong(usize),
    /// A value ran past [`Limits::value`] bytes without its NUL.
    #[error("an attribute value is longer than {0} bytes")]
    ValueTooLong(usize),
}

/// Encodes one attribute list, its end included.
pub fn encode(list: &[(&str, &str)]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (name, value) in list {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0);
    }
    bytes.push(0);
    bytes
}

/// Turns the bytes of a stream of attribute lists into items.
pub struct Decoder {
    limits: Limits,
    /// Bytes fed; those before `start` are decoded already.
    pending: Vec<u8>,
    start: usize,
    /// A name whose value has not ended yet.
    name: Option<String>,
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("pending_bytes", &(self.pending.len() - self.start))
            .field("name", &self.name)
            .finish()
    }
}

impl Decoder {
    /// A decoder with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            pending: Vec::new(),
            start: 0,
            name: None,
        }
    }

    /// Appends bytes that arrived. Call [`Decoder::next_item`] until it
    /// has nothing before feeding more, so that the pending bytes stay
    /// within the limits plus one chunk.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.pending.drain(..self.start);
        self.start = 0;
        self.pending.extend_from_slice(bytes);
    }

    /// Bytes held that belong to no item yet: never more than the larger
    /// limit once [`Decoder::next_item`] has answered `Ok(None)`.
    pub fn buffered(&self) -> usize {
        self.pending.len() - self.start
    }

    /// The next whole item, `Ok(None)` when more bytes are needed.
    pub fn next_item(&mut self) -> Result<Option<Item>, DecodeError> {
        let (limit, too_long): (usize, fn(usize) -> DecodeError) = match self.name {
            None => (self.limits.name, DecodeError::NameTooLong),
            Some(_) => (self.limits.value, DecodeError::ValueTooLong),
        };
        let rest = &self.pending[self.start..];
        let Some(nul) = rest.iter().position(|&b| b == 0) else {
            if rest.len() > limit {
                return Err(too_long(limit));
            }
            return Ok(None);
        };
        if nul > limit {
            return Err(too_long(limit));
        }
        let text = String::from_utf8_lossy(&rest[..nul]).into_owned();
        self.start += nul + 1;
        Ok(Some(match self.name.take() {
            None if text.is_empty() => Item::End,
            None => {
                self.name = Some(text);
                return self.next_item();
            }
            Some(name) => Item::Attribute { name, value: text },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8], chunk: usize) -> Result<Vec<Item>, DecodeError> {
        let mut decoder = Decoder::new(Limits::default());
        let mut items = Vec::new();
        for piece in bytes.chunks(chunk.max(1)) {
            decoder.feed(piece);
            while let Some(item) = decoder.next_item()? {
                items.push(item);
            }
        }
        Ok(items)
    }

    fn attribute(name: &str, value: &str) -> Item {
        Item::Attribute {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn a_list_round_trips_whatever_the_chunks() {
        let bytes = encode(&[("request", "send_site"), ("site", "example.com")]);
        assert_eq!(bytes, b"request\0send_site\0site\0example.com\0\0");
        for chunk in [1, 2, 3, 7, 100] {
            assert_eq!(
                decode_all(&bytes, chunk),
                Ok(vec![
                    attribute("request", "send_site"),
                    attribute("site", "example.com"),
                    Item::End
                ])
            );
        }
    }

    #[test]
    fn an_empty_value_is_a_value_and_an_empty_list_is_an_end() {
        assert_eq!(
            decode_all(b"reason\0\0\0", 1),
            Ok(vec![attribute("reason", ""), Item::End])
        );
        assert_eq!(decode_all(b"\0\0", 5), Ok(vec![Item::End, Item::End]));
    }

    #[test]
    fn an_item_cut_in_two_waits_for_its_second_half() {
        let mut decoder = Decoder::new(Limits::default());
        decoder.feed(b"status\0");
        assert_eq!(decoder.next_item(), Ok(None));
        decoder.feed(b"0\0");
        assert_eq!(decoder.next_item(), Ok(Some(attribute("status", "0"))));
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn over_long_names_and_values_are_refused_before_their_nul() {
        let limits = Limits { name: 4, value: 8 };
        let mut decoder = Decoder::new(limits);
        decoder.feed(b"abcde");
        assert_eq!(decoder.next_item(), Err(DecodeError::NameTooLong(4)));
        let mut decoder = Decoder::new(limits);
        decoder.feed(b"abcd\x00123456789\0");
        assert_eq!(decoder.next_item(), Err(DecodeError::ValueTooLong(8)));
        let mut decoder = Decoder::new(limits);
        decoder.feed(b"abcd\x0012345678\0");
        assert_eq!(decoder.next_item(), Ok(Some(attribute("abcd", "12345678"))));
    }
}
