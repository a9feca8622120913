//! Daylight-saving changes: the documented cases, and local time against
//! the named zone on every change night of 2026 in three zones.

use super::*;

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
    include_str!("../../../../tests/data/dst-expressions.txt")
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
