use super::*;
use crate::rules::Readiness;
use std::time::Duration;

fn registration(
    directory: &Path,
    pattern: Option<&str>,
    poll: Option<Duration>,
    ready: Readiness,
) -> Registration {
    Registration {
        spec: WatchSpec {
            directory: directory.to_owned(),
            pattern: pattern.map(|p| glob::Pattern::new(p).expect("glob")),
            poll,
            ready,
            drain_within: None,
        },
        live: Arc::new(Live::default()),
        maildrop_of: None,
        notify: None,
    }
}

/// The `poll:` fallback sees a new file without inotify.
#[test]
fn polling_notices_a_new_matching_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registration = registration(
        dir.path(),
        Some("*.eml"),
        Some(Duration::from_millis(20)),
        Readiness::Any,
    );
    let live = Arc::clone(&registration.live);
    crate::runtime().expect("runtime").block_on(async {
        let task = tokio::spawn(follow::poll(registration));
        tokio::time::sleep(Duration::from_millis(50)).await;
        std::fs::write(dir.path().join("skip.tmp"), b"x").expect("write");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            live.pending().take().is_none(),
            "a file the pattern excludes counted"
        );
        std::fs::write(dir.path().join("mail.eml"), b"x").expect("write");
        tokio::time::timeout(Duration::from_secs(10), live.pending().wait())
            .await
            .expect("the poll noticed the file");
        task.abort();
    });
}

/// `arrival::counts` on the file as `lstat` sees it now.
fn counts_now(spec: &WatchSpec, file: &Path, sign: Sign) -> bool {
    std::fs::symlink_metadata(file).is_ok_and(|meta| arrival::counts(spec, file, &meta, sign))
}

#[test]
fn ordinary_directories_are_not_reported_blind() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(blind_file_system(dir.path()), None);
}

#[test]
fn executable_readiness_needs_the_owner_execute_bit() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("queued");
    std::fs::write(&file, b"x").expect("write");
    let spec = registration(dir.path(), None, None, Readiness::Executable).spec;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert!(!counts_now(&spec, &file, Sign::Arrival));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o744)).expect("chmod");
    assert!(counts_now(&spec, &file, Sign::Arrival));
    std::os::unix::fs::symlink(&file, dir.path().join("link")).expect("symlink");
    assert!(
        !counts_now(&spec, &dir.path().join("link"), Sign::Arrival),
        "a symlink was followed"
    );
}

#[test]
fn a_created_file_counts_only_when_it_is_a_hard_link() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = registration(dir.path(), None, None, Readiness::Any).spec;
    let file = dir.path().join("new");
    std::fs::write(&file, b"being written").expect("write");
    assert!(!counts_now(&spec, &file, Sign::Created));
    let link = dir.path().join("linked");
    std::fs::hard_link(&file, &link).expect("link");
    assert!(counts_now(&spec, &link, Sign::Created));
}

#[test]
fn a_file_counted_a_moment_ago_is_not_counted_again() {
    let mut recent = arrival::Recent::default();
    assert!(recent.first(Path::new("/q/maildrop/A"), (1, 10, 0)));
    assert!(!recent.first(Path::new("/q/maildrop/A"), (1, 10, 0)));
    assert!(recent.first(Path::new("/q/maildrop/B"), (2, 10, 0)));
}

/// The same name written again, or another file under it, is a new
/// arrival however soon it comes.
#[test]
fn a_file_in_a_new_state_counts_again() {
    let mut recent = arrival::Recent::default();
    assert!(recent.first(Path::new("/spool/flag"), (1, 10, 0)));
    assert!(recent.first(Path::new("/spool/flag"), (1, 10, 5)));
    assert!(recent.first(Path::new("/spool/flag"), (2, 10, 5)));
}

#[test]
fn two_spellings_of_one_directory_share_a_watch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inside = dir.path().join("in");
    std::fs::create_dir(&inside).expect("mkdir");
    let other_spelling = inside.join("..").join("in");
    let groups = groups(&[
        registration(&inside, None, None, Readiness::Any),
        registration(&other_spelling, None, None, Readiness::Any),
    ]);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].members, [0, 1]);
}
