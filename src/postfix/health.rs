//! The path a message takes through Postfix, link by link, and which link
//! broke when mail stops moving.
//!
//! The links, in the order a message meets them: master runs (its pid
//! file and the process it names); each service on the path (pickup,
//! qmgr, showq and every service a rule kicks) is in master.cf, in its
//! class; its endpoint is there (master listens on every endpoint of
//! master.cf while it runs, so one missing while it runs is broken, and a
//! socket left by a stopped master is the master link's); the maildrop is
//! as postdrop and pickup need it (owner `mail_owner`, group
//! `setgid_group`, mode 0730, or 1730 as Debian makes it); pickup takes files (no ready file waits
//! longer than the drain limit); showq answers; qmgr takes incoming (the
//! incoming queue's oldest message is younger than [`INCOMING_LIMIT`]);
//! the deferred and hold queues' oldest messages are younger than
//! [`DEFERRED_LIMIT`] and [`HOLD_LIMIT`] (warnings: mail may wait there
//! by design). Each link has a state, the evidence, the cause in one
//! sentence and the fix.
//!
//! Only a Postfix installation is judged: a configuration directory with
//! a master.cf (a test queue has only a main.cf). The checks read files
//! and list the maildrop (bounded); the queue
//! figures come from a showq reading the caller made. Nothing is
//! connected to, written or signalled, and nothing here decides when to
//! check: the daemon asks when a kick fails, when a directory does not
//! drain and when asked for its status; `postkickd doctor` once.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::endpoint;
use super::master::{master_state, MasterCf, MasterState};
use super::showq::QueueReading;

/// An incoming message older than this means qmgr is not taking them.
pub(crate) const INCOMING_LIMIT: Duration = Duration::from_secs(300);
/// A deferred message older than this is worth a look (a warning).
pub(crate) const DEFERRED_LIMIT: Duration = Duration::from_secs(24 * 3600);
/// A held message older than this was probably forgotten (a warning).
pub(crate) const HOLD_LIMIT: Duration = Duration::from_secs(24 * 3600);
/// A ready maildrop file older than this, when no rule says otherwise,
/// means pickup is not taking files.
pub(crate) const PICKUP_LIMIT: Duration = Duration::from_secs(60);
/// Maildrop entries looked at, at most.
const MAILDROP_LOOK: usize = 10_000;

/// How a link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum State {
    /// Nothing wrong.
    Ok,
    /// Worth a look; mail still moves.
    Warning,
    /// Broken: mail stops here.
    Failed,
}

impl State {
    /// `ok`, `warning` or `failed`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Failed => "failed",
        }
    }

    /// 0, 1 or 2: the metrics' gauge.
    pub(crate) fn level(self) -> u8 {
        self as u8
    }
}

/// One link of the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    /// `master`, `master.cf pickup`, `endpoint public/pickup`, `maildrop`,
    /// `pickup`, `showq`, `qmgr`, `deferred`, `hold`.
    pub name: String,
    /// How it is.
    pub state: State,
    /// The cause in one sentence, with its evidence.
    pub cause: String,
    /// What to do; empty when it is ok.
    pub fix: String,
}

impl Link {
    fn ok(name: impl Into<String>, cause: String) -> Link {
        Link {
            name: name.into(),
            state: State::Ok,
            cause,
            fix: String::new(),
        }
    }

    fn bad(name: impl Into<String>, state: State, cause: String, fix: String) -> Link {
        Link {
            name: name.into(),
            state,
            cause,
            fix,
        }
    }

    /// `cause: fix`, or the cause alone.
    pub(crate) fn said(&self) -> String {
        if self.fix.is_empty() {
            self.cause.clone()
        } else {
            format!("{}: {}", self.cause, self.fix)
        }
    }
}

/// What the checks need to know of one Postfix, from its main.cf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Site {
    /// `config_directory`: where master.cf is.
    pub config_directory: PathBuf,
    /// `queue_directory`.
    pub queue_directory: PathBuf,
    /// `mail_owner`: who owns the maildrop.
    pub mail_owner: String,
    /// `setgid_group`: the maildrop's group.
    pub setgid_group: String,
    /// `sendmail_path`: how notices are mailed.
    pub sendmail: PathBuf,
    /// `pickup_service_name`, `queue_service_name`, `showq_service_name`.
    pub pickup: String,
    pub qmgr: String,
    pub showq: String,
}

impl Site {
    /// The site `main_cf` describes.
    pub(crate) fn from_main_cf(main_cf: &super::config::MainCf) -> Site {
        let text = |name: &str| {
            main_cf
                .parameters
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
                .unwrap_or_default()
        };
        Site {
            config_directory: main_cf.config_directory.clone(),
            queue_directory: main_cf.queue_directory.clone(),
            mail_owner: text("mail_owner"),
            setgid_group: text("setgid_group"),
            sendmail: main_cf.sendmail_path.clone(),
            pickup: main_cf.services.pickup.clone(),
            qmgr: main_cf.services.queue.clone(),
            showq: main_cf.services.showq.clone(),
        }
    }

    /// The services every message needs, as `(class, name)`.
    pub(crate) fn core(&self) -> Vec<(String, String)> {
        [&self.pickup, &self.qmgr, &self.showq]
            .iter()
            .map(|name| ("public".to_owned(), (*name).clone()))
            .collect()
    }

    /// Whether this is a Postfix installation at all: its configuration
    /// directory has a master.cf. A test queue (`postkickd endpoints`,
    /// `demo`) has only a main.cf, and its path is not judged.
    pub(crate) fn is_postfix(&self) -> bool {
        self.config_directory.join("master.cf").exists()
    }

    fn master_cf_path(&self) -> String {
        self.config_directory
            .join("master.cf")
            .display()
            .to_string()
    }

    /// Whether master runs, from its pid file and process; where those
    /// cannot be seen (the hardened unit), from whether showq answered
    /// (`showq_answers`, when a reading was made), else it is not judged.
    pub(crate) fn master(&self, showq_answers: Option<bool>) -> Link {
        let pid_file = self.queue_directory.join("pid").join("master.pid");
        let down = |evidence: String| {
            Link::bad(
                "master",
                State::Failed,
                format!("Postfix is not running: no master process ({evidence})"),
                format!(
                    "postfix -c {} start (or systemctl start postfix)",
                    self.config_directory.display()
                ),
            )
        };
        match master_state(&self.queue_directory) {
            MasterState::Runs(pid) => Link::ok("master", format!("master runs (pid {pid})")),
            MasterState::Gone(Some(pid)) => down(format!(
                "its pid file {} names {pid}, which is gone or is not master",
                pid_file.display()
            )),
            MasterState::Gone(None) => down(format!("there is no pid file {}", pid_file.display())),
            MasterState::Unseen => match showq_answers {
                Some(true) => Link::ok(
                    "master",
                    "master runs: showq answers (its pid file and process cannot be seen from here)".to_owned(),
                ),
                Some(false) => down(format!(
                    "showq does not answer, and {} cannot be read from here; postkickd doctor as root tells for sure",
                    pid_file.display()
                )),
                None => Link::ok(
                    "master",
                    "master's pid file and process cannot be seen from here".to_owned(),
                ),
            },
        }
    }

    /// Whether `class/service` is in master.cf in that class.
    fn service(&self, master_cf: Option<&MasterCf>, class: &str, service: &str) -> Link {
        let name = format!("master.cf {service}");
        let path = self.master_cf_path();
        let Some(master_cf) = master_cf else {
            return Link::bad(
                name,
                State::Warning,
                format!("{path} cannot be read, so {service} cannot be looked up in it"),
                "run as root or as the mail owner".to_owned(),
            );
        };
        let entries: Vec<_> = master_cf.local(service).collect();
        if let Some(entry) = entries.iter().find(|e| e.class == class) {
            return Link::ok(
                name,
                format!("{service} is in {path} (line {})", entry.line),
            );
        }
        if let Some(entry) = entries.first() {
            return Link::bad(
                name,
                State::Failed,
                format!(
                    "{service} is {} in {path} (line {}), so nothing listens on {class}/{service}",
                    entry.class, entry.line
                ),
                format!("kick {}/{service} instead", entry.class),
            );
        }
        match master_cf.commented_out(service) {
            Some(entry) => Link::bad(
                name,
                State::Failed,
                format!(
                    "{service} is not in {path} (commented out at line {})",
                    entry.line
                ),
                "restore that entry, then postfix reload".to_owned(),
            ),
            None => Link::bad(
                name,
                State::Failed,
                format!("{service} is not in {path}"),
                format!(
                    "add {service} back (postconf -M lists the services; Postfix's own master.cf has it), then postfix reload"
                ),
            ),
        }
    }

    /// Whether `class/service`'s endpoint is there, with master running.
    fn endpoint(&self, class: &str, service: &str, master_runs: bool) -> Link {
        let name = format!("endpoint {class}/{service}");
        let path = self.queue_directory.join(class).join(service);
        match endpoint::probe(&path) {
            Ok(kind) => Link::ok(name, format!("{} is a {}", path.display(), kind.as_str())),
            Err(_) if !master_runs => Link::bad(
                name,
                State::Warning,
                format!("{} is not there (Postfix is not running)", path.display()),
                "start Postfix".to_owned(),
            ),
            Err(e) => Link::bad(
                name,
                State::Failed,
                format!("{} is not usable while master runs: {e}", path.display()),
                "postfix reload makes master create it again".to_owned(),
            ),
        }
    }

    /// Whether the maildrop is as postdrop and pickup need it.
    pub(crate) fn maildrop(&self) -> Link {
        let path = self.queue_directory.join("maildrop");
        let fix = format!(
            "postfix -c {} set-permissions (or: chown {}:{} {}; chmod 0730 {})",
            self.config_directory.display(),
            self.mail_owner,
            self.setgid_group,
            path.display(),
            path.display()
        );
        let meta = match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => meta,
            Ok(_) => {
                return Link::bad(
                    "maildrop",
                    State::Failed,
                    format!("{} is not a directory", path.display()),
                    fix,
                )
            }
            Err(e) => {
                return Link::bad(
                    "maildrop",
                    State::Failed,
                    format!(
                        "{} cannot be used: {}",
                        path.display(),
                        crate::sys::io_error_text(&e)
                    ),
                    fix,
                )
            }
        };
        let owner = crate::sys::user_id(&self.mail_owner);
        let group = crate::sys::group_id(&self.setgid_group).ok();
        let mode = meta.mode() & 0o7777;
        let shown = format!(
            "{}:{} {mode:04o}",
            crate::sys::user_name_of(meta.uid()),
            crate::sys::group_name(meta.gid())
        );
        // Postfix makes it 0730; Debian adds the sticky bit (1730).
        if owner.is_some_and(|uid| uid != meta.uid())
            || group.is_some_and(|gid| gid != meta.gid())
            || mode & 0o777 != 0o730
            || mode & 0o6000 != 0
        {
            return Link::bad(
                "maildrop",
                State::Failed,
                format!(
                    "{} is {shown}, where postdrop and pickup need {}:{} 0730 (1730 on Debian)",
                    path.display(),
                    self.mail_owner,
                    self.setgid_group
                ),
                fix,
            );
        }
        Link::ok("maildrop", format!("{} is {shown}", path.display()))
    }

    /// Whether pickup takes the maildrop's ready files (those postdrop has
    /// finished: owner-executable) within `limit`.
    pub(crate) fn pickup_draining(&self, limit: Duration) -> Link {
        let path = self.queue_directory.join("maildrop");
        let entries = match std::fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) => {
                return Link::bad(
                    "pickup",
                    State::Warning,
                    format!(
                        "cannot look in {} as user {}: {}",
                        path.display(),
                        crate::sys::user_name(),
                        crate::sys::io_error_text(&e)
                    ),
                    "run as root or as the mail owner".to_owned(),
                )
            }
        };
        let now = SystemTime::now();
        let mut late = 0usize;
        let mut oldest: Option<Duration> = None;
        for entry in entries.flatten().take(MAILDROP_LOOK) {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if !meta.is_file() || meta.mode() & 0o100 == 0 {
                continue;
            }
            let age = meta
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            if age > limit {
                late += 1;
                oldest = oldest.max(Some(age));
            }
        }
        match oldest {
            None => Link::ok(
                "pickup",
                format!("no ready file in {} is older than {}", path.display(), seconds(limit)),
            ),
            Some(age) => Link::bad(
                "pickup",
                State::Failed,
                format!(
                    "pickup is not taking files: {late} ready file{} in {}, the oldest {} old",
                    if late == 1 { "" } else { "s" },
                    path.display(),
                    seconds(age)
                ),
                "look for pickup's errors in the mail log (journalctl -u postfix, /var/log/mail.log)".to_owned(),
            ),
        }
    }

    /// The file-based links for the services in `services`: master,
    /// each service's master.cf entry and endpoint, the maildrop.
    pub(crate) fn files(
        &self,
        services: &[(String, String)],
        showq_answers: Option<bool>,
    ) -> Vec<Link> {
        let master = self.master(showq_answers);
        let master_runs = master.state == State::Ok;
        let master_cf = MasterCf::read(&self.config_directory).ok().flatten();
        let mut links = vec![master];
        let mut seen = Vec::new();
        for (class, service) in self.core().iter().chain(services) {
            if seen.contains(&(class, service)) {
                continue;
            }
            seen.push((class, service));
            links.push(self.service(master_cf.as_ref(), class, service));
            links.push(self.endpoint(class, service, master_runs));
        }
        links.push(self.maildrop());
        links
    }

    /// Every link, in the order a message meets them: the file-based
    /// ones, pickup taking files within `pickup_limit`, and what the showq
    /// `reading` taken at `read_at` (seconds since the epoch) tells.
    pub(crate) fn links(
        &self,
        services: &[(String, String)],
        pickup_limit: Duration,
        reading: &Result<QueueReading, String>,
        read_at: i64,
    ) -> Vec<Link> {
        if !self.is_postfix() {
            return Vec::new();
        }
        let mut links = self.files(services, Some(reading.is_ok()));
        links.push(self.pickup_draining(pickup_limit));
        links.extend(queue_links(reading, read_at));
        links
    }

    /// Why a kick of `class/service` failed, if a link of its path says:
    /// the first broken one of master, its master.cf entry and its
    /// endpoint.
    pub(crate) fn diagnose(&self, class: &str, service: &str) -> Option<Link> {
        if !self.is_postfix() {
            return None;
        }
        let master = self.master(None);
        if master.state != State::Ok {
            return Some(master);
        }
        let master_cf = MasterCf::read(&self.config_directory).ok().flatten();
        [
            self.service(master_cf.as_ref(), class, service),
            self.endpoint(class, service, true),
        ]
        .into_iter()
        .find(|link| link.state == State::Failed)
    }

    /// Why pickup does not take files, if a link of its path says: the
    /// first broken one of master, pickup's entry and endpoint, and the
    /// maildrop.
    pub(crate) fn diagnose_pickup(&self) -> Option<Link> {
        if !self.is_postfix() {
            return None;
        }
        self.diagnose("public", &self.pickup.clone())
            .or_else(|| Some(self.maildrop()).filter(|l| l.state == State::Failed))
    }
}

/// `45s`, `12m`, `5h`.
fn seconds(duration: Duration) -> String {
    crate::rules::display_duration(Duration::from_secs(duration.as_secs()))
}

/// The links a showq reading tells: showq answers, qmgr takes incoming,
/// the deferred and hold queues' oldest messages. `now` is when the
/// reading was taken, in seconds since the epoch.
pub(crate) fn queue_links(reading: &Result<QueueReading, String>, now: i64) -> Vec<Link> {
    let reading = match reading {
        Ok(reading) => reading,
        Err(error) => {
            return vec![Link::bad(
                "showq",
                State::Failed,
                format!("showq does not answer: {error}"),
                "is showq in master.cf, and does Postfix run? (postfix status)".to_owned(),
            )]
        }
    };
    let age = |queue: &str| -> Option<Duration> {
        let index = super::showq::QUEUES.iter().position(|q| *q == queue)?;
        let oldest = reading.queues.get(index)?.oldest?;
        Some(Duration::from_secs(
            u64::try_from(now - oldest).unwrap_or(0),
        ))
    };
    let mut links = vec![Link::ok(
        "showq",
        format!("showq answers ({} messages)", reading.total()),
    )];
    for (queue, limit, state, cause, fix) in [
        (
            "incoming",
            INCOMING_LIMIT,
            State::Failed,
            "qmgr is not taking incoming mail",
            "is qmgr in master.cf and running (postfix status; the mail log for qmgr's errors)?",
        ),
        (
            "deferred",
            DEFERRED_LIMIT,
            State::Warning,
            "mail has been deferred for long",
            "postqueue -p shows why; postqueue -f retries it now",
        ),
        (
            "hold",
            HOLD_LIMIT,
            State::Warning,
            "mail has been on hold for long",
            "postsuper -r ALL hold releases it (or postsuper -d to delete)",
        ),
    ] {
        let name = if queue == "incoming" { "qmgr" } else { queue };
        links.push(match age(queue) {
            Some(old) if old > limit => Link::bad(
                name,
                state,
                format!(
                    "{cause}: the oldest message in {queue} is {} old (more than {})",
                    seconds(old),
                    seconds(limit)
                ),
                fix.to_owned(),
            ),
            Some(old) => Link::ok(
                name,
                format!("the oldest message in {queue} is {} old", seconds(old)),
            ),
            None => Link::ok(name, format!("{queue} is empty")),
        });
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postfix::showq::QueueCount;

    #[test]
    fn queue_ages_against_their_limits() {
        let now = 1_000_000;
        let count = |oldest: Option<i64>| QueueCount {
            messages: u64::from(oldest.is_some()),
            oldest,
        };
        let reading = QueueReading {
            queues: [
                count(None),
                count(None),
                count(Some(now - 600)),
                count(Some(now - 90_000)),
                count(Some(now - 60)),
            ],
            complete: true,
        };
        let links = queue_links(&Ok(reading), now);
        let states: Vec<(&str, State)> = links.iter().map(|l| (l.name.as_str(), l.state)).collect();
        assert_eq!(
            states,
            [
                ("showq", State::Ok),
                ("qmgr", State::Failed),
                ("deferred", State::Warning),
                ("hold", State::Ok),
            ]
        );
        assert!(links[1].cause.contains("10m old"), "{}", links[1].cause);
        let down = queue_links(&Err("connection refused".into()), now);
        assert_eq!(down[0].state, State::Failed);
        assert!(down[0].cause.starts_with("showq does not answer"));
    }

    #[test]
    fn a_maildrop_with_the_wrong_mode_names_the_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let site = Site {
            config_directory: dir.path().join("etc"),
            queue_directory: dir.path().to_owned(),
            mail_owner: crate::sys::user_name(),
            setgid_group: crate::sys::group_name(dir.path().metadata().expect("meta").gid()),
            sendmail: "/usr/sbin/sendmail".into(),
            pickup: "pickup".into(),
            qmgr: "qmgr".into(),
            showq: "showq".into(),
        };
        let maildrop = dir.path().join("maildrop");
        std::fs::create_dir(&maildrop).expect("mkdir");
        std::fs::set_permissions(
            &maildrop,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        let link = site.maildrop();
        assert_eq!(link.state, State::Failed);
        assert!(
            link.cause.contains("0755") && link.fix.contains("set-permissions"),
            "{link:?}"
        );
        std::fs::set_permissions(
            &maildrop,
            std::os::unix::fs::PermissionsExt::from_mode(0o1730),
        )
        .expect("chmod");
        assert_eq!(site.maildrop().state, State::Ok);
        let master = site.master(None);
        assert_eq!(master.state, State::Failed);
        assert!(master
            .cause
            .starts_with("Postfix is not running: no master process"));
    }
}
