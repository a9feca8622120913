use super::*;
use std::time::Duration;

struct Loaded {
    result: Result<MainCf, ConfigError>,
    warnings: Vec<String>,
}

fn load_text(main_cf: &str) -> (tempfile::TempDir, Loaded) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("main.cf"), main_cf).expect("write main.cf");
    let options = LoadOptions {
        config_directory: dir.path().as_os_str().to_owned(),
        process_name: b"postkick".to_vec(),
        untrusted: false,
    };
    let mut warnings = Vec::new();
    let result = load(&options, &mut |w: ConfigWarning| {
        warnings.push(w.to_string())
    });
    (dir, Loaded { result, warnings })
}

fn fatal(main_cf: &str) -> (String, Vec<String>) {
    let (_dir, loaded) = load_text(main_cf);
    let err = loaded.result.expect_err("should fail");
    (err.to_string(), loaded.warnings)
}

#[test]
fn defaults_when_main_cf_is_empty() {
    let (dir, loaded) = load_text("");
    let cf = loaded.result.expect("loads");
    assert_eq!(cf.queue_directory, PathBuf::from("/var/spool/postfix"));
    assert_eq!(cf.trigger_timeout, Duration::from_secs(10));
    assert_eq!(cf.application_event_drain_time, Duration::from_secs(100));
    assert!(
        !cf.smtputf8_enable,
        "compatibility_level 0 disables SMTPUTF8"
    );
    assert_eq!(cf.config_directory, dir.path());
    assert!(loaded.warnings.is_empty());
}

#[test]
fn expansion_with_a_continuation_line_and_preloaded_names() {
    let (dir, loaded) = load_text(
        "compatibility_level = 3.6\nbase = $config_directory\nqueue_directory = $base/q/\n  $process_name-$mail_version\n",
    );
    let cf = loaded.result.expect("loads");
    let expected = format!("{}/q/  postkick-3.7.11", dir.path().display());
    assert_eq!(cf.queue_directory, PathBuf::from(expected));
    assert!(cf.smtputf8_enable);
}

#[test]
fn defaults_of_later_parameters_are_not_yet_visible() {
    let (_dir, loaded) = load_text("queue_directory = /x/$trigger_timeout/$daemon_directory\n");
    let cf = loaded.result.expect("loads");
    assert_eq!(
        cf.queue_directory,
        PathBuf::from("/x//usr/lib/postfix/sbin")
    );
}

#[test]
fn time_values_with_units() {
    let (_dir, loaded) = load_text("trigger_timeout = 2m\napplication_event_drain_time = 1h\n");
    let cf = loaded.result.expect("loads");
    assert_eq!(cf.trigger_timeout, Duration::from_secs(120));
    assert_eq!(cf.application_event_drain_time, Duration::from_secs(3600));
}

#[test]
fn overriding_a_preloaded_parameter_warns() {
    let (_dir, loaded) = load_text("process_name = other\n");
    assert!(loaded.result.is_ok());
    assert_eq!(loaded.warnings.len(), 1);
    assert!(
        loaded.warnings[0]
            .ends_with("main.cf, line 1: overriding earlier entry: process_name=postkick"),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn fatal_validation_messages() {
    assert_eq!(
        fatal("queue_directory =\n").0,
        "bad string length 0 < 1: queue_directory = "
    );
    assert_eq!(
        fatal("compatibility_level = bogus\n").0,
        "malformed compatibility level syntax: \"bogus\""
    );
    assert_eq!(
        fatal("trigger_timeout = 10x\n").0,
        "parameter trigger_timeout: bad time value or unit: 10x"
    );
    assert_eq!(
        fatal("application_event_drain_time = 0\n").0,
        "invalid application_event_drain_time: 0 (min 1)"
    );
    assert_eq!(
        fatal("smtputf8_enable = maybe\n").0,
        "bad boolean configuration: smtputf8_enable = maybe"
    );
    assert_eq!(
        fatal("import_environment = {FOO\n").0,
        "import_environment: missing '}' in \"{FOO\""
    );
    assert_eq!(
        fatal("import_environment = =x\n").0,
        "update_env: missing attribute name in: =x"
    );
}

#[test]
fn braced_import_environment_entries_are_accepted() {
    let (_dir, loaded) = load_text("import_environment = { TZ = Europe/Paris }, LANG=C\n");
    assert!(loaded.result.is_ok());
}

#[test]
fn macro_errors_warn_then_fail() {
    let (message, warnings) = fatal("queue_directory = $queue_directory\n");
    assert_eq!(message, "dictionary mail_dict: macro processing error");
    assert_eq!(
        warnings,
        vec!["unreasonable macro call nesting: \"queue_directory\""]
    );
}

#[test]
fn missing_and_unreadable_main_cf() {
    let options = LoadOptions {
        config_directory: "/nonexistent-postkick-dir".into(),
        process_name: b"postkick".to_vec(),
        untrusted: false,
    };
    let err = load(&options, &mut |_: ConfigWarning| {}).expect_err("missing");
    assert_eq!(
        err.to_string(),
        "open /nonexistent-postkick-dir/main.cf: No such file or directory"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("main.cf")).expect("mkdir");
    let options = LoadOptions {
        config_directory: dir.path().as_os_str().to_owned(),
        ..options
    };
    let err = load(&options, &mut |_: ConfigWarning| {}).expect_err("directory");
    assert_eq!(
        err.to_string(),
        format!("read {}/main.cf: Is a directory", dir.path().display())
    );
}

#[test]
fn config_directory_prefers_the_command_line() {
    assert_eq!(
        config_directory(Some(OsStr::new("/x"))),
        OsString::from("/x")
    );
}

#[test]
fn service_names_and_fast_flush_domains_follow_postfix_defaults() {
    let (_dir, loaded) = load_text("compatibility_level = 3.6\n");
    let cf = loaded.result.expect("loads");
    assert_eq!(
        cf.services,
        ServiceNames {
            pickup: "pickup".into(),
            queue: "qmgr".into(),
            showq: "showq".into(),
            flush: "flush".into(),
        }
    );
    // relay_domains is empty from compatibility level 2 on.
    assert_eq!(cf.fast_flush.domains, "");
    assert_eq!(cf.fast_flush.written, None);
    assert!(cf
        .fast_flush
        .parent_domain_matches_subdomains
        .contains("fast_flush_domains"));
    let (_dir, loaded) = load_text(
        "mydestination = here.example\nfast_flush_domains = $mydestination,\n  partner.example\nflush_service_name = myflush\n",
    );
    let cf = loaded.result.expect("loads");
    assert_eq!(cf.fast_flush.domains, "here.example,  partner.example");
    assert_eq!(
        cf.fast_flush.written,
        Some((2, "$mydestination,  partner.example".into()))
    );
    assert_eq!(cf.services.flush, "myflush");
    let (_dir, loaded) = load_text("relay_domains = a.example\n");
    assert_eq!(
        loaded.result.expect("loads").fast_flush.domains,
        "a.example"
    );
}

#[test]
fn an_empty_service_name_is_refused_as_postfix_refuses_it() {
    let (message, _) = fatal("showq_service_name =\n");
    assert!(message.contains("showq_service_name"), "{message}");
}
