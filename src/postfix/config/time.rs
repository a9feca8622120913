//! Postfix time values (`10s`, `5m`, `1h`, `2d`, `1w`).
//!
//! The leading integer is read like C's `strtol`; the unit is the first
//! byte after it, or the default's unit when there is none; anything after
//! the unit is ignored (`10seconds` is ten seconds, `10ms` ten minutes), as
//! in Postfix. The result must stay below `INT_MAX` seconds.

use super::compat::strtol;

const INT_MAX: i64 = i32::MAX as i64;

/// The unit of a built-in default (`100s` gives `s`).
pub(super) fn default_unit(default: &str) -> u8 {
    default
        .bytes()
        .find(u8::is_ascii_alphabetic)
        .unwrap_or(b's')
}

/// Seconds for a time value, or `None` where Postfix says
/// `bad time value or unit`.
pub(super) fn parse(value: &[u8], default_unit: u8) -> Option<i64> {
    let (number, used) = strtol(value);
    let number = number?;
    if value.is_empty() || !(0..=INT_MAX).contains(&number) {
        return None;
    }
    let scale = match value.get(used).copied().unwrap_or(default_unit) {
        b's' => return Some(number),
        b'm' => 60,
        b'h' => 3600,
        b'd' => 86_400,
        b'w' => 604_800,
        _ => return None,
    };
    (number < INT_MAX / scale).then_some(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_the_default_unit() {
        assert_eq!(parse(b"10", b's'), Some(10));
        assert_eq!(parse(b"10s", b's'), Some(10));
        assert_eq!(parse(b"2m", b's'), Some(120));
        assert_eq!(parse(b"1h", b's'), Some(3600));
        assert_eq!(parse(b"1d", b's'), Some(86_400));
        assert_eq!(parse(b"1w", b's'), Some(604_800));
        assert_eq!(parse(b"3", b'h'), Some(10_800));
    }

    #[test]
    fn postfix_ignores_what_follows_the_unit() {
        assert_eq!(parse(b"10seconds", b's'), Some(10));
        assert_eq!(parse(b"10ms", b's'), Some(600));
    }

    #[test]
    fn bad_values() {
        for bad in [
            &b""[..],
            b"-1",
            b"10S",
            b"10 s",
            b"10x",
            b"2147483648",
            b"3550000w",
        ] {
            assert_eq!(parse(bad, b's'), None, "{}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse(b"0", b's'), Some(0));
        assert_eq!(parse(b"s", b's'), Some(0));
    }

    #[test]
    fn default_unit_is_the_first_letter() {
        assert_eq!(default_unit("100s"), b's');
        assert_eq!(default_unit("1h"), b'h');
    }
}
