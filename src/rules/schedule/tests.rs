use super::*;
use std::path::Path;

/// Fires a rule on a simulated clock: `(wall time seen, slot fired)`.
fn simulate(cron: &Cron, start: &str, clock: &[&str]) -> Vec<(String, String)> {
    let mut progress = CronProgress::starting(utc(start));
    let mut fired = Vec::new();
    for now in clock.iter().map(|t| utc(t)) {
        while let Some(slot) = progress.next(cron).filter(|s| *s <= now) {
            let utc_zone = Zone::utc();
            fired.push((iso(&utc_zone, now), iso(&utc_zone, slot)));
            progress.fired(slot, now);
        }
    }
    fired
}

#[test]
fn clock_jumping_forward_fires_a_due_timer_once() {
    let cron = Cron::parse("*/5 * * * *", Zone::utc()).expect("parses");
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
    let cron = Cron::parse("*/5 * * * *", Zone::utc()).expect("parses");
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

fn utc(text: &str) -> Timestamp {
    text.parse().expect("an RFC 3339 instant")
}

/// `2026-01-01T10:05:00+00:00`: an instant as wall-clock time in `zone`.
fn iso(zone: &Zone, at: Timestamp) -> String {
    let shown = zone.display(at);
    let mut parts = shown.split(' ');
    let (date, time, offset) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    format!("{date}T{time}{offset}")
}

/// A zone from the system's database, as a rule naming it gets it.
fn named(name: &str) -> Zone {
    Zones::new(None, Path::new("/nonexistent"))
        .named(name)
        .expect("the zone is in /usr/share/zoneinfo")
}

/// Local time with `TZ=name`, as a rule without `timezone:` gets it.
fn local(name: &str) -> Zone {
    Zones::new(Some(name.to_owned()), Path::new("/nonexistent")).local()
}

fn new_york() -> Zone {
    named("America/New_York")
}

fn fires(expression: &str, zone: Zone, from: &str, count: usize) -> Vec<String> {
    let cron = Cron::parse(expression, zone.clone()).expect("parses");
    let mut at = utc(from);
    let mut out = Vec::new();
    for _ in 0..count {
        at = cron.next_after(at).expect("fires");
        out.push(iso(&zone, at));
    }
    out
}

#[test]
fn five_fields_mean_minute_resolution() {
    let utc_zone = Zone::utc();
    assert_eq!(
        fires("*/5 * * * *", utc_zone, "2026-01-01T00:01:30Z", 2),
        vec!["2026-01-01T00:05:00+00:00", "2026-01-01T00:10:00+00:00"]
    );
}

#[test]
fn six_fields_have_seconds_first() {
    let utc_zone = Zone::utc();
    assert_eq!(
        fires("* * * * * *", utc_zone, "2026-01-01T00:00:00Z", 2),
        vec!["2026-01-01T00:00:01+00:00", "2026-01-01T00:00:02+00:00"]
    );
}

#[test]
fn crontab_weekday_numbers() {
    let utc_zone = Zone::utc();
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
    let utc_zone = Zone::utc();
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
    let utc_zone = Zone::utc();
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
    let utc_zone = Zone::utc();
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

fn problem(expression: &str) -> CronError {
    Cron::parse(expression, Zone::utc()).expect_err("refused")
}

#[test]
fn mistakes_name_the_field_its_bounds_and_what_was_written() {
    let error = problem("60 * * * *");
    assert_eq!(error.problem, "minute 60 is out of range: use 0 to 59");
    assert_eq!(error.span, (0, 2));
    assert_eq!(
        error.to_string(),
        "minute 60 is out of range: use 0 to 59\n    60 * * * *\n    ^^"
    );
    assert_eq!(
        problem("0 24 * * *").problem,
        "hour 24 is out of range: use 0 to 23"
    );
    assert_eq!(
        problem("0 0 32 * *").problem,
        "day of month 32 is out of range: use 1 to 31"
    );
    let w = problem("0 0 15W * *");
    assert_eq!(
        (w.problem.as_str(), w.span),
        ("\"15W\" is not a day of month: use 1 to 31", (4, 3))
    );
    assert_eq!(
        problem("0 0 * * 5#3").problem,
        "\"5#3\" is not a weekday: use 0 to 7 (Sunday is 0 or 7), or SUN to SAT"
    );
    assert_eq!(
        problem("0 0 * FOO *").problem,
        "\"FOO\" is not a month: use 1 to 12, or JAN to DEC"
    );
    assert!(problem("* * *").problem.starts_with("3 fields"));
    assert!(problem("5-3 * * * *").problem.contains("runs backwards"));
    assert!(problem("*/0 * * * *").problem.contains("step 0"));
    assert!(problem("0 0 31 2 *").problem.contains("never fire"));
    assert!(problem("@reboot").problem.contains("unknown macro"));
}

fn matching(expression: &str, field: usize, values: std::ops::RangeInclusive<u32>) -> Vec<u32> {
    let cron = Cron::parse(expression, Zone::utc()).expect("parses");
    let field = [
        &cron.second,
        &cron.minute,
        &cron.hour,
        &cron.day_of_month,
        &cron.month,
        &cron.day_of_week,
    ][field];
    values.filter(|v| field.has(*v)).collect()
}

#[test]
fn crontab_dialect_as_cronie_reads_it() {
    // A step from a single value runs to the field's end, in every field.
    assert_eq!(matching("1/20 * * * *", 1, 0..=59), [1, 21, 41]);
    assert_eq!(matching("0 0 * * 1/2", 5, 0..=7), [0, 1, 3, 5, 7]);
    assert_eq!(matching("0 0 * 2/5 *", 4, 1..=12), [2, 7, 12]);
    // Names mix with numbers; weekday ranges ending on Sunday wrap.
    assert_eq!(matching("0 0 * * MON-5", 5, 0..=7), [1, 2, 3, 4, 5]);
    assert_eq!(matching("0 0 * JAN-6 *", 4, 1..=12), [1, 2, 3, 4, 5, 6]);
    assert_eq!(matching("0 0 * * SAT-SUN", 5, 0..=7), [0, 6, 7]);
    assert_eq!(matching("0 0 * * FRI-SUN", 5, 0..=7), [0, 5, 6, 7]);
    assert_eq!(matching("0 0 * * 6-0", 5, 0..=7), [0, 6, 7]);
    assert_eq!(matching("0 0 * * sun", 5, 0..=7), [0, 7]);
    // A day field starting with * is not restricted: */1 still means AND.
    assert_eq!(
        fires("0 0 1 * */1", Zone::utc(), "2026-01-01T12:00:00Z", 2),
        vec!["2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"]
    );
}

/// Fall-back and spring-forward nights of 2026 in three zones, each with
/// the instant its change happens.
const NIGHTS: &[(&str, &str)] = &[
    ("America/New_York", "2026-03-08T07:00:00Z"),
    ("America/New_York", "2026-11-01T06:00:00Z"),
    ("Europe/London", "2026-03-29T01:00:00Z"),
    ("Europe/London", "2026-10-25T01:00:00Z"),
    ("Australia/Lord_Howe", "2026-04-04T15:00:00Z"),
    ("Australia/Lord_Howe", "2026-10-03T15:30:00Z"),
];

/// Wildcards, fixed times, steps, and hour lists that span the changes
/// (shared with the end-to-end test of `postkickd next`).
fn dst_expressions() -> impl Iterator<Item = &'static str> {
    include_str!("../../../tests/data/dst-expressions.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
}

#[test]
fn local_time_fires_as_the_named_zone_on_every_change_night() {
    for (name, change) in NIGHTS {
        let from = utc(change)
            .checked_sub(jiff::SignedDuration::from_hours(3))
            .expect("in range");
        for expression in dst_expressions() {
            let schedule = |zone: Zone| {
                let cron = Cron::parse(expression, zone).expect("parses");
                let mut at = from;
                (0..12)
                    .map(|_| {
                        at = cron.next_after(at).expect("fires");
                        at
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                schedule(local(name)),
                schedule(named(name)),
                "{expression} in {name} from {from}"
            );
        }
    }
}

/// The documented behaviour, in local time and in the named zone alike.
#[test]
fn documented_daylight_saving_cases_in_local_and_named_zones() {
    let cases: &[(&str, &str, &[&str])] = &[
        // Skipped time: once, right after the change.
        (
            "30 2 * * *",
            "2026-03-07T12:00:00Z",
            &["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"],
        ),
        // Repeated time, fixed job: once, on the first pass.
        (
            "0 1 * * *",
            "2026-10-31T12:00:00Z",
            &["2026-11-01T01:00:00-04:00", "2026-11-02T01:00:00-05:00"],
        ),
        // Minute wildcard: fires through both passes of the repeated hour.
        (
            "*/30 1 * * *",
            "2026-11-01T03:30:00Z",
            &[
                "2026-11-01T01:00:00-04:00",
                "2026-11-01T01:30:00-04:00",
                "2026-11-01T01:00:00-05:00",
                "2026-11-01T01:30:00-05:00",
            ],
        ),
        // Hour 1 is not in the list: never at 01:00, whichever pass.
        (
            "*/25 0,2-23 * * *",
            "2026-11-01T04:40:00Z",
            &[
                "2026-11-01T00:50:00-04:00",
                "2026-11-01T02:00:00-05:00",
                "2026-11-01T02:25:00-05:00",
            ],
        ),
    ];
    for zone in [local("America/New_York"), new_york()] {
        for (expression, from, expected) in cases {
            assert_eq!(
                fires(expression, zone.clone(), from, expected.len()),
                *expected,
                "{expression} in {zone:?}"
            );
        }
    }
}

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

#[test]
fn local_time_follows_tz_then_etc_localtime() {
    let london_file = Path::new("/usr/share/zoneinfo/Europe/London");
    let summer = utc("2026-07-01T12:00:00Z");
    let shown = |zones: Zones| zones.local().display(summer);
    assert_eq!(
        shown(Zones::new(None, london_file)),
        "2026-07-01 13:00:00 +01:00"
    );
    assert_eq!(
        shown(Zones::new(
            Some("EST5EDT,M3.2.0,M11.1.0".into()),
            london_file
        )),
        "2026-07-01 08:00:00 -04:00"
    );
    assert_eq!(
        shown(Zones::new(Some(":Asia/Tokyo".into()), london_file)),
        "2026-07-01 21:00:00 +09:00"
    );
    assert_eq!(
        shown(Zones::new(Some(String::new()), london_file)),
        "2026-07-01 12:00:00 +00:00"
    );
    assert_eq!(
        shown(Zones::new(None, Path::new("/nonexistent"))),
        "2026-07-01 12:00:00 +00:00"
    );
}
