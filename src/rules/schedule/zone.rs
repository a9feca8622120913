//! Time zones of cron rules: local time and IANA names alike, from the
//! system's zoneinfo, read again at every load.
//!
//! Named zones come from `$TZDIR`, else `/usr/share/zoneinfo` (Debian's
//! `tzdata`), never from tables compiled into the binary, so that a tzdata
//! update reaches the daemon at its next reload. Local time is what libc
//! would use: `$TZ` (a zone name, a file path, or a POSIX rule; empty
//! means UTC), else `/etc/localtime`, else UTC. Both kinds go through the
//! same conversion, which makes skipped and repeated wall-clock times
//! explicit ([`Resolved`]). Nothing here reads a clock.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone, TimeZoneDatabase};
use jiff::Timestamp;

/// Where zones come from for one load of a rules file.
#[derive(Debug)]
pub(crate) struct Zones {
    tz_variable: Option<String>,
    localtime: PathBuf,
    database: OnceCell<TimeZoneDatabase>,
    local: OnceCell<Zone>,
}

impl Zones {
    /// The process's own: `$TZ`, `/etc/localtime` and `$TZDIR`.
    pub(crate) fn from_environment() -> Zones {
        Zones::new(std::env::var("TZ").ok(), Path::new("/etc/localtime"))
    }

    /// Zones with a given `$TZ` and local-time file (for tests).
    pub(crate) fn new(tz_variable: Option<String>, localtime: &Path) -> Zones {
        Zones {
            tz_variable,
            localtime: localtime.to_owned(),
            database: OnceCell::new(),
            local: OnceCell::new(),
        }
    }

    fn database(&self) -> &TimeZoneDatabase {
        self.database.get_or_init(TimeZoneDatabase::from_env)
    }

    /// An IANA zone from the system's database.
    pub(crate) fn named(&self, name: &str) -> Option<Zone> {
        let tz = self.database().get(name).ok()?;
        Some(Zone {
            tz,
            name: Some(name.to_owned()),
        })
    }

    /// The system's local time.
    pub(crate) fn local(&self) -> Zone {
        self.local
            .get_or_init(|| Zone {
                tz: self.local_time_zone(),
                name: None,
            })
            .clone()
    }

    fn local_time_zone(&self) -> TimeZone {
        match self.tz_variable.as_deref() {
            None => read_tzif(&self.localtime).unwrap_or(TimeZone::UTC),
            Some("") => TimeZone::UTC,
            Some(value) => {
                let value = value.strip_prefix(':').unwrap_or(value);
                if value.starts_with('/') {
                    read_tzif(Path::new(value)).unwrap_or(TimeZone::UTC)
                } else {
                    self.database()
                        .get(value)
                        .or_else(|_| TimeZone::posix(value))
                        .unwrap_or(TimeZone::UTC)
                }
            }
        }
    }
}

fn read_tzif(path: &Path) -> Option<TimeZone> {
    let data = std::fs::read(path).ok()?;
    let name = std::fs::read_link(path)
        .ok()
        .and_then(|target| {
            let target = target.to_string_lossy().into_owned();
            target
                .split_once("zoneinfo/")
                .map(|(_, name)| name.to_owned())
        })
        .unwrap_or_else(|| "Local".to_owned());
    TimeZone::tzif(&name, &data).ok()
}

/// A cron rule's zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    tz: TimeZone,
    /// The IANA name, for a named zone; `None` for local time.
    name: Option<String>,
}

/// What a wall-clock time is in a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// One instant.
    Single(Timestamp),
    /// A repeated time: its first and its second pass.
    Fold(Timestamp, Timestamp),
    /// A skipped time: the instant the clocks jumped over it.
    Gap(Timestamp),
}

impl Zone {
    /// UTC, for tests and for rules that name it.
    #[cfg(test)]
    pub(crate) fn utc() -> Zone {
        Zone {
            tz: TimeZone::UTC,
            name: Some("UTC".to_owned()),
        }
    }

    /// The wall-clock time at `instant`.
    pub(crate) fn wall_clock(&self, instant: Timestamp) -> DateTime {
        self.tz.to_datetime(instant)
    }

    /// The instants a wall-clock time stands for.
    pub(crate) fn resolve(&self, wall: DateTime) -> Option<Resolved> {
        let ambiguous = self.tz.to_ambiguous_timestamp(wall);
        let at = |offset: Offset| offset.to_timestamp(wall).ok();
        Some(match ambiguous.offset() {
            AmbiguousOffset::Unambiguous { offset } => Resolved::Single(at(offset)?),
            AmbiguousOffset::Fold { before, after } => Resolved::Fold(at(before)?, at(after)?),
            AmbiguousOffset::Gap { after, .. } => {
                // Read with the offset of after the change, a skipped time
                // lies before the change: the next transition is the jump.
                let before_jump = at(after)?;
                Resolved::Gap(self.tz.following(before_jump).next()?.timestamp())
            }
        })
    }

    /// The wall-clock span repeated by a change of offset within three
    /// hours either side of `instant`, if there is one: `[start, end)`.
    pub(crate) fn fold_near(&self, instant: Timestamp) -> Option<(DateTime, DateTime)> {
        let window = jiff::SignedDuration::from_hours(3);
        let from = instant.checked_sub(window).ok()?;
        let until = instant.checked_add(window).ok()?;
        let change = self.tz.following(from).next()?;
        if change.timestamp() > until {
            return None;
        }
        let before = self.tz.to_offset(
            change
                .timestamp()
                .checked_sub(jiff::SignedDuration::from_secs(1))
                .ok()?,
        );
        let after = change.offset();
        if after >= before {
            return None;
        }
        Some((
            after.to_datetime(change.timestamp()),
            before.to_datetime(change.timestamp()),
        ))
    }

    /// An instant as wall-clock time in this zone, with its offset (and the
    /// zone's name when it has one).
    pub fn display(&self, instant: Timestamp) -> String {
        let wall = self.tz.to_datetime(instant);
        let offset = self.tz.to_offset(instant).seconds();
        let sign = if offset < 0 { '-' } else { '+' };
        let offset = offset.unsigned_abs();
        let text = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {sign}{:02}:{:02}",
            wall.year(),
            wall.month(),
            wall.day(),
            wall.hour(),
            wall.minute(),
            wall.second(),
            offset / 3600,
            offset % 3600 / 60
        );
        match &self.name {
            Some(name) => format!("{text} {name}"),
            None => text,
        }
    }
}
