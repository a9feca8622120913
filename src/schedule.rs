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
pub struct CronProgress {
    after: DateTime<Utc>,
}

impl CronProgress {
    /// Starts counting from `now`: the first slot is the next one.
    pub fn starting(now: DateTime<Utc>) -> Self {
        Self { after: now }
    }

    /// The slot to fire for next; at or before the current time it is due
    /// at once.
    pub fn next(&self, cron: &Cron) -> Option<DateTime<Utc>> {
        cron.next_after(self.after)
    }

    /// Records that `slot` fired at `now`: every slot up to `now` is done.
    pub fn fired(&mut self, slot: DateTime<Utc>, now: DateTime<Utc>) {
        self.after = slot.max(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fires a rule on a simulated clock: `(wall time seen, slot fired)`.
    fn simulate(cron: &Cron, start: &str, clock: &[&str]) -> Vec<(String, String)> {
        let mut progress = CronProgress::starting(utc(start));
        let mut fired = Vec::new();
        for now in clock.iter().map(|t| utc(t)) {
            while let Some(slot) = progress.next(cron).filter(|s| *s <= now) {
                fired.push((now.to_rfc3339(), slot.to_rfc3339()));
                progress.fired(slot, now);
            }
        }
        fired
    }

    #[test]
    fn clock_jumping_forward_fires_a_due_timer_once() {
        let cron = Cron::parse("*/5 * * * *", Zone::named("UTC").expect("utc")).expect("parses");
        let fired = simulate(
            &cron,
            "2026-01-01T10:00:00Z",
            &[
                "2026-01-01T10:04:00Z",
                "2026-01-01T11:00:30Z",
                "2026-01-01T11:02:00Z",
            ],
        );
        assert_eq!(
            fired,
            vec![(
                "2026-01-01T11:00:30+00:00".to_owned(),
                "2026-01-01T10:05:00+00:00".to_owned()
            )]
        );
    }

    #[test]
    fn clock_jumping_back_never_fires_a_slot_twice() {
        let cron = Cron::parse("*/5 * * * *", Zone::named("UTC").expect("utc")).expect("parses");
        let fired = simulate(
            &cron,
            "2026-01-01T10:00:00Z",
            &[
                "2026-01-01T10:05:00Z",
                "2026-01-01T09:06:00Z",
                "2026-01-01T09:30:00Z",
                "2026-01-01T10:05:30Z",
                "2026-01-01T10:10:00Z",
            ],
        );
        let slots: Vec<&str> = fired.iter().map(|(_, slot)| slot.as_str()).collect();
        assert_eq!(
            slots,
            vec!["2026-01-01T10:05:00+00:00", "2026-01-01T10:10:00+00:00"]
        );
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("rfc3339")
            .with_timezone(&Utc)
    }

    fn new_york() -> Zone {
        Zone::named("America/New_York").expect("zone")
    }

    fn fires(expression: &str, zone: Zone, from: &str, count: usize) -> Vec<String> {
        let cron = Cron::parse(expression, zone.clone()).expect("parses");
        let mut at = utc(from);
        let mut out = Vec::new();
        for _ in 0..count {
            at = cron.next_after(at).expect("fires");
            out.push(match &zone {
                Zone::Named(tz) => at.with_timezone(tz).to_rfc3339(),
                Zone::Local => at.to_rfc3339(),
            });
        }
        out
    }

    #[test]
    fn five_fields_mean_minute_resolution() {
        let utc_zone = Zone::named("UTC").expect("utc");
        assert_eq!(
            fires("*/5 * * * *", utc_zone, "2026-01-01T00:01:30Z", 2),
            vec!["2026-01-01T00:05:00+00:00", "2026-01-01T00:10:00+00:00"]
        );
    }

    #[test]
    fn six_fields_have_seconds_first() {
        let utc_zone = Zone::named("UTC").expect("utc");
        assert_eq!(
            fires("* * * * * *", utc_zone, "2026-01-01T00:00:00Z", 2),
            vec!["2026-01-01T00:00:01+00:00", "2026-01-01T00:00:02+00:00"]
        );
    }

    #[test]
    fn crontab_weekday_numbers() {
        let utc_zone = Zone::named("UTC").expect("utc");
        // 2026-01-05 is a Monday.
        assert_eq!(
            fires("0 9 * * 1", utc_zone.clone(), "2026-01-01T00:00:00Z", 1),
            vec!["2026-01-05T09:00:00+00:00"]
        );
        assert_eq!(
            fires("0 9 * * 7", utc_zone.clone(), "2026-01-01T00:00:00Z", 1),
            vec!["2026-01-04T09:00:00+00:00"]
        );
        assert_eq!(
            fires("0 9 * * 5-7", utc_zone, "2026-01-01T00:00:00Z", 4),
            vec![
                "2026-01-02T09:00:00+00:00",
                "2026-01-03T09:00:00+00:00",
                "2026-01-04T09:00:00+00:00",
                "2026-01-09T09:00:00+00:00"
            ]
        );
    }

    #[test]
    fn day_of_month_or_weekday() {
        let utc_zone = Zone::named("UTC").expect("utc");
        // The 15th, or any Monday.
        assert_eq!(
            fires("0 0 15 * 1", utc_zone, "2026-01-01T00:00:00Z", 3),
            vec![
                "2026-01-05T00:00:00+00:00",
                "2026-01-12T00:00:00+00:00",
                "2026-01-15T00:00:00+00:00"
            ]
        );
    }

    #[test]
    fn macros() {
        let utc_zone = Zone::named("UTC").expect("utc");
        assert_eq!(
            fires("@yearly", utc_zone.clone(), "2026-03-01T00:00:00Z", 1),
            vec!["2027-01-01T00:00:00+00:00"]
        );
        assert_eq!(
            fires("@annually", utc_zone.clone(), "2026-03-01T00:00:00Z", 1),
            vec!["2027-01-01T00:00:00+00:00"]
        );
        assert_eq!(
            fires("@midnight", utc_zone.clone(), "2026-03-01T10:00:00Z", 1),
            vec!["2026-03-02T00:00:00+00:00"]
        );
        assert_eq!(
            fires("@weekly", utc_zone.clone(), "2026-01-01T00:00:00Z", 1),
            vec!["2026-01-04T00:00:00+00:00"]
        );
        assert!(Cron::parse("@reboot", utc_zone).is_err());
    }

    #[test]
    fn leap_day() {
        let utc_zone = Zone::named("UTC").expect("utc");
        assert_eq!(
            fires("0 12 29 2 *", utc_zone, "2026-01-01T00:00:00Z", 2),
            vec!["2028-02-29T12:00:00+00:00", "2032-02-29T12:00:00+00:00"]
        );
    }

    #[test]
    fn spring_forward_skipped_time_fires_once_right_after_the_change() {
        // 2026-03-08: 02:00 EST jumps to 03:00 EDT in New York.
        assert_eq!(
            fires("30 2 * * *", new_york(), "2026-03-07T12:00:00Z", 2),
            vec!["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]
        );
        // Every minute of the skipped hour collapses into one kick at 03:00.
        assert_eq!(
            fires("* 2 * * *", new_york(), "2026-03-08T06:58:00Z", 2),
            vec!["2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00"]
        );
    }

    #[test]
    fn fall_back_repeated_time_fires_once_for_a_fixed_time_job() {
        // 2026-11-01: 02:00 EDT falls back to 01:00 EST in New York.
        assert_eq!(
            fires("30 1 * * *", new_york(), "2026-10-31T12:00:00Z", 2),
            vec!["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
        );
    }

    #[test]
    fn fall_back_wildcard_job_keeps_firing_through_the_repeated_hour() {
        let got = fires("0,30 * * * *", new_york(), "2026-11-01T04:45:00Z", 4);
        assert_eq!(
            got,
            vec![
                "2026-11-01T01:00:00-04:00",
                "2026-11-01T01:30:00-04:00",
                "2026-11-01T01:00:00-05:00",
                "2026-11-01T01:30:00-05:00"
            ]
        );
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        let zone = Zone::Local;
        assert!(Cron::parse("* * *", zone.clone())
            .expect_err("3 fields")
            .contains("3 fields"));
        assert!(Cron::parse("61 * * * *", zone.clone()).is_err());
        assert!(Cron::parse("* * * * 8", zone)
            .expect_err("8")
            .contains("out of range"));
    }
}
