//! The control socket's protocol, as types both ends share.
//!
//! A client sends one [`Request`] line; the daemon answers with one
//! document: the [`StatusDocument`] (the `status --json` schema in
//! postkickd(8)), a [`KickAnswer`], Prometheus' text for `metrics`, or an
//! [`ErrorAnswer`]. The daemon serialises these types and the client
//! deserialises the very same ones, so a field cannot drift between the
//! two; the table and the lines of `kick` render from them. What a rule's
//! state means (failing, succeeded) is a method here or on
//! [`Outcome`], decided once. Nothing here reads a socket.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub(crate) use crate::postkickd::engine::stats::{Counters, Outcome};

/// The longest request line.
pub(crate) const MAX_REQUEST: usize = 256;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    /// `status [RULE]`: the status document, of every rule or of one.
    Status { rule: Option<String> },
    /// `metrics`: Prometheus' text exposition format.
    Metrics,
    /// `kick RULE`: fire a rule now and answer with its kick.
    Kick { rule: String },
    /// `reload`: read the rules file again (as SIGHUP does) and answer
    /// with the outcome.
    Reload,
}

/// A request line that is none of the [`Request`]s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown request: send status [RULE], metrics, kick RULE or reload")]
pub(crate) struct UnknownRequest;

impl std::str::FromStr for Request {
    type Err = UnknownRequest;

    fn from_str(line: &str) -> Result<Self, UnknownRequest> {
        let mut words = line.split_whitespace();
        let request = match (words.next(), words.next()) {
            (Some("status"), rule) => Request::Status {
                rule: rule.map(str::to_owned),
            },
            (Some("metrics"), None) => Request::Metrics,
            (Some("kick"), Some(rule)) => Request::Kick {
                rule: rule.to_owned(),
            },
            (Some("reload"), None) => Request::Reload,
            _ => return Err(UnknownRequest),
        };
        match words.next() {
            None => Ok(request),
            Some(_) => Err(UnknownRequest),
        }
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status { rule: None } => f.write_str("status"),
            Self::Status { rule: Some(rule) } => write!(f, "status {rule}"),
            Self::Metrics => f.write_str("metrics"),
            Self::Kick { rule } => write!(f, "kick {rule}"),
            Self::Reload => f.write_str("reload"),
        }
    }
}

/// The answer to a request the daemon could not carry out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ErrorAnswer {
    pub error: String,
}

/// A JSON answer as a client reads it: the document asked for, or why not.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Reply<T> {
    /// Tried first: an error answer has nothing but `error`.
    Error(ErrorAnswer),
    Document(T),
}

/// The `status --json` document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StatusDocument {
    pub version: String,
    pub pid: u32,
    pub started: Timestamp,
    pub rules_file: String,
    pub loaded: Timestamp,
    pub last_reload: Option<ReloadDocument>,
    pub reloads: Reloads,
    pub queue_directory: String,
    /// The last reading of showq; absent before the first.
    pub queue: Option<QueueDocument>,
    /// Each link of Postfix's path, as last judged (empty before).
    #[serde(default)]
    pub health: Vec<LinkDocument>,
    pub rules: Vec<RuleDocument>,
}

/// One link of Postfix's path.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LinkDocument {
    pub name: String,
    /// `ok`, `warning` or `failed`.
    pub state: String,
    /// The cause in one sentence, with its evidence.
    pub cause: String,
    /// What to do; empty when it is ok.
    pub fix: String,
}

/// Reloads taken and refused.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct Reloads {
    pub ok: u64,
    pub refused: u64,
}

/// The last reload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReloadDocument {
    pub at: Timestamp,
    pub result: ReloadResult,
    pub error: Option<String>,
}

/// Whether a reload was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ReloadResult {
    Ok,
    Refused,
}

/// One rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RuleDocument {
    pub name: String,
    /// `cron`, `every` or `watch`.
    pub trigger: String,
    pub enabled: bool,
    pub target: String,
    pub last_trigger: Option<TriggerDocument>,
    pub last_kick: Option<KickDocument>,
    #[serde(flatten)]
    pub counters: Counters,
    pub in_flight: bool,
    pub pending: bool,
    pub next: Option<Timestamp>,
    pub files_waiting_past_drain: Option<usize>,
}

/// What raised a rule last.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TriggerDocument {
    pub at: Timestamp,
    pub cause: String,
}

/// A kick, in the status document and in the answer to `kick RULE`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KickDocument {
    pub at: Timestamp,
    pub outcome: Outcome,
    pub attempts: u32,
    pub duration_ms: f64,
    pub error: Option<String>,
}

/// The answer to `reload` that was taken: what runs now.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReloadAnswer {
    pub reloaded: String,
}

/// The answer to `kick RULE`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KickAnswer {
    pub rule: String,
    #[serde(flatten)]
    pub kick: KickDocument,
}

impl fmt::Display for KickAnswer {
    /// `RULE: OUTCOME after N attempts in T ms[: error]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kick = &self.kick;
        write!(
            f,
            "{}: {} after {} attempt{} in {:.3} ms",
            self.rule,
            kick.outcome.as_str(),
            kick.attempts,
            if kick.attempts == 1 { "" } else { "s" },
            kick.duration_ms,
        )?;
        match &kick.error {
            Some(error) => write!(f, ": {error}"),
            None => Ok(()),
        }
    }
}

/// The last reading of the queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct QueueDocument {
    pub read_at: Timestamp,
    pub read_ms: f64,
    /// False when the read stopped at its cap or timeout: counts are lower
    /// bounds.
    pub complete: bool,
    pub error: Option<String>,
    pub messages: Option<u64>,
    pub queues: Vec<QueueCountDocument>,
}

/// One queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct QueueCountDocument {
    pub name: String,
    pub messages: u64,
    /// Age of its oldest message when read, in seconds.
    pub oldest_age_seconds: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_print_as_they_parse() {
        for line in ["status", "status x-1", "metrics", "kick x-1", "reload"] {
            let request: Request = line.parse().expect(line);
            assert_eq!(request.to_string(), line);
        }
        for line in [
            "",
            "status a b",
            "kick",
            "metrics now",
            "reload now",
            "kick a b",
        ] {
            assert_eq!(line.parse::<Request>(), Err(UnknownRequest), "{line:?}");
        }
    }

    #[test]
    fn a_kick_answer_is_not_mistaken_for_an_error() {
        let answer = KickAnswer {
            rule: "r".into(),
            kick: KickDocument {
                at: Timestamp::UNIX_EPOCH,
                outcome: Outcome::Failed,
                attempts: 2,
                duration_ms: 1.5,
                error: Some("refused".into()),
            },
        };
        let text = serde_json::to_string(&answer).expect("serialises");
        match serde_json::from_str::<Reply<KickAnswer>>(&text).expect("parses") {
            Reply::Document(read) => {
                assert_eq!(
                    read.to_string(),
                    "r: failed after 2 attempts in 1.500 ms: refused"
                )
            }
            Reply::Error(e) => panic!("{e:?}"),
        }
        let error = r#"{"error":"no rule \"x\" is running"}"#;
        assert!(matches!(
            serde_json::from_str::<Reply<KickAnswer>>(error),
            Ok(Reply::Error(ErrorAnswer { error })) if error.contains("no rule")
        ));
    }
}
