//! When cron rules fire: crontab's dialect in a time zone.
//!
//! An expression is read the way crontab users write it, as cronie reads
//! it (see `fields`): 5 fields (minute hour day month weekday), 6 (seconds
//! first), 7 (with a year), or one of `@yearly`, `@annually`, `@monthly`,
//! `@weekly`, `@daily`, `@midnight`, `@hourly`. When day of month and
//! weekday are both restricted (neither starts with `*`), either one
//! matching is enough; otherwise both must match. Matching wall-clock
//! times are mapped to instants in the rule's zone (`zone`) the way cronie
//! behaves across daylight-saving changes, for local time and named zones
//! alike: a time skipped by the change fires once, right after it; a
//! repeated time fires once for a fixed-time job, while a job whose minute
//! or hour starts with `*` keeps firing through the repeated hour. Every
//! computation takes the current instant as an argument: nothing here
//! reads a clock.

mod fields;
mod zone;

pub use fields::CronError;
pub use zone::Zone;
pub(crate) use zone::Zones;

use jiff::civil::DateTime;
use jiff::Timestamp;

use fields::{Field, FieldKind};
use zone::Resolved;

/// A parsed cron expression in its zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    second: Field,
    minute: Field,
    hour: Field,
    day_of_month: Field,
    month: Field,
    day_of_week: Field,
    year: Field,
    /// Minute or hour starts with `*`: fires through a repeated hour.
    wildcard: bool,
    zone: Zone,
}

const MACROS: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// The fields of 5, 6 and 7-field expressions, in order.
const LAYOUTS: [&[FieldKind]; 3] = {
    use FieldKind::*;
    [
        &[Minute, Hour, DayOfMonth, Month, DayOfWeek],
        &[Second, Minute, Hour, DayOfMonth, Month, DayOfWeek],
        &[Second, Minute, Hour, DayOfMonth, Month, DayOfWeek, Year],
    ]
};

/// The words of `text` with their byte offsets.
fn words(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out
}

impl Cron {
    /// Parses a cron expression for wall-clock times in `zone`.
    pub fn parse(expression: &str, zone: Zone) -> Result<Self, CronError> {
        let fail = |span: (usize, usize), problem: String| CronError {
            expression: expression.to_owned(),
            span,
            problem,
        };
        let trimmed = expression.trim();
        let macro_at = expression.len() - expression.trim_start().len();
        let (text, base) = match MACROS.iter().find(|(name, _)| *name == trimmed) {
            Some((_, fields)) => (*fields, None),
            None if trimmed.starts_with('@') => {
                let meant = crate::rules::closest(trimmed, MACROS.iter().map(|(name, _)| *name))
                    .map_or(String::new(), |name| format!(": did you mean {name}?"));
                return Err(fail(
                    (macro_at, trimmed.len()),
                    format!("unknown macro \"{trimmed}\"{meant}: use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly (for a kick at start-up, on_start: true)"),
                ));
            }
            None => (expression, Some(0)),
        };
        let words = words(text);
        let Some(layout) = LAYOUTS.iter().find(|l| l.len() == words.len()) else {
            return Err(fail(
                (macro_at, trimmed.len()),
                format!(
                    "{} fields: write 5 (minute hour day-of-month month weekday), 6 with seconds first, or 7 with a year after them",
                    words.len()
                ),
            ));
        };
        let mut cron = Cron {
            second: Field::every(FieldKind::Second),
            minute: Field::every(FieldKind::Minute),
            hour: Field::every(FieldKind::Hour),
            day_of_month: Field::every(FieldKind::DayOfMonth),
            month: Field::every(FieldKind::Month),
            day_of_week: Field::every(FieldKind::DayOfWeek),
            year: Field::every(FieldKind::Year),
            wildcard: false,
            zone,
        };
        if layout.len() == 5 {
            cron.second = Field::only(FieldKind::Second, 0);
        }
        for (kind, (at, word)) in layout.iter().zip(&words) {
            let field = fields::parse(*kind, word, base.map_or(macro_at, |b| b + at)).map_err(
                |(start, len, problem)| match base {
                    Some(_) => fail((start, len), problem),
                    None => fail((macro_at, trimmed.len()), problem),
                },
            )?;
            *cron.field_mut(*kind) = field;
        }
        cron.wildcard = cron.minute.star || cron.hour.star;
        if cron.next_wall_from(civil(YEAR_ZERO)).is_none() {
            return Err(fail(
                (macro_at, trimmed.len()),
                "this expression matches no date: it would never fire".to_owned(),
            ));
        }
        Ok(cron)
    }

    fn field_mut(&mut self, kind: FieldKind) -> &mut Field {
        match kind {
            FieldKind::Second => &mut self.second,
            FieldKind::Minute => &mut self.minute,
            FieldKind::Hour => &mut self.hour,
            FieldKind::DayOfMonth => &mut self.day_of_month,
            FieldKind::Month => &mut self.month,
            FieldKind::DayOfWeek => &mut self.day_of_week,
            FieldKind::Year => &mut self.year,
        }
    }

    /// The zone the expression's times are in.
    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// How many times a minute the rule can fire: more than one only with a
    /// seconds field.
    pub(crate) fn fires_per_minute(&self) -> usize {
        (0..60).filter(|s| self.second.has(*s)).count()
    }

    /// How `expression` is read, field by field (`second 30, minute 7,
    /// ...`), for an expression of 5, 6 or 7 fields.
    pub(crate) fn reading(expression: &str) -> Option<String> {
        let words = words(expression);
        let layout = LAYOUTS.iter().find(|l| l.len() == words.len())?;
        Some(
            layout
                .iter()
                .zip(&words)
                .map(|(kind, (_, word))| format!("{} {word}", kind.noun()))
                .collect::<Vec<_>>()
                .join(", "),
        )
    }

    /// Whether the expression matches a date (day of month, month, weekday,
    /// year; cron's rule for combining day of month and weekday).
    fn matches_date(&self, year: u32, month: u32, day: u32, weekday: u32) -> bool {
        let by_day = self.day_of_month.has(day);
        let by_weekday = self.day_of_week.has(weekday);
        let day_ok = if self.day_of_month.star || self.day_of_week.star {
            by_day && by_weekday
        } else {
            by_day || by_weekday
        };
        self.year.has(year) && self.month.has(month) && day_ok
    }

    /// Whether the expression matches a wall-clock time.
    #[cfg(test)]
    pub(crate) fn matches(&self, wall: DateTime) -> bool {
        let parts = Parts::of(wall);
        self.matches_date(parts.year, parts.month, parts.day, weekday(wall.date()))
            && self.hour.has(parts.hour)
            && self.minute.has(parts.minute)
            && self.second.has(parts.second)
    }

    /// The first matching wall-clock time at or after `from`.
    fn next_wall_from(&self, from: DateTime) -> Option<DateTime> {
        let mut p = Parts::of(from);
        let (_, last_year) = fields::YEARS;
        loop {
            p.carry();
            if p.year > last_year {
                return None;
            }
            if !self.year.has(p.year) {
                p.year = self.year.next_from(p.year + 1, last_year)?;
                p.restart(Unit::Month);
                continue;
            }
            let Some(month) = self.month.next_from(p.month, 12) else {
                p.year += 1;
                p.restart(Unit::Month);
                continue;
            };
            if month != p.month {
                p.month = month;
                p.restart(Unit::Day);
            }
            let Some(date) = p.date() else {
                p.next_month();
                continue;
            };
            if !self.matches_date(p.year, p.month, p.day, weekday(date)) {
                p.day += 1;
                p.restart(Unit::Hour);
                continue;
            }
            // A unit with no match left runs past its end; carry() then
            // moves on to the next larger unit.
            match self.hour.next_from(p.hour, 23) {
                None => p.hour = 24,
                Some(hour) if hour != p.hour => {
                    p.hour = hour;
                    p.restart(Unit::Minute);
                }
                Some(_) => match self.minute.next_from(p.minute, 59) {
                    None => p.minute = 60,
                    Some(minute) if minute != p.minute => {
                        p.minute = minute;
                        p.second = 0;
                    }
                    Some(_) => match self.second.next_from(p.second, 59) {
                        None => p.second = 60,
                        Some(second) => {
                            p.second = second;
                            return p.datetime();
                        }
                    },
                },
            }
        }
    }

    /// The first matching wall-clock time strictly after `wall`.
    fn next_wall(&self, wall: DateTime) -> Option<DateTime> {
        let next_second = wall
            .with()
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(jiff::SignedDuration::from_secs(1))
            .ok()?;
        self.next_wall_from(next_second)
    }

    /// The first instant strictly after `after` at which the rule fires.
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        let forward = self.next_forward(after);
        if !self.wildcard {
            return forward;
        }
        let Some((start, end)) = self.zone.fold_near(after) else {
            return forward;
        };
        // A wildcard job also fires on the second pass through a repeated
        // hour, whose wall-clock times may lie behind the current one.
        let mut wall = start.checked_sub(jiff::SignedDuration::from_secs(1)).ok()?;
        while let Some(candidate) = self.next_wall(wall).filter(|c| *c < end) {
            if let Some(Resolved::Fold(_, second)) = self.zone.resolve(candidate) {
                if second > after {
                    return [forward, Some(second)].into_iter().flatten().min();
                }
            }
            wall = candidate;
        }
        forward
    }

    /// The next fire time found by walking wall-clock time forward.
    fn next_forward(&self, after: Timestamp) -> Option<Timestamp> {
        let mut wall = self.zone.wall_clock(after);
        loop {
            let candidate = self.next_wall(wall)?;
            wall = candidate;
            let instant = match self.zone.resolve(candidate)? {
                Resolved::Single(t) | Resolved::Gap(t) => Some(t),
                Resolved::Fold(first, _) if first > after => Some(first),
                Resolved::Fold(_, second) if self.wildcard => Some(second),
                Resolved::Fold(..) => None,
            };
            if let Some(t) = instant.filter(|t| *t > after) {
                return Some(t);
            }
        }
    }
}

/// 1970-01-01 00:00:00, where the year field starts.
const YEAR_ZERO: (u32, u32, u32) = (1970, 1, 1);

fn civil((year, month, day): (u32, u32, u32)) -> DateTime {
    Parts {
        year,
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
    }
    .datetime()
    .unwrap_or(DateTime::MIN)
}

/// Crontab's weekday number: Sunday 0.
fn weekday(date: jiff::civil::Date) -> u32 {
    u32::from(date.weekday().to_sunday_zero_offset().unsigned_abs())
}

/// The units of a wall-clock time, largest first.
#[derive(Clone, Copy)]
enum Unit {
    Month,
    Day,
    Hour,
    Minute,
}

/// A wall-clock time as plain numbers, which may run past their field's
/// end while a search carries over.
#[derive(Debug, Clone, Copy)]
struct Parts {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Parts {
    fn of(wall: DateTime) -> Parts {
        let n = |v: i8| u32::from(v.unsigned_abs());
        Parts {
            year: u32::from(wall.year().unsigned_abs()),
            month: n(wall.month()),
            day: n(wall.day()),
            hour: n(wall.hour()),
            minute: n(wall.minute()),
            second: n(wall.second()),
        }
    }

    /// Resets every unit below `unit`'s parent to its start: `Month` means
    /// January the 1st at midnight, `Day` the 1st at midnight, and so on.
    fn restart(&mut self, unit: Unit) {
        if matches!(unit, Unit::Month) {
            self.month = 1;
        }
        if matches!(unit, Unit::Month | Unit::Day) {
            self.day = 1;
        }
        if matches!(unit, Unit::Month | Unit::Day | Unit::Hour) {
            self.hour = 0;
        }
        self.minute = 0;
        self.second = 0;
    }

    /// Moves a unit that ran past its end on to the next larger one.
    fn carry(&mut self) {
        if self.second > 59 {
            self.second = 0;
            self.minute += 1;
        }
        if self.minute > 59 {
            self.minute = 0;
            self.second = 0;
            self.hour += 1;
        }
        if self.hour > 23 {
            self.day += 1;
            self.restart(Unit::Hour);
        }
    }

    fn next_month(&mut self) {
        self.month += 1;
        if self.month > 12 {
            self.year += 1;
            self.month = 1;
        }
        self.restart(Unit::Day);
    }

    /// The date, if the day exists in its month.
    fn date(&self) -> Option<jiff::civil::Date> {
        let year = i16::try_from(self.year).ok()?;
        let month = i8::try_from(self.month).ok()?;
        let day = i8::try_from(self.day).ok()?;
        jiff::civil::Date::new(year, month, day).ok()
    }

    fn datetime(&self) -> Option<DateTime> {
        let time = jiff::civil::Time::new(
            i8::try_from(self.hour).ok()?,
            i8::try_from(self.minute).ok()?,
            i8::try_from(self.second).ok()?,
            0,
        )
        .ok()?;
        Some(self.date()?.to_datetime(time))
    }
}

/// A cron rule's progress through its fire times, robust to clock jumps:
/// slots missed while the clock jumped forward (or the machine slept)
/// collapse into one fire, and a clock set back never repeats a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CronProgress {
    after: Timestamp,
}

impl CronProgress {
    /// Starts counting from `now`: the first slot is the next one.
    pub(crate) fn starting(now: Timestamp) -> Self {
        Self { after: now }
    }

    /// The slot to fire for next; at or before the current time it is due
    /// at once.
    pub(crate) fn next(&self, cron: &Cron) -> Option<Timestamp> {
        cron.next_after(self.after)
    }

    /// Records that `slot` fired at `now`: every slot up to `now` is done.
    pub(crate) fn fired(&mut self, slot: Timestamp, now: Timestamp) {
        self.after = slot.max(now);
    }
}

#[cfg(test)]
mod tests;
