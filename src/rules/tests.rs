use super::*;

fn errors(text: &str) -> Vec<String> {
    parse(text)
        .expect_err("invalid")
        .iter()
        .map(|d| d.render("rules.yaml"))
        .collect()
}

fn kinds(text: &str) -> Vec<RuleErrorKind> {
    parse(text)
        .expect_err("invalid")
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// The contract's example. Its anvil rule is valid but does nothing:
/// anvil has no request that resets its counters (`check` warns so).
const EXAMPLE: &str = r#"
postfix:
  config_directory: /etc/postfix
defaults:
  timeout: 10s
rules:
  - name: pickup-on-maildrop
    watch: maildrop
    kick: public pickup W
  - name: anvil-refresh
    cron: "*/5 * * * *"
    kick: private anvil refresh
  - name: deferred-sweep
    every: 15m
    kick: {class: public, service: qmgr, request: D}
"#;

#[test]
fn the_contract_example_is_valid() {
    let set = parse(EXAMPLE).expect("valid");
    assert_eq!(set.config_directory, Some(PathBuf::from("/etc/postfix")));
    let names: Vec<&str> = set.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["pickup-on-maildrop", "anvil-refresh", "deferred-sweep"]
    );
    let kinds: Vec<&str> = set.rules.iter().map(|r| r.trigger.kind()).collect();
    assert_eq!(kinds, ["watch", "cron", "every"]);
    assert_eq!(
        set.rules[2].action,
        Action::Kick(Target {
            class: "public".into(),
            service: "qmgr".into(),
            request: "D".into()
        })
    );
    assert_eq!(set.rules[0].timeout, Duration::from_secs(10));
    match &set.rules[0].trigger {
        Trigger::Watch { debounce, .. } => assert_eq!(*debounce, Duration::ZERO),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ten_mistakes_are_all_reported_with_positions() {
    let text = include_str!("../../tests/data/ten-mistakes.yaml");
    let found = errors(text);
    let expected = [
        "rules.yaml:4:5: unknown key \"cronn\" in a rule",
        "rules.yaml:7:12: bad duration \"5x\" for every",
        "rules.yaml:10:11: bad cron expression \"61 * * * *\"",
        "rules.yaml:14:15: unknown time zone \"Mars/Olympus\"",
        "rules.yaml:18:5: rule \"e\" has 2 triggers (every, watch)",
        "rules.yaml:22:11: class \"../etc\" must not contain \"/\"",
        "rules.yaml:25:11: kick \"public qmgr\" must be \"class service request\"",
        "rules.yaml:29:23: retry attempts must be a whole number from 1 to 100",
        "rules.yaml:30:11: duplicate rule name \"a\" (first used at line 3)",
    ];
    for want in expected {
        assert!(
            found.iter().any(|f| f.starts_with(want)),
            "missing {want:?} in {found:#?}"
        );
    }
    // The first rule also lacks a trigger once its misspelt key is dropped.
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("rules.yaml:3:5: rule \"a\" has no trigger")),
        "{found:#?}"
    );
    assert_eq!(found.len(), 10, "{found:#?}");
}

#[test]
fn yaml_syntax_errors_stop_at_the_first() {
    let found = errors("rules: [\n");
    assert_eq!(found.len(), 1);
    assert!(
        found[0].starts_with("rules.yaml:2:1: YAML syntax:"),
        "{found:?}"
    );
}

#[test]
fn keys_that_belong_to_other_triggers_are_refused() {
    let found =
        kinds("rules:\n  - name: x\n    every: 1m\n    timezone: UTC\n    kick: public qmgr I\n");
    assert_eq!(
        found,
        [RuleErrorKind::KeyNotForKind {
            key: "timezone".into(),
            owners: vec!["cron"],
            rule: RuleLabel(Some("x".into())),
            kind: "every",
        }]
    );
    assert!(found[0]
        .to_string()
        .contains("timezone applies only to cron rules"));
}

#[test]
fn options_are_read() {
    let set = parse(
        "defaults:\n  retry: {attempts: 3, backoff: 1s}\nrules:\n  - name: x\n    every: 500ms\n    jitter: 100ms\n    kick: {class: public, service: qmgr, request: ''}\n    timeout: 2s\n    enabled: false\n    on_start: true\n",
    )
    .expect("valid");
    let rule = &set.rules[0];
    assert!(matches!(&rule.action, Action::Kick(t) if t.request.is_empty()));
    assert_eq!(rule.timeout, Duration::from_secs(2));
    assert!(!rule.enabled && rule.on_start);
    assert_eq!(rule.retry.attempts, 3);
    assert_eq!(rule.retry.delay_before(2), Duration::from_secs(1));
    assert_eq!(rule.retry.delay_before(3), Duration::from_secs(2));
    match rule.trigger {
        Trigger::Every { period, jitter } => {
            assert_eq!(
                (period, jitter),
                (Duration::from_millis(500), Duration::from_millis(100))
            );
        }
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn backoff_is_capped() {
    let retry = Retry {
        attempts: 10,
        backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(5),
    };
    assert_eq!(retry.delay_before(5), Duration::from_secs(5));
    assert_eq!(retry.delay_before(40), Duration::from_secs(5));
}

#[test]
fn empty_and_wrongly_shaped_files() {
    assert_eq!(
        errors(""),
        vec!["rules.yaml: the rules file is empty: add a \"rules:\" list"]
    );
    assert_eq!(kinds(""), [RuleErrorKind::EmptyFile]);
    assert_eq!(kinds("- a\n"), [RuleErrorKind::ListAtTop]);
    assert!(errors("- a\n")[0].contains("must be a mapping"));
    assert_eq!(kinds("postfix: {}\n"), [RuleErrorKind::NoRulesList]);
    assert!(errors("postfix: {}\n")[0].contains("no \"rules:\" list"));
}

#[test]
fn anchors_that_explode_are_refused() {
    let mut text = String::from("a: &a [x,x,x,x,x,x,x,x,x]\n");
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h"])
    {
        text.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{prev}"); 9].join(",")
        ));
    }
    let found = errors(&text);
    assert_eq!(found.len(), 1);
    assert!(found[0].contains("YAML syntax"), "{found:?}");
}

#[test]
fn ready_is_any_or_executable() {
    let set = parse("rules:\n  - name: x\n    watch: /srv/drop\n    ready: executable\n    kick: public pickup W\n")
        .expect("valid");
    match &set.rules[0].trigger {
        Trigger::Watch { ready, .. } => assert_eq!(*ready, Some(Readiness::Executable)),
        other => panic!("{other:?}"),
    }
    let found = kinds(
        "rules:\n  - name: x\n    watch: /srv/drop\n    ready: soon\n    kick: public pickup W\n",
    );
    assert_eq!(
        found,
        [RuleErrorKind::BadReady {
            text: "soon".into()
        }]
    );
    assert!(found[0]
        .to_string()
        .contains("ready \"soon\" must be \"any\" or \"executable\""));
}

#[test]
fn every_rule_key_is_listed_once_in_table_order() {
    let found =
        kinds("rules:\n  - name: x\n    every: 1m\n    kick: public qmgr I\n    bogus: 1\n");
    let [RuleErrorKind::UnknownKey { expected, .. }] = found.as_slice() else {
        panic!("{found:?}");
    };
    assert_eq!(
        expected.join(", "),
        "name, cron, every, watch, timezone, jitter, catch_up, pattern, debounce, poll, ready, drain_within, kick, flush, timeout, retry, enabled, on_start, quiet, expect_success_within, notify"
    );
}

#[test]
fn a_key_written_twice_is_reported_where_it_is_written_again() {
    let text = "rules:\n  - name: x\n    every: 1m\n    every: 2m\n    kick: public qmgr I\n";
    assert_eq!(
        errors(text),
        vec!["rules.yaml:4:5: \"every\" is written twice in the same mapping: keep one"]
    );
}

#[test]
fn cron_mistakes_are_worded_by_field_with_a_caret() {
    let found = errors("rules:\n  - name: x\n    cron: \"0 60 * * *\"\n    kick: public qmgr I\n");
    assert_eq!(
        found,
        vec!["rules.yaml:3:11: bad cron expression \"0 60 * * *\": hour 60 is out of range: use 0 to 23\n    0 60 * * *\n      ^^"]
    );
}

#[test]
fn a_key_written_twice_hides_no_other_mistake() {
    let found = errors(
        "rules:\n  - name: x\n    every: 1m\n    every: 2m\n    kick: public qmgr I\n  - name: y\n    every: 5 parsecs\n    kick: public qmgr I\n",
    );
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("rules.yaml:4:5: \"every\" is written twice"));
    assert!(found[1].starts_with("rules.yaml:7:12: bad duration \"5 parsecs\""));
}

#[test]
fn flush_actions_are_read() {
    let set = parse(
        "rules:\n  - name: a\n    every: 5m\n    flush: {site: Partner.Example}\n  - name: b\n    cron: '0 6 * * *'\n    flush: all\n  - name: c\n    every: 1h\n    flush: {queue_id: 4XyZ_1}\n  - name: d\n    every: 1h\n    flush: refresh\n  - name: e\n    every: 1d\n    flush: purge\n",
    )
    .expect("valid");
    let actions: Vec<String> = set.rules.iter().map(|r| r.action.to_string()).collect();
    assert_eq!(
        actions,
        [
            "flush site partner.example",
            "flush all",
            "flush queue_id 4XyZ_1",
            "flush refresh",
            "flush purge"
        ]
    );
}

#[test]
fn flush_mistakes_are_named() {
    let one = |flush: &str| {
        kinds(&format!(
            "rules:\n  - name: a\n    every: 5m\n    flush: {flush}\n"
        ))
    };
    assert_eq!(
        one("everything"),
        [RuleErrorKind::FlushWord {
            text: "everything".into()
        }]
    );
    assert_eq!(one("{}"), [RuleErrorKind::FlushMapping]);
    assert_eq!(
        one("{site: a.example, queue_id: X}"),
        [RuleErrorKind::FlushMapping]
    );
    assert_eq!(
        one("{site: 'a b'}"),
        [RuleErrorKind::FlushSite { text: "a b".into() }]
    );
    assert_eq!(
        one("{queue_id: 'x-1'}"),
        [RuleErrorKind::FlushQueueId { text: "x-1".into() }]
    );
    assert!(matches!(
        kinds("rules:\n  - name: a\n    every: 5m\n    flush: all\n    kick: public qmgr I\n")
            .as_slice(),
        [RuleErrorKind::TwoActions { .. }]
    ));
    assert!(matches!(
        kinds("rules:\n  - name: a\n    every: 5m\n").as_slice(),
        [RuleErrorKind::NoAction { .. }]
    ));
    let text = errors("rules:\n  - name: a\n    every: 5m\n    flush: {site: 'a b'}\n");
    assert_eq!(text.len(), 1);
    assert!(text[0].starts_with("rules.yaml:4:"), "{text:?}");
}

#[test]
fn a_file_with_more_mistakes_than_are_reported_says_how_many_more() {
    let items = vec!["1"; MAX_REPORTED + 500].join(", ");
    let (_, mistakes) = parse_all(&format!("rules: [{items}]\n"));
    assert_eq!(mistakes.errors.len(), MAX_REPORTED);
    assert_eq!(mistakes.more, 500);
    // The first in file order are the ones reported.
    let first = mistakes.errors[0].position.expect("a position");
    assert_eq!((first.line, first.column), (1, 9));
    let text = mistakes.into_error(Path::new("rules.yaml")).to_string();
    let last: Vec<&str> = text.lines().rev().take(2).collect();
    assert_eq!(
        last,
        [
            "rules.yaml: 1500 errors: nothing was loaded",
            "rules.yaml: 500 more errors not shown: fix these first"
        ]
    );
}

#[test]
fn a_misspelt_zone_gets_a_did_you_mean() {
    if !std::path::Path::new("/usr/share/zoneinfo/Europe/Paris").exists() {
        return;
    }
    let rules = |zone: &str| {
        format!("rules:\n  - name: z\n    cron: \"0 6 * * *\"\n    timezone: {zone}\n    kick: public qmgr I\n")
    };
    let found = errors(&rules("Europe/Pari"));
    assert!(
        found.iter().any(
            |e| e.contains("unknown time zone \"Europe/Pari\": did you mean \"Europe/Paris\"?")
        ),
        "{found:?}"
    );
    let found = errors(&rules("europe/paris"));
    assert!(
        found
            .iter()
            .any(|e| e.contains("did you mean \"Europe/Paris\"?")),
        "{found:?}"
    );
    let found = errors(&rules("Mars/Olympus"));
    assert!(
        !found.iter().any(|e| e.contains("did you mean")),
        "{found:?}"
    );
}
