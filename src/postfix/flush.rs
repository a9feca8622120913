//! Requests to Postfix's fast-flush service (`flush(8)`), as `postqueue
//! -s`, `-i` and the housekeeping clients send them.
//!
//! It owns the wire form of the four requests (`send_site`, `send_file`,
//! `rfrsh` for refresh, `purge`) and the reading of the answer: the
//! service's `status`, which is what happened, not merely that bytes went
//! out. It sends every request to the service, a site that
//! `fast_flush_domains` does not cover included, so that the answer is
//! the service's own (it checks the site again and answers deny; Postfix's
//! `postqueue -s` answers deny itself without asking). Whether a site is
//! covered is [`domain_list`](super::domain_list)'s business, for `check`.

use std::fmt;
use std::path::Path;

use tokio::time::Instant;

use super::attr::{AttrError, Connection, Limits};

/// The protocol a flush server announces.
pub const PROTOCOL: &str = "queue_flush_protocol";

/// One request to the flush service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlushRequest {
    /// Deliver the mail queued for a site (`postqueue -s SITE`).
    SendSite(String),
    /// Deliver one message (`postqueue -i QUEUE_ID`).
    SendFile(String),
    /// Refresh the per-site logs not read for `fast_flush_refresh_time`.
    Refresh,
    /// Refresh every per-site log now.
    Purge,
}

impl FlushRequest {
    /// The request list, as the service reads it.
    fn attributes(&self) -> Vec<(&'static str, &str)> {
        match self {
            Self::SendSite(site) => vec![("request", "send_site"), ("site", site)],
            Self::SendFile(id) => vec![("request", "send_file"), ("queue_id", id)],
            // The wire form really is abbreviated.
            Self::Refresh => vec![("request", "rfrsh")],
            Self::Purge => vec![("request", "purge")],
        }
    }
}

impl fmt::Display for FlushRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SendSite(site) => write!(f, "send_site {site}"),
            Self::SendFile(id) => write!(f, "send_file {id}"),
            Self::Refresh => f.write_str("refresh"),
            Self::Purge => f.write_str("purge"),
        }
    }
}

/// The service's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushStatus {
    /// Done (for refresh and purge: accepted; the work follows).
    Ok,
    /// The request was malformed (a queue ID that cannot be one).
    Bad,
    /// The site is not eligible: `fast_flush_domains` does not cover it.
    Deny,
    /// The service failed (a table lookup error, for one).
    Fail,
    /// A number no Postfix release sends.
    Other(u32),
}

impl FlushStatus {
    /// Postfix's numbers: 0, 3, 4, and -1 written unsigned.
    pub fn from_wire(value: u32) -> Self {
        match value {
            0 => Self::Ok,
            3 => Self::Bad,
            4 => Self::Deny,
            u32::MAX => Self::Fail,
            other => Self::Other(other),
        }
    }

    /// `ok`, `bad`, `deny` or `fail`: a number no release sends is a
    /// failure, as the metrics count it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Bad => "bad",
            Self::Deny => "deny",
            Self::Fail | Self::Other(_) => "fail",
        }
    }
}

impl std::fmt::Display for FlushStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Other(number) => {
                write!(f, "fail (status {number}, which no Postfix release sends)")
            }
            other => f.write_str(other.as_str()),
        }
    }
}

/// Sends `request` to the flush server at `path` and reads its status,
/// all by `deadline`.
pub async fn request(
    path: &Path,
    request: &FlushRequest,
    deadline: Instant,
) -> Result<FlushStatus, AttrError> {
    let mut connection = Connection::open(path, deadline, Limits::default()).await?;
    connection.expect_protocol(PROTOCOL).await?;
    connection.send(&request.attributes()).await?;
    let answer = connection.read_list(4).await?;
    let status = answer
        .iter()
        .find(|(name, _)| name == "status")
        .map(|(_, value)| value.as_str());
    match status.map(str::parse::<u32>) {
        Some(Ok(number)) => Ok(FlushStatus::from_wire(number)),
        Some(Err(_)) => Err(connection.malformed(format!(
            "status {:?} is not a number",
            status.unwrap_or_default()
        ))),
        None => Err(connection.malformed("no status in the answer".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_postfix_writes_them() {
        assert_eq!(FlushStatus::from_wire(0), FlushStatus::Ok);
        assert_eq!(FlushStatus::from_wire(3), FlushStatus::Bad);
        assert_eq!(FlushStatus::from_wire(4), FlushStatus::Deny);
        assert_eq!(FlushStatus::from_wire(4294967295), FlushStatus::Fail);
        assert_eq!(FlushStatus::from_wire(7).as_str(), "fail");
        assert_eq!(
            FlushStatus::from_wire(7).to_string(),
            "fail (status 7, which no Postfix release sends)"
        );
    }

    #[test]
    fn requests_on_the_wire() {
        let wire = |r: FlushRequest| super::super::attr::encode(&r.attributes());
        assert_eq!(
            wire(FlushRequest::SendSite("example.com".into())),
            b"request\0send_site\0site\0example.com\0\0"
        );
        assert_eq!(
            wire(FlushRequest::SendFile("4XyZ1".into())),
            b"request\0send_file\0queue_id\x004XyZ1\0\0"
        );
        assert_eq!(wire(FlushRequest::Refresh), b"request\0rfrsh\0\0");
        assert_eq!(wire(FlushRequest::Purge), b"request\0purge\0\0");
    }
}
