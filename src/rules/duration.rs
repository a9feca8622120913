//! Durations in rules files: `500ms`, `30s`, `15m`, `2h`, `1d`, `1h30m`.
//!
//! A duration is one or more `<digits><unit>` parts with the units `ms`,
//! `s`, `m`, `h`, `d` and `w`; a bare number is refused so that nobody has
//! to guess its unit. Pure parsing, no bounds: callers say what range
//! makes sense for their key.

use std::time::Duration;

/// Why a duration was refused, as the end of a sentence.
pub(super) const SYNTAX_HINT: &str =
    "use a number and a unit: ms, s, m, h, d or w (for example 500ms, 30s, 15m, 1h30m)";

/// Parses a duration, or returns `None`.
pub(super) fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.checked_mul(60)?),
            "h" => Duration::from_secs(number.checked_mul(3600)?),
            "d" => Duration::from_secs(number.checked_mul(86_400)?),
            "w" => Duration::from_secs(number.checked_mul(604_800)?),
            _ => return None,
        };
        total = total.checked_add(part)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// Formats a duration the way rules files write it.
pub(crate) fn display(duration: Duration) -> String {
    let millis = duration.as_millis();
    match millis {
        m if m % 86_400_000 == 0 && m > 0 => format!("{}d", m / 86_400_000),
        m if m % 3_600_000 == 0 && m > 0 => format!("{}h", m / 3_600_000),
        m if m % 60_000 == 0 && m > 0 => format!("{}m", m / 60_000),
        m if m % 1000 == 0 => format!("{}s", m / 1000),
        m => format!("{m}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_compounds() {
        assert_eq!(parse("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse("1d"), Some(Duration::from_secs(86_400)));
        assert_eq!(parse("1h30m"), Some(Duration::from_secs(5400)));
    }

    #[test]
    fn refused() {
        for bad in [
            "",
            "15",
            "15x",
            "m",
            "1.5s",
            "-1s",
            "1 s",
            "99999999999999999999w",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in ["500ms", "30s", "15m", "2h", "1d", "0s"] {
            assert_eq!(display(parse(text).expect("parses")), text);
        }
    }
}
