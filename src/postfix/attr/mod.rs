//! The client side of Postfix's request protocol on local sockets.
//!
//! Servers such as `flush` and `showq` speak in attribute lists
//! ([`codec`]): on connect they announce their protocol by name, the
//! client checks the name before it sends anything, then sends one request
//! list and reads the answer. A [`Connection`] does exactly that and no
//! more: every step ends by one deadline for the whole exchange, every
//! list read is bounded by the codec's [`Limits`], and what the server
//! says is handed back, never acted upon. The daemon uses it; the
//! `postkick` command never does (it stays a raw-kick drop-in).

pub mod codec;

pub use codec::{encode, DecodeError, Decoder, Item, Limits};

use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::time::Instant;

/// The attribute a Postfix 3.x server's announcement carries.
pub const PROTOCOL_ATTRIBUTE: &str = "protocol";

/// Why an exchange with a service failed.
#[derive(Debug, thiserror::Error)]
pub enum AttrError {
    /// The socket could not be reached.
    #[error("connect to {}: {}", path.display(), crate::sys::io_error_text(source))]
    Connect {
        /// The endpoint.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Reading or writing failed.
    #[error("{}: {}", path.display(), crate::sys::io_error_text(source))]
    Io {
        /// The endpoint.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The deadline passed.
    #[error("{}: no answer within the timeout", path.display())]
    Timeout {
        /// The endpoint.
        path: PathBuf,
    },
    /// The server closed before its answer ended.
    #[error("{}: the server closed the connection before its answer ended", path.display())]
    Closed {
        /// The endpoint.
        path: PathBuf,
    },
    /// The server announced another protocol, or none.
    #[error("{}: the server speaks {found}, not {expected}: is this the right service?", path.display())]
    WrongProtocol {
        /// The endpoint.
        path: PathBuf,
        /// What was expected.
        expected: &'static str,
        /// What the server said.
        found: String,
    },
    /// The server's bytes are not an attribute list.
    #[error("{}: {source}", path.display())]
    Decode {
        /// The endpoint.
        path: PathBuf,
        /// What was wrong.
        source: DecodeError,
    },
    /// A list lacks what the protocol says it carries.
    #[error("{}: malformed answer: {what}", path.display())]
    Malformed {
        /// The endpoint.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },
}

impl AttrError {
    /// What an administrator can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Connect { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                    "is Postfix running? (postfix status)"
                }
                std::io::ErrorKind::PermissionDenied => {
                    "run postkickd as user postfix, group postdrop"
                }
                _ => "check the service in master.cf",
            },
            Self::Timeout { .. } => "the service is busy or hung: see the mail log",
            Self::WrongProtocol { .. } => {
                "check the service name in master.cf and the *_service_name parameters"
            }
            _ => "see the mail log for the service's side",
        }
    }
}

/// A connection to an attribute-protocol server.
#[derive(Debug)]
pub struct Connection {
    stream: UnixStream,
    path: PathBuf,
    decoder: Decoder,
    deadline: Instant,
    /// Where reads land: on the heap, so that a future awaiting a
    /// connection (a rule's kicker, for one) stays small.
    buffer: Vec<u8>,
}

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 8192;

impl Connection {
    /// Connects to the server at `path`; every later step must end by
    /// `deadline`.
    pub async fn open(path: &Path, deadline: Instant, limits: Limits) -> Result<Self, AttrError> {
        let connect = tokio::time::timeout_at(deadline, UnixStream::connect(path));
        let stream = match connect.await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => {
                return Err(AttrError::Connect {
                    path: path.to_owned(),
                    source,
                })
            }
            Err(_) => {
                return Err(AttrError::Timeout {
                    path: path.to_owned(),
                })
            }
        };
        Ok(Self {
            stream,
            path: path.to_owned(),
            decoder: Decoder::new(limits),
            deadline,
            buffer: vec![0; READ_CHUNK],
        })
    }

    /// Reads the server's announcement and checks that it names
    /// `protocol`.
    pub async fn expect_protocol(&mut self, protocol: &'static str) -> Result<(), AttrError> {
        let list = self.read_list(4).await?;
        let found = list
            .iter()
            .find(|(name, _)| name == PROTOCOL_ATTRIBUTE)
            .map(|(_, value)| value.clone());
        match found {
            Some(found) if found == protocol => Ok(()),
            found => Err(AttrError::WrongProtocol {
                path: self.path.clone(),
                expected: protocol,
                found: found.unwrap_or_else(|| "no protocol".to_owned()),
            }),
        }
    }

    /// Sends one attribute list.
    pub async fn send(&mut self, list: &[(&str, &str)]) -> Result<(), AttrError> {
        let bytes = encode(list);
        match tokio::time::timeout_at(self.deadline, self.stream.write_all(&bytes)).await {
            Ok(result) => result.map_err(|source| self.io(source)),
            Err(_) => Err(self.timeout()),
        }
    }

    /// The next item the server sends.
    pub async fn next_item(&mut self) -> Result<Item, AttrError> {
        loop {
            match self.decoder.next_item() {
                Ok(Some(item)) => return Ok(item),
                Ok(None) => {}
                Err(source) => {
                    return Err(AttrError::Decode {
                        path: self.path.clone(),
                        source,
                    })
                }
            }
            let read = tokio::time::timeout_at(self.deadline, self.stream.read(&mut self.buffer));
            match read.await {
                Ok(Ok(0)) => {
                    return Err(AttrError::Closed {
                        path: self.path.clone(),
                    })
                }
                Ok(Ok(n)) => self.decoder.feed(&self.buffer[..n]),
                Ok(Err(source)) => return Err(self.io(source)),
                Err(_) => return Err(self.timeout()),
            }
        }
    }

    /// One whole list of at most `max_attributes` attributes.
    pub async fn read_list(
        &mut self,
        max_attributes: usize,
    ) -> Result<Vec<(String, String)>, AttrError> {
        let mut list = Vec::new();
        loop {
            match self.next_item().await? {
                Item::End => return Ok(list),
                Item::Attribute { .. } if list.len() == max_attributes => {
                    return Err(self
                        .malformed(format!("more than {max_attributes} attributes in one list")))
                }
                Item::Attribute { name, value } => list.push((name, value)),
            }
        }
    }

    /// An error about the server's answer.
    pub fn malformed(&self, what: String) -> AttrError {
        AttrError::Malformed {
            path: self.path.clone(),
            what,
        }
    }

    fn io(&self, source: std::io::Error) -> AttrError {
        AttrError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn timeout(&self) -> AttrError {
        AttrError::Timeout {
            path: self.path.clone(),
        }
    }
}
