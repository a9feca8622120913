//! Postfix 3.7's global parameters as `mail_params_init()` processes them:
//! their names, built-in defaults (as Debian builds them) and how each
//! value is checked once expanded. The order is Postfix's, because a
//! default becomes visible to `$name` only once its parameter has been
//! processed. It is a table: the evaluation lives in the module above.

use super::MAIL_VERSION;

/// How a parameter's value is checked once expanded.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    /// A string with a minimum length (0: none).
    Text { min_len: usize },
    /// Postfix's compatibility level.
    CompatLevel,
    /// A yes/no value whose default is an expression.
    Bool,
    /// A time value; the unit comes from the default.
    Time { min: i64 },
    /// `myhostname`: the host name, qualified with `$mydomain`.
    HostName,
    /// `mydomain`: the domain part of `$myhostname`.
    DomainName,
    /// `import_environment`: a list of names and `name=value` settings.
    Environment,
}

pub(super) struct Parameter {
    pub(super) name: &'static str,
    pub(super) default: &'static str,
    pub(super) kind: Kind,
}

const fn text(name: &'static str, default: &'static str) -> Parameter {
    Parameter {
        name,
        default,
        kind: Kind::Text { min_len: 0 },
    }
}

/// A service name: Postfix wants at least one character.
const fn service(name: &'static str, default: &'static str) -> Parameter {
    Parameter {
        name,
        default,
        kind: Kind::Text { min_len: 1 },
    }
}

/// Postfix 3.7's global parameters in the order `mail_params_init()`
/// processes them, up to the last one a kick tool or the daemon's flush and
/// showq requests use (defaults as Debian
/// builds them). Later parameters never become visible to these.
pub(super) const PARAMETERS: &[Parameter] = &[
    Parameter {
        name: "compatibility_level",
        default: "0",
        kind: Kind::CompatLevel,
    },
    text("mail_version", MAIL_VERSION),
    text("syslog_facility", "mail"),
    text("inet_protocols", "all"),
    text("multi_instance_directories", ""),
    text("multi_instance_group", ""),
    text("multi_instance_name", ""),
    text("maillog_file", ""),
    text("maillog_file_prefixes", "/var, /dev/stdout"),
    text("maillog_file_compressor", "gzip"),
    text("maillog_file_rotate_suffix", "%Y%m%d-%H%M%S"),
    text("postlog_service_name", "postlog"),
    text("dnssec_probe", "ns:."),
    text(
        "known_tcp_ports",
        "lmtp=24, smtp=25, smtps=submissions=465, submission=587",
    ),
    Parameter {
        name: "smtputf8_enable",
        default: "${{$compatibility_level} <level {1} ? {no} : {yes}}",
        kind: Kind::Bool,
    },
    Parameter {
        name: "myhostname",
        default: "",
        kind: Kind::HostName,
    },
    Parameter {
        name: "mydomain",
        default: "localdomain",
        kind: Kind::DomainName,
    },
    text("mail_name", "Postfix"),
    text(
        "syslog_name",
        "${multi_instance_name?{$multi_instance_name}:{postfix}}",
    ),
    text("mail_owner", "postfix"),
    text("setgid_group", "postdrop"),
    text(
        "mydestination",
        "$myhostname, localhost.$mydomain, localhost",
    ),
    text("myorigin", "$myhostname"),
    text("relayhost", ""),
    text("daemon_directory", "/usr/lib/postfix/sbin"),
    text("data_directory", "/var/lib/postfix"),
    text("command_directory", "/usr/sbin"),
    text("meta_directory", "/etc/postfix"),
    Parameter {
        name: "queue_directory",
        default: "/var/spool/postfix",
        kind: Kind::Text { min_len: 1 },
    },
    text("shlib_directory", "/usr/lib/postfix"),
    text("process_id_directory", "pid"),
    text(
        "relay_domains",
        "${{$compatibility_level} <level {2} ? {$mydestination} : {}}",
    ),
    text("fast_flush_domains", "$relay_domains"),
    Parameter {
        name: "import_environment",
        default: "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY LANG=C \
                  POSTLOG_SERVICE POSTLOG_HOSTNAME",
        kind: Kind::Environment,
    },
    text(
        "parent_domain_matches_subdomains",
        "debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,\
         qmqpd_authorized_clients,relay_domains,smtpd_access_maps",
    ),
    text("alternate_config_directories", ""),
    service("pickup_service_name", "pickup"),
    service("queue_service_name", "qmgr"),
    service("showq_service_name", "showq"),
    service("flush_service_name", "flush"),
    Parameter {
        name: "application_event_drain_time",
        default: "100s",
        kind: Kind::Time { min: 1 },
    },
    Parameter {
        name: "trigger_timeout",
        default: "10s",
        kind: Kind::Time { min: 1 },
    },
];
