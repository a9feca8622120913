use super::*;
use std::path::Path;

mod daylight_saving;
mod differential;

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

pub(super) fn utc(text: &str) -> Timestamp {
    text.parse().expect("an RFC 3339 instant")
}

/// `2026-01-01T10:05:00+00:00`: an instant as wall-clock time in `zone`.
pub(super) fn iso(zone: &Zone, at: Timestamp) -> String {
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
pub(super) fn named(name: &str) -> Zone {
    Zones::new(None, Path::new("/nonexistent"))
        .named(name)
        .expect("the zone is in /usr/share/zoneinfo")
}

/// Local time with `TZ=name`, as a rule without `timezone:` gets it.
pub(super) fn local(name: &str) -> Zone {
    Zones::new(Some(name.to_owned()), Path::new("/nonexistent")).local()
}

pub(super) fn new_york() -> Zone {
    named("America/New_York")
}

pub(super) fn fires(expression: &str, zone: Zone, from: &str, count: usize) -> Vec<String> {
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
    assert!(
        problem("@daly").problem.contains("did you mean @daily?"),
        "{}",
        problem("@daly").problem
    );
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

/// A `$TZ` or zone file that names nothing usable: UTC, with the reason
/// kept for `check` and the log, and never a hang or a huge read.
#[test]
fn a_tz_that_names_nothing_usable_is_utc_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let sparse = dir.path().join("sparse");
    std::fs::File::create(&sparse)
        .and_then(|file| file.set_len(2 << 30))
        .expect("a 2 GB sparse file");
    let london_file = Path::new("/usr/share/zoneinfo/Europe/London");
    for (tz, says) in [
        (":garbage", "names no usable time zone"),
        ("/dev/zero", "not a regular file"),
        (fifo.to_str().expect("utf8"), "not a regular file"),
        (sparse.to_str().expect("utf8"), "is the most it may have"),
        ("../../../etc/passwd", "no zone is named"),
        (dir.path().to_str().expect("utf8"), "directory"),
    ] {
        let local = Zones::new(Some(tz.to_owned()), london_file).local();
        assert_eq!(
            local.display(utc("2026-07-01T12:00:00Z")),
            "2026-07-01 12:00:00 +00:00",
            "TZ={tz}"
        );
        let why = local.fallback().unwrap_or_default();
        assert!(why.contains(says) && why.contains(tz), "TZ={tz}: {why}");
    }
    assert_eq!(
        Zones::new(Some(String::new()), london_file)
            .local()
            .fallback(),
        None
    );
    assert_eq!(
        Zones::new(None, Path::new("/nonexistent"))
            .local()
            .fallback(),
        None
    );
    assert!(Zones::new(None, &fifo).local().fallback().is_some());
}
