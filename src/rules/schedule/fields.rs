//! The fields of a cron expression, read as cronie reads a crontab line.
//!
//! Each field is a comma-separated list of `*`, `N`, `N-M`, each optionally
//! followed by `/STEP`; months and weekdays also take their English names
//! (`JAN`, `mon`), mixed freely with numbers (`MON-5`). `N/STEP` means from
//! `N` to the field's last value, in every field alike. A weekday range
//! that ends on Sunday written as 0 wraps (`FRI-SUN`, `6-0`), as in cronie;
//! any other range must run from low to high. A field counts as restricted
//! when it does not start with `*` (crontab(5)), which decides how day of
//! month and weekday combine. Every mistake names the field, its bounds and
//! the text the user wrote, with its place in the expression.

use std::fmt;

/// Which field of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// Seconds (6 and 7 field expressions).
    Second,
    /// Minutes.
    Minute,
    /// Hours.
    Hour,
    /// Day of month.
    DayOfMonth,
    /// Month.
    Month,
    /// Day of week, Sunday 0 or 7.
    DayOfWeek,
    /// Year (7 field expressions).
    Year,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// The first and last year a 7-field expression may name.
pub(crate) const YEARS: (u32, u32) = (1970, 2099);

impl FieldKind {
    /// The smallest and largest value.
    pub(crate) fn bounds(self) -> (u32, u32) {
        match self {
            Self::Second | Self::Minute => (0, 59),
            Self::Hour => (0, 23),
            Self::DayOfMonth => (1, 31),
            Self::Month => (1, 12),
            Self::DayOfWeek => (0, 7),
            Self::Year => YEARS,
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            Self::Month => &MONTHS,
            Self::DayOfWeek => &WEEKDAYS,
            _ => &[],
        }
    }

    /// The field as a message names it.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::DayOfMonth => "day of month",
            Self::Month => "month",
            Self::DayOfWeek => "weekday",
            Self::Year => "year",
        }
    }

    /// What the field accepts, as the end of a sentence.
    fn accepts(self) -> String {
        let (low, high) = self.bounds();
        match self {
            Self::Month => format!("{low} to {high}, or JAN to DEC"),
            Self::DayOfWeek => format!("{low} to {high} (Sunday is 0 or 7), or SUN to SAT"),
            _ => format!("{low} to {high}"),
        }
    }
}

/// One field, read: the values it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field {
    /// Bit `v - low` is set when value `v` matches (years need 130).
    bits: [u64; 3],
    low: u32,
    /// The field starts with `*`: not restricted, in crontab's sense.
    pub(crate) star: bool,
}

impl Field {
    /// Whether `value` matches.
    pub(crate) fn has(&self, value: u32) -> bool {
        let Some(bit) = value.checked_sub(self.low) else {
            return false;
        };
        let word = (bit / 64) as usize;
        word < self.bits.len() && self.bits[word] & (1u64 << (bit % 64)) != 0
    }

    fn set(&mut self, value: u32) {
        let bit = value - self.low;
        self.bits[(bit / 64) as usize] |= 1u64 << (bit % 64);
    }

    /// The smallest matching value at or above `from`, if any up to `high`.
    pub(crate) fn next_from(&self, from: u32, high: u32) -> Option<u32> {
        (from.max(self.low)..=high).find(|v| self.has(*v))
    }

    /// A field that matches only `value`.
    pub(crate) fn only(kind: FieldKind, value: u32) -> Field {
        let (low, _) = kind.bounds();
        let mut field = Field {
            bits: [0; 3],
            low,
            star: false,
        };
        field.set(value);
        field
    }

    /// A field that matches every value of `kind`.
    pub(crate) fn every(kind: FieldKind) -> Field {
        let (low, high) = kind.bounds();
        let mut field = Field {
            bits: [0; 3],
            low,
            star: true,
        };
        for value in low..=high {
            field.set(value);
        }
        field
    }
}

/// What is wrong with a cron expression, and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError {
    /// The expression as written.
    pub expression: String,
    /// Byte offset and length of the offending text in it.
    pub span: (usize, usize),
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (start, len) = self.span;
        let lead: String = self.expression[..start.min(self.expression.len())]
            .chars()
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(
            f,
            "{}\n    {}\n    {lead}{}",
            self.problem,
            self.expression,
            "^".repeat(len.max(1))
        )
    }
}

/// Reads one field (`text` starts at byte `at` of the expression).
pub(crate) fn parse(
    kind: FieldKind,
    text: &str,
    at: usize,
) -> Result<Field, (usize, usize, String)> {
    let (low, high) = kind.bounds();
    let mut field = Field {
        bits: [0; 3],
        low,
        star: text.starts_with('*')
            || (text == "?" && matches!(kind, FieldKind::DayOfMonth | FieldKind::DayOfWeek)),
    };
    if text == "?" && field.star {
        return Ok(Field::every(kind));
    }
    let mut offset = at;
    for part in text.split(',') {
        let span = (offset, part.len());
        offset += part.len() + 1;
        let fail = |problem: String| (span.0, span.1, problem);
        if part.is_empty() {
            return Err(fail(format!(
                "an empty item in the {} field: remove the extra comma",
                kind.noun()
            )));
        }
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step = match step.parse::<u32>() {
                    Ok(0) => {
                        return Err(fail(format!(
                            "step 0 in the {} field \"{part}\": a step must be 1 or more",
                            kind.noun()
                        )))
                    }
                    Ok(step) => step,
                    Err(_) => {
                        return Err(fail(format!(
                            "\"{step}\" is not a step in the {} field \"{part}\": use a whole number such as */5",
                            kind.noun()
                        )))
                    }
                };
                (range, Some(step))
            }
            None => (part, None),
        };
        let value = |word: &str| value_of(kind, word).ok_or_else(|| fail(not_a_value(kind, word)));
        let (first, last) = if range == "*" {
            (low, high)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (value(a)?, value(b)?);
            if a <= b {
                (a, b)
            } else if kind == FieldKind::DayOfWeek && b == 0 {
                (a, 7)
            } else {
                return Err(fail(format!(
                    "the {} range {range} runs backwards: write it from low to high{}",
                    kind.noun(),
                    if kind == FieldKind::DayOfWeek {
                        " (only a range ending on Sunday, 0, wraps)"
                    } else {
                        ""
                    }
                )));
            }
        } else {
            let first = value(range)?;
            match step {
                Some(_) => (first, high),
                None => (first, first),
            }
        };
        for v in (first..=last).step_by(step.unwrap_or(1) as usize) {
            field.set(v);
        }
    }
    if kind == FieldKind::DayOfWeek && (field.has(0) || field.has(7)) {
        field.set(0);
        field.set(7);
    }
    Ok(field)
}

/// A number or (for months and weekdays) a name, within bounds.
fn value_of(kind: FieldKind, word: &str) -> Option<u32> {
    let (low, high) = kind.bounds();
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
        return word.parse().ok().filter(|v| (low..=high).contains(v));
    }
    let upper = word.to_ascii_uppercase();
    let index = kind.names().iter().position(|name| *name == upper)?;
    let index = u32::try_from(index).ok()?;
    Some(if kind == FieldKind::Month {
        index + 1
    } else {
        index
    })
}

fn not_a_value(kind: FieldKind, word: &str) -> String {
    let number = !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit());
    if number {
        format!(
            "{} {word} is out of range: use {}",
            kind.noun(),
            kind.accepts()
        )
    } else if word.is_empty() {
        format!("a {} is missing here: use {}", kind.noun(), kind.accepts())
    } else {
        format!(
            "\"{word}\" is not a {}: use {}",
            kind.noun(),
            kind.accepts()
        )
    }
}
