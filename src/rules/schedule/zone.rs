//! Time zones of cron rules: local time and IANA names alike, from the
//! system's zoneinfo, read again at every load.
//!
//! Named zones come from `$TZDIR`, else `/usr/share/zoneinfo` (Debian's
//! `tzdata`), never from tables compiled into the binary, so that a tzdata
//! update reaches the daemon at its next reload. Local time is what libc
//! would use: `$TZ` (a zone name, a file path, or a POSIX rule; empty
//! means UTC), else `/etc/localtime`, else UTC. Both kinds go through the
//! same conversion, which makes skipped and repeated wall-clock times
//! explicit ([`Resolved`]). A `$TZ` that names nothing usable is UTC, and
//! the local zone says why ([`Zone::fallback`]) for `check` and the log
//! to report. Zone files are read bounded, without blocking (a FIFO or
//! `/dev/zero` named by `$TZ` or planted in the zoneinfo tree is refused,
//! not read). Nothing here reads a clock.

use std::cell::OnceCell;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::Timestamp;

use crate::files::{read_bounded, Links};

/// A zone file larger than this is not read: the largest in tzdata is
/// some 4 KiB.
const MAX_TZIF_BYTES: u64 = 1 << 20;

/// Where zones come from for one load of a rules file.
#[derive(Debug)]
pub(crate) struct Zones {
    tz_variable: Option<String>,
    localtime: PathBuf,
    zoneinfo: PathBuf,
    local: OnceCell<Zone>,
}

impl Zones {
    /// The process's own: `$TZ`, `/etc/localtime` and `$TZDIR`.
    pub(crate) fn from_environment() -> Zones {
        let mut zones = Zones::new(std::env::var("TZ").ok(), Path::new("/etc/localtime"));
        if let Some(dir) = std::env::var_os("TZDIR").filter(|dir| !dir.is_empty()) {
            zones.zoneinfo = PathBuf::from(dir);
        }
        zones
    }

    /// Zones with a given `$TZ` and local-time file (for tests).
    pub(crate) fn new(tz_variable: Option<String>, localtime: &Path) -> Zones {
        Zones {
            tz_variable,
            localtime: localtime.to_owned(),
            zoneinfo: PathBuf::from("/usr/share/zoneinfo"),
            local: OnceCell::new(),
        }
    }

    /// An IANA zone from the system's zoneinfo.
    pub(crate) fn named(&self, name: &str) -> Option<Zone> {
        self.zone_file(name).ok().map(|tz| Zone {
            tz,
            name: Some(name.to_owned()),
            fallback: None,
        })
    }

    /// The zone a misspelt `name` most likely meant: the same name in
    /// another case, or one at most two edits away, among the zoneinfo
    /// directory's zones (looked through only when a name is unknown).
    pub(crate) fn suggest(&self, name: &str) -> Option<String> {
        let names = self.zone_names();
        if let Some(same) = names.iter().find(|n| n.eq_ignore_ascii_case(name)) {
            return Some(same.clone());
        }
        crate::rules::closest(name, names.iter().map(String::as_str)).map(str::to_owned)
    }

    /// The zones in the zoneinfo directory: `Area/Place` names (and
    /// `UTC`), at most a few thousand, without the posix/ and right/
    /// copies.
    fn zone_names(&self) -> Vec<String> {
        const MOST: usize = 5000;
        let mut names = Vec::new();
        let mut pending = vec![(self.zoneinfo.clone(), String::new(), 0)];
        while let Some((dir, prefix, depth)) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                if names.len() >= MOST || !file.starts_with(|c: char| c.is_ascii_uppercase()) {
                    continue;
                }
                let name = format!("{prefix}{file}");
                match entry.file_type() {
                    Ok(kind) if kind.is_dir() && depth < 2 => {
                        pending.push((entry.path(), format!("{name}/"), depth + 1));
                    }
                    Ok(kind) if kind.is_file() || kind.is_symlink() => names.push(name),
                    _ => {}
                }
            }
        }
        names
    }

    /// The zone file of `name`, a relative path inside the zoneinfo
    /// directory and nothing else.
    fn zone_file(&self, name: &str) -> Result<TimeZone, String> {
        let path = Path::new(name);
        let inside = !name.is_empty()
            && path
                .components()
                .all(|part| matches!(part, Component::Normal(_)));
        if !inside {
            return Err(format!("no zone is named \"{name}\""));
        }
        read_tzif(&self.zoneinfo.join(path), name)
    }

    /// The system's local time.
    pub(crate) fn local(&self) -> Zone {
        self.local
            .get_or_init(|| {
                let (tz, fallback) = match self.local_time_zone() {
                    Ok(tz) => (tz, None),
                    Err(why) => (TimeZone::UTC, Some(Arc::from(why))),
                };
                Zone {
                    tz,
                    name: None,
                    fallback,
                }
            })
            .clone()
    }

    /// Local time as libc would take it, or why it cannot be.
    fn local_time_zone(&self) -> Result<TimeZone, String> {
        let value = match self.tz_variable.as_deref() {
            None => {
                return match read_tzif(&self.localtime, "Local") {
                    // No /etc/localtime is UTC, for libc too.
                    Err(_) if !self.localtime.exists() => Ok(TimeZone::UTC),
                    found => found.map_err(|why| format!("{}: {why}", self.localtime.display())),
                };
            }
            Some("") => return Ok(TimeZone::UTC),
            Some(value) => value,
        };
        let named = value.strip_prefix(':').unwrap_or(value);
        let found = if named.starts_with('/') {
            read_tzif(Path::new(named), "Local")
        } else {
            self.zone_file(named)
                .or_else(|why| TimeZone::posix(named).map_err(|_| why))
        };
        found.map_err(|why| {
            format!(
                "TZ=\"{value}\" names no usable time zone ({why}; nor is it a POSIX TZ rule): local time is taken as UTC; set TZ to a zone such as Europe/Paris, or unset it to use /etc/localtime"
            )
        })
    }
}

/// A zone from its TZif file at `path`; `name` unless the path is a
/// symlink into a zoneinfo tree, which names it.
fn read_tzif(path: &Path, name: &str) -> Result<TimeZone, String> {
    let data = read_bounded(path, MAX_TZIF_BYTES, Links::Follow)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let name = std::fs::read_link(path)
        .ok()
        .and_then(|target| {
            let target = target.to_string_lossy().into_owned();
            target
                .split_once("zoneinfo/")
                .map(|(_, name)| name.to_owned())
        })
        .unwrap_or_else(|| name.to_owned());
    TimeZone::tzif(&name, &data).map_err(|e| format!("{}: not a zone file: {e}", path.display()))
}

/// A cron rule's zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    tz: TimeZone,
    /// The IANA name, for a named zone; `None` for local time.
    name: Option<String>,
    /// Why local time is UTC when `$TZ` or `/etc/localtime` asked for
    /// another zone that could not be read.
    fallback: Option<Arc<str>>,
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
            fallback: None,
        }
    }

    /// Why this local zone is UTC against what the system asked for.
    pub(crate) fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
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
