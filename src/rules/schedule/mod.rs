//! When timer rules fire: cron expressions in a time zone, and intervals.
//!
//! A cron expression is read the way crontab users write it: 5 fields
//! (minute hour day month weekday), 6 (seconds first), 7 (with a year), or
//! one of `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
//! `@midnight`, `@hourly`. Weekday numbers are crontab's (0 and 7 are
//! Sunday); when both day of month and weekday are restricted, either one
//! matching is enough, as in cron. The `cron` crate matches wall-clock
//! times; this module maps them to instants in the rule's zone the way
//! cronie does across daylight-saving changes: a time skipped by the change
//! fires once right after it; a repeated time fires once for a fixed-time
//! job, while a job whose minute or hour is a wildcard keeps firing through
//! the repeated hour. Every computation takes the current instant as an
//! argument: nothing here reads a clock.

use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};

/// The zone a cron rule's wall-clock times are in.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    /// The system's local time (`TZ`, else `/etc/localtime`).
    Local,
    /// An IANA zone such as `Europe/Paris`.
    Named(chrono_tz::Tz),
}

impl Zone {
    /// Parses an IANA zone name.
    pub fn named(name: &str) -> Option<Self> {
        name.parse::<chrono_tz::Tz>().ok().map(Self::Named)
    }

    /// An instant as wall-clock time in this zone, with its offset.
    pub fn display(&self, instant: DateTime<Utc>) -> String {
        const FORMAT: &str = "%Y-%m-%d %H:%M:%S %:z";
        match self {
            Self::Local => instant
                .with_timezone(&chrono::Local)
                .format(FORMAT)
                .to_string(),
            Self::Named(tz) => {
                format!("{} {}", instant.with_timezone(tz).format(FORMAT), tz.name())
            }
        }
    }

    fn wall_clock(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Self::Local => instant.with_timezone(&chrono::Local).naive_local(),
            Self::Named(tz) => instant.with_timezone(tz).naive_local(),
        }
    }

    fn instants(&self, wall: &NaiveDateTime) -> LocalResult<DateTime<Utc>> {
        let to_utc = |r: LocalResult<DateTime<_>>| r.map(|t| t.with_timezone(&Utc));
        match self {
            Self::Local => to_utc(
                chrono::Local
                    .from_local_datetime(wall)
                    .map(|t| t.fixed_offset()),
            ),
            Self::Named(tz) => to_utc(tz.from_local_datetime(wall).map(|t| t.fixed_offset())),
        }
    }

    /// True when the zone's UTC offset changes within three hours of
    /// `instant`: only then can a wall-clock hour repeat.
    fn changes_offset_near(&self, instant: DateTime<Utc>) -> bool {
        use chrono::Offset;
        let window = chrono::Duration::hours(3);
        let offset = |t: DateTime<Utc>| match self {
            Self::Local => t.with_timezone(&chrono::Local).offset().fix(),
            Self::Named(tz) => t.with_timezone(tz).offset().fix(),
        };
        offset(instant - window) != offset(instant + window)
    }

    /// The first instant after a wall-clock time that a daylight-saving
    /// change skipped: the moment the clocks jumped.
    fn end_of_gap(&self, skipped: NaiveDateTime) -> Option<DateTime<Utc>> {
        let valid = |wall: &NaiveDateTime| match self.instants(wall) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
            LocalResult::None => None,
        };
        let minute = chrono::Duration::minutes(1);
        let second = chrono::Duration::seconds(1);
        // Gaps are at most a few hours and change at whole minutes in
        // practice: find the first valid minute, then its first second.
        let mut wall = skipped;
        for _ in 0..24 * 60 {
            wall += minute;
            if let Some(mut first) = valid(&wall) {
                for _ in 0..60 {
                    match valid(&(wall - second)) {
                        Some(earlier) => {
                            wall -= second;
                            first = earlier;
                        }
                        None => break,
                    }
                }
                return Some(first);
            }
        }
        None
    }
}

/// A parsed cron expression.
#[derive(Debug, Clone)]
pub struct Cron {
    /// One schedule, or two whose union is the expression (cron's "day of
    /// month or weekday" rule).
    schedules: Vec<cron::Schedule>,
    /// Minute or hour is a wildcard: fires through a repeated hour.
    wildcard: bool,
    zone: Zone,
}

const MACROS: &[(&str, &str)] = &[
    ("@yearly", "0 0 0 1 1 *"),
    ("@annually", "0 0 0 1 1 *"),
    ("@monthly", "0 0 0 1 * *"),
    ("@weekly", "0 0 0 * * SUN"),
    ("@daily", "0 0 0 * * *"),
    ("@midnight", "0 0 0 * * *"),
    ("@hourly", "0 0 * * * *"),
];

const WEEKDAYS: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];

/// Rewrites a crontab weekday field (0-7, 0 and 7 Sunday) into names, which
/// the `cron` crate reads unambiguously.
fn weekday_field(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" {
        return Ok(field.to_owned());
    }
    let mut names = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: usize = step
                    .parse()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("bad step \"{step}\" in weekday field"))?;
                (range, step)
            }
            None => (part, 1),
        };
        let numeric = |text: &str| -> Result<Option<usize>, String> {
            if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() {
                let n: usize = text
                    .parse()
                    .map_err(|_| format!("bad weekday \"{text}\""))?;
                if n > 7 {
                    return Err(format!("weekday {n} out of range 0-7"));
                }
                Ok(Some(n))
            } else {
                Ok(None)
            }
        };
        let bounds = match range {
            "*" => Some((0, 6)),
            _ => match range.split_once('-') {
                Some((a, b)) => match (numeric(a)?, numeric(b)?) {
                    (Some(a), Some(b)) if a <= b => Some((a, b)),
                    (Some(a), Some(b)) => {
                        return Err(format!("weekday range {a}-{b} runs backwards"))
                    }
                    _ => None,
                },
                None => numeric(range)?.map(|n| (n, n)),
            },
        };
        match bounds {
            Some((first, last)) => {
                names.extend((first..=last).step_by(step).map(|n| WEEKDAYS[n].to_owned()));
            }
            None => names.push(part.to_owned()),
        }
    }
    names.dedup();
    Ok(names.join(","))
}

fn is_restricted(field: &str) -> bool {
    field != "*" && field != "?"
}

impl Cron {
    /// Parses a cron expression for wall-clock times in `zone`.
    pub fn parse(expression: &str, zone: Zone) -> Result<Self, String> {
        let expression = expression.trim();
        let expanded = match MACROS.iter().find(|(name, _)| *name == expression) {
            Some((_, fields)) => (*fields).to_owned(),
            None if expression.starts_with('@') => {
                return Err(format!(
                    "unknown macro \"{expression}\" (use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly; for a kick at start-up use on_start: true)"
                ))
            }
            None => expression.to_owned(),
        };
        let mut fields: Vec<String> = expanded.split_whitespace().map(str::to_owned).collect();
        match fields.len() {
            5 => fields.insert(0, "0".to_owned()),
            6 | 7 => {}
            n => {
                return Err(format!(
                    "{n} fields (use 5: minute hour day month weekday; 6 with seconds first; 7 with a year)"
                ))
            }
        }
        fields[5] = weekday_field(&fields[5])?;
        let wildcard = fields[1].starts_with('*') || fields[2].starts_with('*');
        let variants = if is_restricted(&fields[3]) && is_restricted(&fields[5]) {
            let mut by_day = fields.clone();
            by_day[5] = "*".to_owned();
            let mut by_weekday = fields;
            by_weekday[3] = "*".to_owned();
            vec![by_day, by_weekday]
        } else {
            vec![fields]
        };
        let schedules = variants
            .iter()
            .map(|f| cron::Schedule::from_str(&f.join(" ")).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            schedules,
            wildcard,
            zone,
        })
    }

    /// The next wall-clock time after `wall` that the expression matches.
    fn next_wall(&self, wall: NaiveDateTime) -> Option<NaiveDateTime> {
        let as_utc = Utc.from_utc_datetime(&wall);
        self.schedules
            .iter()
            .filter_map(|s| s.after(&as_utc).next())
            .min()
            .map(|t| t.naive_utc())
    }

    /// The zone the expression's times are in.
    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// The first instant strictly after `after` at which the rule fires.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let forward = self.next_forward(after);
        if !self.wildcard || !self.zone.changes_offset_near(after) {
            return forward;
        }
        [forward, self.next_in_repeated_hour(after)]
            .into_iter()
            .flatten()
            .min()
    }

    /// A wildcard job's next fire time on the second pass through a
    /// repeated hour, whose wall-clock times lie behind the current one.
    fn next_in_repeated_hour(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let now = self.zone.wall_clock(after);
        let end = now + chrono::Duration::hours(3);
        let mut wall = now - chrono::Duration::hours(3);
        while let Some(candidate) = self.next_wall(wall).filter(|c| *c <= end) {
            if let LocalResult::Ambiguous(_, second) = self.zone.instants(&candidate) {
                if second > after {
                    return Some(second);
                }
            }
            wall = candidate;
        }
        None
    }

    /// The next fire time found by walking wall-clock time forward.
    fn next_forward(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut wall = self.zone.wall_clock(after);
        // A repeated hour can put up to an hour of candidates behind us.
        for _ in 0..100_000 {
            let candidate = self.next_wall(wall)?;
            wall = candidate;
            let instant = match self.zone.instants(&candidate) {
                LocalResult::Single(t) => Some(t),
                LocalResult::Ambiguous(first, second) => {
                    if first > after {
                        Some(first)
                    } else if self.wildcard {
                        Some(second)
                    } else {
                        None
                    }
                }
                LocalResult::None => self.zone.end_of_gap(candidate),
            };
            if let Some(t) = instant.filter(|t| *t > after) {
                return Some(t);
            }
        }
        None
    }
}

/// A cron rule's progress through its fire times, robust to clock jumps:
/// slots missed while the clock jumped forward (or the machine slept)
/// collapse into one fire, and a clock set back never repeats a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CronProgress {
    after: DateTime<Utc>,
}

impl CronProgress {
    /// Starts counting from `now`: the first slot is the next one.
    pub(crate) fn starting(now: DateTime<Utc>) -> Self {
        Self { after: now }
    }

    /// The slot to fire for next; at or before the current time it is due
    /// at once.
    pub(crate) fn next(&self, cron: &Cron) -> Option<DateTime<Utc>> {
        cron.next_after(self.after)
    }

    /// Records that `slot` fired at `now`: every slot up to `now` is done.
    pub(crate) fn fired(&mut self, slot: DateTime<Utc>, now: DateTime<Utc>) {
        self.after = slot.max(now);
    }
}

#[cfg(test)]
mod tests;
