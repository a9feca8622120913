//! Property tests of the parsers that take outside input: the rules file,
//! `main.cf` with its `$name` expansion, `postkick`'s command line, and
//! the attribute lists Postfix's services answer with. Whatever the input:
//! no panic, no hang, bounded memory, and errors that say where.
//!
//! `cargo fuzz` needs a nightly toolchain, which these machines cannot
//! fetch; proptest drives the same targets on stable. CI runs the default
//! 256 cases per property; a long run of one property is in README.md
//! ("Fuzzing and soak").

use std::ffi::OsString;
use std::time::{Duration, Instant};

use postkick::postfix::attr::{self, Decoder, Item, Limits};
use postkick::postfix::config::{self, ConfigWarning, LoadOptions};
use postkick::postkick::getopt;
use postkick::rules;
use proptest::prelude::*;

/// Every input must be handled well within this.
const LIMIT: Duration = Duration::from_secs(2);

fn main_cf_options() -> LoadOptions {
    LoadOptions {
        config_directory: "/etc/postfix-test".into(),
        process_name: b"postkick".to_vec(),
        untrusted: false,
    }
}

/// Text built from the characters that matter to `$name` expansion.
fn macro_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[$(){}?:= a-z_0-9<>!\\-#\\t\\n.]{0,120}").expect("regex")
}

/// A rules file assembled from real keys and plausible or broken values.
fn rules_text() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "name", "cron", "every", "watch", "timezone", "jitter", "pattern", "debounce", "poll",
        "ready", "kick", "flush", "timeout", "retry", "enabled", "on_start", "bogus",
    ]);
    let value = prop::sample::select(vec![
        "x",
        "\"* * * * *\"",
        "\"*/5 * * * * *\"",
        "@daily",
        "15m",
        "500ms",
        "1x",
        "0s",
        "-1s",
        "true",
        "no",
        "maildrop",
        "\"*.eml\"",
        "public qmgr I",
        "{class: public, service: qmgr, request: D}",
        "{class: '..', service: x, request: ''}",
        "Europe/Paris",
        "Mars/Olympus",
        "[1, 2]",
        "{attempts: 3}",
        "~",
        "\"61 * * * *\"",
        "all",
        "refresh",
        "{site: partner.example}",
        "{queue_id: 4XyZ1}",
        "{site: '', queue_id: x}",
        "executable",
        "&a x",
        "*a",
    ]);
    let rule = prop::collection::vec((key, value), 0..8).prop_map(|pairs| {
        let mut text = String::from("  -");
        for (i, (k, v)) in pairs.iter().enumerate() {
            let indent = if i == 0 { " " } else { "    " };
            text.push_str(&format!("{indent}{k}: {v}\n"));
        }
        if pairs.is_empty() {
            text.push_str(" {}\n");
        }
        text
    });
    prop::collection::vec(rule, 0..6).prop_map(|rules| format!("rules:\n{}", rules.concat()))
}

/// Decodes `bytes` fed in pieces of the given sizes; the items, or the
/// first error. Asserts the decoder's bound after every piece.
fn decode_in_pieces(
    bytes: &[u8],
    pieces: &[usize],
    limits: Limits,
) -> Result<Vec<Item>, attr::DecodeError> {
    let mut decoder = Decoder::new(limits);
    let mut items = Vec::new();
    let mut rest = bytes;
    let mut sizes = pieces.iter().cycle();
    while !rest.is_empty() {
        let size = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        decoder.feed(&rest[..size]);
        rest = &rest[size..];
        while let Some(item) = decoder.next_item()? {
            items.push(item);
        }
        assert!(decoder.buffered() <= limits.name.max(limits.value));
    }
    Ok(items)
}

/// Attribute names as Postfix's: short words.
fn attribute_name() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z_]{1,30}").expect("regex")
}

/// Attribute values: any text without NUL.
fn attribute_value() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[^\\x00]{0,40}").expect("regex")
}

proptest! {
    #[test]
    fn attribute_decoder_never_panics_and_stays_bounded(
        bytes in prop::collection::vec(any::<u8>(), 0..2000),
        pieces in prop::collection::vec(1usize..300, 1..8),
        name_limit in 0usize..64,
        value_limit in 0usize..256,
    ) {
        let started = Instant::now();
        let limits = Limits { name: name_limit, value: value_limit };
        let _ = decode_in_pieces(&bytes, &pieces, limits);
        prop_assert!(started.elapsed() < LIMIT);
    }

    #[test]
    fn attribute_lists_round_trip_in_any_pieces(
        lists in prop::collection::vec(
            prop::collection::vec((attribute_name(), attribute_value()), 0..5), 0..5),
        pieces in prop::collection::vec(1usize..50, 1..8),
    ) {
        let mut bytes = Vec::new();
        let mut expected = Vec::new();
        for list in &lists {
            let borrowed: Vec<(&str, &str)> = list.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            bytes.extend(attr::encode(&borrowed));
            expected.extend(list.iter().map(|(name, value)| Item::Attribute { name: name.clone(), value: value.clone() }));
            expected.push(Item::End);
        }
        prop_assert_eq!(decode_in_pieces(&bytes, &pieces, Limits::default()), Ok(expected));
    }

    #[test]
    fn rules_parser_never_panics_on_any_text(text in any::<String>()) {
        let started = Instant::now();
        let _ = rules::parse(&text);
        prop_assert!(started.elapsed() < LIMIT);
    }

    #[test]
    fn rules_errors_always_say_where(text in rules_text()) {
        let started = Instant::now();
        if let Err(errors) = rules::parse(&text) {
            prop_assert!(!errors.is_empty());
            for error in &errors {
                prop_assert!(error.position.is_some(), "no position for {:?} in\n{}", error.kind, text);
            }
        }
        prop_assert!(started.elapsed() < LIMIT);
    }

    #[test]
    fn main_cf_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let started = Instant::now();
        let _ = config::evaluate(&main_cf_options(), &bytes, &mut |_: ConfigWarning| {});
        prop_assert!(started.elapsed() < LIMIT);
    }

    #[test]
    fn expansion_never_panics_or_hangs(value in macro_text(), other in macro_text()) {
        let text = format!("queue_directory = {value}\nother = {other}\nmail_name = $other\n");
        let started = Instant::now();
        let _ = config::evaluate(&main_cf_options(), text.as_bytes(), &mut |_: ConfigWarning| {});
        prop_assert!(started.elapsed() < LIMIT);
    }

    #[test]
    fn getopt_never_panics_and_operands_are_a_suffix(
        args in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..6), 0..8)
    ) {
        use std::os::unix::ffi::OsStringExt;
        let args: Vec<OsString> = args.into_iter().map(OsString::from_vec).collect();
        if let Ok(options) = getopt::parse(&args) {
            prop_assert!(args.ends_with(&options.operands));
        }
    }
}
