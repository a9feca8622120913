//! What each Postfix service does with a raw kick.
//!
//! A catalog of the services in Debian's `master.cf` (Postfix 3.7): their
//! usual class (`public` or `private`) and what their server does when a
//! kick tool writes a raw request to them. Only `pickup` and `qmgr` are
//! trigger servers; `flush` and `tlsmgr` accept the one-byte `W`; every
//! other service speaks an attribute protocol and logs a raw request as a
//! protocol error without acting on it. For some of those the daemon has
//! something better than a raw kick, and [`Service::instead`] says what
//! (anvil: nothing can reset it). The `postkick` command uses this for one
//! `-v` line and the daemon to lint its rules; nothing here touches an
//! endpoint.

use std::fmt;

/// Where a service's endpoint usually lives in the queue directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// `public/`: reachable by local users (group `postdrop`).
    Public,
    /// `private/`: reachable by Postfix itself.
    Private,
}

impl Class {
    /// The directory name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
        }
    }
}

/// How a service's server reads what it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// `pickup`: any connection wakes it; the bytes do not matter.
    WakeOnAnything,
    /// `qmgr`: each byte is a request letter.
    QueueManager,
    /// `flush`, `tlsmgr`: `W` (a wakeup) is understood; the rest is an
    /// attribute-protocol error.
    WakeupOnly,
    /// `showq`: sends the queue listing and ignores the request.
    Listing,
    /// `postlog`: a datagram socket that a stream connect cannot reach.
    Datagram,
    /// An attribute-protocol server; the text is what it logs for a raw
    /// request, with `{req}` for the request and `{svc}` for the service.
    Attribute(&'static str),
}

/// A Postfix service as Debian's `master.cf` defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Service {
    /// The service name.
    pub name: &'static str,
    /// Its usual class.
    pub class: Class,
    protocol: Protocol,
}

const EXPECT_REQUEST: &str = "unexpected attribute {req} from {svc} socket (expecting: request)";
const EXPECT_NREQUEST: &str =
    "unexpected attribute {req} from {svc} socket (expecting: nrequest); malformed request";
const EXPECT_FLAGS_DELIVERY: &str = "unexpected attribute {req} from {svc} socket (expecting: flags); deliver_request_get: error receiving common attributes";

const fn service(name: &'static str, class: Class, protocol: Protocol) -> Service {
    Service {
        name,
        class,
        protocol,
    }
}

const CATALOG: &[Service] = &[
    service("pickup", Class::Public, Protocol::WakeOnAnything),
    service("qmgr", Class::Public, Protocol::QueueManager),
    service("flush", Class::Public, Protocol::WakeupOnly),
    service("tlsmgr", Class::Private, Protocol::WakeupOnly),
    service("showq", Class::Public, Protocol::Listing),
    service("postlog", Class::Public, Protocol::Datagram),
    service(
        "cleanup",
        Class::Public,
        Protocol::Attribute("unexpected attribute {req} from {svc} socket (expecting: flags)"),
    ),
    service(
        "anvil",
        Class::Private,
        Protocol::Attribute(
            "premature end-of-input on anvil socket while reading input attribute name",
        ),
    ),
    service(
        "scache",
        Class::Private,
        Protocol::Attribute(EXPECT_REQUEST),
    ),
    service(
        "verify",
        Class::Private,
        Protocol::Attribute(EXPECT_REQUEST),
    ),
    service(
        "proxymap",
        Class::Private,
        Protocol::Attribute(EXPECT_REQUEST),
    ),
    service(
        "proxywrite",
        Class::Private,
        Protocol::Attribute(EXPECT_REQUEST),
    ),
    service(
        "rewrite",
        Class::Private,
        Protocol::Attribute(EXPECT_REQUEST),
    ),
    service(
        "bounce",
        Class::Private,
        Protocol::Attribute(EXPECT_NREQUEST),
    ),
    service(
        "defer",
        Class::Private,
        Protocol::Attribute(EXPECT_NREQUEST),
    ),
    service(
        "trace",
        Class::Private,
        Protocol::Attribute(EXPECT_NREQUEST),
    ),
    service(
        "error",
        Class::Private,
        Protocol::Attribute(EXPECT_FLAGS_DELIVERY),
    ),
    service(
        "retry",
        Class::Private,
        Protocol::Attribute(EXPECT_FLAGS_DELIVERY),
    ),
    service(
        "discard",
        Class::Private,
        Protocol::Attribute(EXPECT_FLAGS_DELIVERY),
    ),
    service(
        "smtp",
        Class::Private,
        Protocol::Attribute(EXPECT_FLAGS_DELIVERY),
    ),
    service(
        "relay",
        Class::Private,
        Protocol::Attribute(EXPECT_FLAGS_DELIVERY),
    ),
    service(
        "lmtp",
        Class::Private,
        Protocol::Attribute(EXPECT_FLAGS_DELIVERY),
    ),
    service(
        "local",
        Class::Private,
        Protocol::Attribute(EXPECT_FLAGS_DELIVERY),
    ),
    service(
        "virtual",
        Class::Private,
        Protocol::Attribute(EXPECT_FLAGS_DELIVERY),
    ),
    service(
        "maildrop",
        Class::Private,
        Protocol::Attribute(EXPECT_FLAGS_DELIVERY),
    ),
];

/// The catalog entry for a service name, if Postfix ships one by that name.
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Service> {
    CATALOG.iter().find(|s| s.name.as_bytes() == name)
}

/// Every service in the catalog.
pub(crate) fn all() -> &'static [Service] {
    CATALOG
}

/// What a service will do with one raw request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// The server acts on it; the text says how.
    Acts(String),
    /// The server acts on it, but only as it does by itself anyway: the
    /// text says what it does and what would do what was likely meant.
    Routine(String),
    /// The server accepts it and does nothing; the text says why.
    Ignored(String),
    /// The server logs this protocol error and does nothing else.
    ProtocolError(String),
    /// A stream connection cannot reach this service at all.
    Unreachable(&'static str),
}

impl Effect {
    /// True unless the server acts on the request.
    pub(crate) fn is_useless(&self) -> bool {
        !matches!(self, Self::Acts(_))
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Acts(what) | Self::Routine(what) => write!(f, "{what}"),
            Self::Ignored(why) => write!(f, "ignored: {why}"),
            Self::ProtocolError(log) => {
                write!(
                    f,
                    "not understood: the server logs \"{log}\" and does nothing"
                )
            }
            Self::Unreachable(why) => write!(f, "unreachable: {why}"),
        }
    }
}

/// The actions `qmgr` takes for a request's bytes, in Postfix's words.
fn queue_manager_effect(request: &[u8]) -> Effect {
    let has = |letter: u8| request.contains(&letter);
    let mut actions = Vec::new();
    if has(b'F') {
        actions.push("forget dead destinations");
    }
    if has(b'A') {
        actions.push("ignore time stamps");
    }
    if has(b'W') || has(b'I') {
        actions.push("scan the incoming queue");
    }
    if has(b'D') {
        actions.push("scan the deferred queue");
    }
    let scans_incoming = has(b'W') || has(b'I');
    let scans = scans_incoming || has(b'D');
    if has(b'D') && !has(b'A') && !scans_incoming {
        return Effect::Routine(
            "qmgr will scan the deferred queue for the messages whose retry time has come, which it does by itself every queue_run_delay (300s by default): nothing is retried sooner; to retry deferred mail now, use flush: all (what postqueue -f sends) or the request AD (A ignores the retry times)".to_owned(),
        );
    }
    match (scans, actions.is_empty()) {
        (true, _) => Effect::Acts(format!("qmgr will {}", actions.join(", then "))),
        (false, false) => Effect::Ignored(format!(
            "qmgr will {} on its next scan, but this request starts no scan (add W, I or D)",
            actions.join(" and ")
        )),
        (false, true) => {
            Effect::Ignored("qmgr understands only the letters W, I, D, A and F".to_owned())
        }
    }
}

impl Service {
    /// What the daemon can do with this service instead of a raw kick
    /// that does nothing, if anything.
    pub(crate) fn instead(&self) -> Option<&'static str> {
        match self.name {
            "flush" => Some(
                "postkickd speaks flush's own protocol: use flush: {site: DOMAIN}, {queue_id: ID}, refresh or purge, whose outcome is the service's answer",
            ),
            "showq" => Some(
                "postkickd status and its metrics read showq for messages per queue and the oldest message's age",
            ),
            "anvil" => Some(
                "anvil has no request that resets its counters (over IPC it answers only connect, disconnect, message, recipient, newtls, newtls_status, auth and lookup); its counts expire after anvil_rate_time_unit (60s); to let a client in sooner raise its smtpd_client_*_limit in main.cf, or exempt it with smtpd_client_event_limit_exceptions, then postfix reload",
            ),
            _ => None,
        }
    }

    /// What this service does with `request`.
    pub(crate) fn effect(&self, request: &[u8]) -> Effect {
        let shown = String::from_utf8_lossy(request);
        match self.protocol {
            Protocol::WakeOnAnything => {
                Effect::Acts("pickup will scan the maildrop directory".to_owned())
            }
            Protocol::QueueManager => queue_manager_effect(request),
            Protocol::WakeupOnly if request == b"W" => Effect::Acts(match self.name {
                "flush" => "flush will refresh its per-destination logs".to_owned(),
                _ => "tlsmgr will wake up".to_owned(),
            }),
            Protocol::WakeupOnly => Effect::ProtocolError(
                EXPECT_REQUEST
                    .replace("{req}", &shown)
                    .replace("{svc}", self.name),
            ),
            Protocol::Listing => {
                Effect::Ignored("showq sends the queue listing and ignores requests".to_owned())
            }
            Protocol::Datagram => Effect::Unreachable(
                "postlog is a datagram socket; connect fails with \"Protocol wrong type for socket\"",
            ),
            Protocol::Attribute(log) => {
                Effect::ProtocolError(log.replace("{req}", &shown).replace("{svc}", self.name))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effect(name: &str, request: &str) -> Effect {
        lookup(name.as_bytes())
            .expect("known")
            .effect(request.as_bytes())
    }

    #[test]
    fn pickup_wakes_on_anything() {
        assert!(!effect("pickup", "").is_useless());
        assert!(!effect("pickup", "whatever").is_useless());
    }

    #[test]
    fn qmgr_reads_letters() {
        assert_eq!(
            effect("qmgr", "I"),
            Effect::Acts("qmgr will scan the incoming queue".into())
        );
        assert_eq!(
            effect("qmgr", "FADI"),
            Effect::Acts(
                "qmgr will forget dead destinations, then ignore time stamps, then scan the \
                 incoming queue, then scan the deferred queue"
                    .into()
            )
        );
        assert!(effect("qmgr", "A").is_useless());
        assert!(!effect("qmgr", "AD").is_useless());
        assert!(!effect("qmgr", "DI").is_useless());
        let lone = effect("qmgr", "D");
        assert!(lone.is_useless());
        assert!(
            lone.to_string().contains("queue_run_delay") && lone.to_string().contains("flush: all"),
            "{lone}"
        );
        assert!(effect("qmgr", "refresh").is_useless());
    }

    #[test]
    fn anvil_logs_a_protocol_error() {
        assert_eq!(
            effect("anvil", "refresh"),
            Effect::ProtocolError(
                "premature end-of-input on anvil socket while reading input attribute name".into()
            )
        );
        assert_eq!(
            effect("scache", "flush"),
            Effect::ProtocolError(
                "unexpected attribute flush from scache socket (expecting: request)".into()
            )
        );
    }

    #[test]
    fn anvil_cannot_be_reset_and_flush_has_its_own_actions() {
        let anvil = lookup(b"anvil").and_then(Service::instead).expect("said");
        assert!(anvil.contains("no request that resets"));
        assert!(anvil.contains("anvil_rate_time_unit"));
        assert!(lookup(b"flush")
            .and_then(Service::instead)
            .is_some_and(|s| s.contains("flush: {site: DOMAIN}")));
        assert_eq!(lookup(b"pickup").and_then(Service::instead), None);
    }

    #[test]
    fn flush_understands_only_a_wakeup() {
        assert!(!effect("flush", "W").is_useless());
        assert!(effect("flush", "refresh").is_useless());
    }

    #[test]
    fn classes_follow_debian_master_cf() {
        assert_eq!(lookup(b"pickup").map(|s| s.class), Some(Class::Public));
        assert_eq!(lookup(b"anvil").map(|s| s.class), Some(Class::Private));
        assert_eq!(lookup(b"nonesuch"), None);
    }
}
