//! Compatibility levels (`compatibility_level = 3.6`) and C-style numbers.
//!
//! Owns the two number syntaxes Postfix borrows from C's `strtol`: the
//! `major[.minor[.patch]]` compatibility level, encoded so that levels
//! compare as integers, and the leading integer of a time value. Pure
//! functions over bytes; no lookups, no messages.

const MINOR_BITS: i64 = 0x3ff;
const PATCH_BITS: i64 = 0x3ff;
const MINOR_SHIFT: u32 = 10;
const MAJOR_SHIFT: u32 = 20;

/// C's `strtol(s, &end, 10)`: optional white space, an optional sign and
/// digits. Returns the value (`None` on overflow, like `ERANGE`) and how many
/// bytes were consumed (0 when there are no digits).
pub(super) fn strtol(bytes: &[u8]) -> (Option<i64>, usize) {
    let mut at = bytes
        .iter()
        .take_while(|&&b| super::maincf::is_space(b))
        .count();
    let negative = match bytes.get(at) {
        Some(b'-') => {
            at += 1;
            true
        }
        Some(b'+') => {
            at += 1;
            false
        }
        _ => false,
    };
    let digits = bytes[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return (Some(0), 0);
    }
    let mut value: Option<i64> = Some(0);
    for &digit in &bytes[at..at + digits] {
        let d = i64::from(digit - b'0');
        value = value.and_then(|v| v.checked_mul(10)).and_then(|v| {
            if negative {
                v.checked_sub(d)
            } else {
                v.checked_add(d)
            }
        });
    }
    (value, at + digits)
}

/// Parses one dot-separated component; `Some((value, rest))` when it is a
/// number in `0..=max` followed by the end or by `.`.
fn component(bytes: &[u8], max: i64) -> Option<(i64, &[u8])> {
    let (value, used) = strtol(bytes);
    let rest = &bytes[used..];
    let value = value?;
    (used > 0 && (rest.is_empty() || rest[0] == b'.') && (0..=max).contains(&value))
        .then_some((value, rest))
}

/// Encodes a compatibility level, or `None` if it is malformed.
pub(super) fn parse(level: &[u8]) -> Option<i64> {
    let (major, rest) = component(level, i64::MAX >> MAJOR_SHIFT)?;
    let mut encoded = major << MAJOR_SHIFT;
    if rest.is_empty() {
        return Some(encoded);
    }
    let (minor, rest) = component(&rest[1..], MINOR_BITS)?;
    encoded |= minor << MINOR_SHIFT;
    if rest.is_empty() {
        return Some(encoded);
    }
    let (patch, rest) = component(&rest[1..], PATCH_BITS)?;
    rest.is_empty().then_some(encoded | patch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_compare_numerically_by_component() {
        assert!(parse(b"3.6") > parse(b"2"));
        assert!(parse(b"3.10") > parse(b"3.9"));
        assert!(parse(b"3.6.1") > parse(b"3.6"));
        assert_eq!(parse(b"0"), Some(0));
    }

    #[test]
    fn malformed_levels_are_rejected() {
        for bad in [
            &b"bogus"[..],
            b"",
            b"3.",
            b"3.6.1.2",
            b"-1",
            b"3.1024",
            b"3x",
        ] {
            assert_eq!(parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn strtol_reports_what_it_consumed() {
        assert_eq!(strtol(b"10s"), (Some(10), 2));
        assert_eq!(strtol(b" +7"), (Some(7), 3));
        assert_eq!(strtol(b"-3x"), (Some(-3), 2));
        assert_eq!(strtol(b"s"), (Some(0), 0));
        assert_eq!(strtol(b"99999999999999999999").0, None);
    }
}
