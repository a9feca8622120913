//! A differential test of the field semantics against an independent
//! reading of crontab's fields.

use super::*;

/// An independent reading of crontab's fields, written from crontab(5)
/// and cronie's parser without sharing code with `fields`: a set of
/// values per field, then a brute-force scan minute by minute.
mod reference {
    use std::collections::BTreeSet;

    const BOUNDS: [(u32, u32); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];

    fn number(text: &str, field: usize) -> u32 {
        let months = [
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ];
        let days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
        if let Ok(n) = text.parse() {
            return n;
        }
        let lower = text.to_lowercase();
        match field {
            3 => months
                .iter()
                .position(|m| *m == lower)
                .map(|i| i as u32 + 1),
            4 => days.iter().position(|d| *d == lower).map(|i| i as u32),
            _ => None,
        }
        .expect("generated values are valid")
    }

    /// The values a field matches, and whether it starts with `*`.
    pub(super) fn field(text: &str, field: usize) -> (BTreeSet<u32>, bool) {
        let (low, high) = BOUNDS[field];
        let mut values = BTreeSet::new();
        for item in text.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => (r, s.parse::<u32>().expect("step")),
                None => (item, 1),
            };
            let (mut a, mut b) = if range == "*" {
                (low, high)
            } else if let Some((x, y)) = range.split_once('-') {
                (number(x, field), number(y, field))
            } else {
                let n = number(range, field);
                (n, if item.contains('/') { high } else { n })
            };
            if field == 4 && a > b && b == 0 {
                b = 7;
            }
            while a <= b {
                values.insert(a);
                a += step;
            }
        }
        if field == 4 && (values.contains(&0) || values.contains(&7)) {
            values.insert(0);
            values.insert(7);
        }
        (values, text.starts_with('*'))
    }

    /// A 5-field expression, read.
    pub(super) struct Reference {
        fields: Vec<(BTreeSet<u32>, bool)>,
    }

    impl Reference {
        pub(super) fn new(expression: &str) -> Reference {
            Reference {
                fields: expression
                    .split_whitespace()
                    .enumerate()
                    .map(|(i, f)| field(f, i))
                    .collect(),
            }
        }

        /// Whether the day fields and month match a date.
        pub(super) fn matches_date(&self, date: jiff::civil::Date) -> bool {
            let weekday = date.weekday().to_sunday_zero_offset() as u32;
            let day = date.day() as u32;
            let (dom, dom_star) = &self.fields[2];
            let (dow, dow_star) = &self.fields[4];
            let by_day = if *dom_star || *dow_star {
                dom.contains(&day) && dow.contains(&weekday)
            } else {
                dom.contains(&day) || dow.contains(&weekday)
            };
            by_day && self.fields[3].0.contains(&(date.month() as u32))
        }

        /// Whether it matches a minute.
        pub(super) fn matches(&self, at: jiff::civil::DateTime) -> bool {
            self.fields[0].0.contains(&(at.minute() as u32))
                && self.fields[1].0.contains(&(at.hour() as u32))
                && self.matches_date(at.date())
        }
    }
}

fn field_text(field: usize) -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let (low, high) = [(0u32, 59u32), (0, 23), (1, 31), (1, 12), (0, 7)][field];
    let value = low..=high;
    let item = prop_oneof![
        Just("*".to_owned()),
        value.clone().prop_map(|v| v.to_string()),
        (value.clone(), value.clone())
            .prop_filter(
                "low to high, or a weekday range ending on 0",
                move |(a, b)| a <= b || (field == 4 && *b == 0)
            )
            .prop_map(|(a, b)| format!("{a}-{b}")),
        (1u32..=20).prop_map(|s| format!("*/{s}")),
        (value.clone(), 1u32..=20).prop_map(|(v, s)| format!("{v}/{s}")),
        (value.clone(), value, 1u32..=10)
            .prop_filter("low to high", |(a, b, _)| a <= b)
            .prop_map(|(a, b, s)| format!("{a}-{b}/{s}")),
    ];
    proptest::collection::vec(item, 1..=3).prop_map(|items| items.join(","))
}

fn expression() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    (
        field_text(0),
        field_text(1),
        field_text(2),
        field_text(3),
        field_text(4),
    )
        .prop_map(|(a, b, c, d, e)| format!("{a} {b} {c} {d} {e}"))
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(2000))]

    /// Field semantics agree with the reference on random times, and the
    /// next fire time is the first minute the reference matches.
    #[test]
    fn fields_agree_with_an_independent_reading(
        expression in expression(),
        start in 1_767_225_600i64..1_830_297_600,
        probes in proptest::collection::vec(1_767_225_600i64..1_830_297_600, 20),
    ) {
        let reference = reference::Reference::new(&expression);
        let Ok(cron) = Cron::parse(&expression, Zone::utc()) else {
            // Only expressions that match no date at all are refused: 28
            // years hold every weekday of every date, leap days included.
            let first = jiff::civil::date(2000, 1, 1);
            let never = (0..28 * 366)
                .filter_map(|d| first.checked_add(jiff::Span::new().days(d)).ok())
                .all(|date| !reference.matches_date(date));
            proptest::prop_assert!(never, "{} refused but it matches", expression);
            return Ok(());
        };
        for probe in probes {
            let wall = Zone::utc().wall_clock(Timestamp::from_second(probe - probe % 60).expect("in range"));
            proptest::prop_assert_eq!(cron.matches(wall), reference.matches(wall), "{} at {}", expression, wall);
        }
        let from = Timestamp::from_second(start - start % 60).expect("in range");
        let next = cron.next_after(from);
        let mut minute = from;
        for _ in 0..3 * 24 * 60 {
            minute = minute.checked_add(jiff::SignedDuration::from_mins(1)).expect("in range");
            if reference.matches(Zone::utc().wall_clock(minute)) {
                proptest::prop_assert_eq!(next, Some(minute), "{}", expression);
                return Ok(());
            }
        }
        proptest::prop_assert!(next.is_some_and(|n| n > minute), "{} fired within 3 days", expression);
    }
}
