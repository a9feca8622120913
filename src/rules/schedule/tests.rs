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
