//! `postkickd demo` and `postkickd endpoints`: the daemon without a mail system.
//!
//! `demo` builds a throw-away test queue (see [`super::test_queue`]) in the
//! temporary directory, runs demonstration rules against it for a few
//! seconds, drops files into its maildrop, prints every kick the stand-in
//! endpoints receive, and removes the directory. `endpoints DIR` builds the
//! same test queue in `DIR` for a rules file under trial and serves it until
//! interrupted. Neither touches a real Postfix queue.

use std::path::Path;
use std::time::Duration;

use super::test_queue::{self, Received};
use crate::postkickd::engine::{serve, StopSignals};
use crate::postkickd::output::outln;
use crate::postkickd::{DaemonError, RunOptions};
use crate::rules::{self, Action};

const DEMO_RULES: &str = r#"rules:
  - name: pickup-on-maildrop
    watch: maildrop
    ready: any
    kick: public pickup W
  - name: deferred-every-2s
    every: 2s
    kick: {class: public, service: qmgr, request: AD}
  - name: incoming-on-the-third-second
    cron: "*/3 * * * * *"
    kick: public qmgr I
  - name: flush-at-start
    every: 1h
    on_start: true
    kick: public flush W
  - name: flush-a-site-at-start
    every: 1h
    on_start: true
    flush: {site: example.com}
"#;

fn print(received: Received) {
    outln!(
        "endpoint {} received {:?}",
        received.endpoint,
        String::from_utf8_lossy(&received.request)
    );
}

/// Runs the demonstration for `seconds`.
pub fn demo(seconds: u64) -> Result<(), DaemonError> {
    let dir = std::env::temp_dir().join(format!("postkickd-demo-{}", std::process::id()));
    let runtime = crate::runtime().map_err(DaemonError::setup("the runtime"))?;
    let mut made = Vec::new();
    let result = runtime.block_on(async {
        let queue = test_queue::create(&dir, &[]).map_err(DaemonError::setup("the demo queue"))?;
        made = queue.made();
        let rules_path = dir.join("rules.yaml");
        let text = format!(
            "postfix:\n  config_directory: {}\n{DEMO_RULES}",
            queue.config_directory.display()
        );
        std::fs::write(&rules_path, &text).map_err(DaemonError::setup("the demo rules"))?;
        outln!(
            "demo: a test queue in {}, no mail system needed",
            dir.display()
        );
        outln!("demo: rules ({}):\n{DEMO_RULES}", rules_path.display());
        let maildrop = queue.queue_directory.join("maildrop");
        let options = RunOptions {
            rules_path,
            config_directory: None,
            dry_run: false,
            control: Some(dir.join("control")),
            state: Some(dir.join("state")),
            control_group: None,
        };
        let dropper = async {
            for n in 1.. {
                tokio::time::sleep(Duration::from_millis(2500)).await;
                let file = maildrop.join(format!("message-{n}"));
                if std::fs::write(&file, b"demo").is_ok() {
                    outln!("demo: dropped {}", file.display());
                }
            }
        };
        tokio::select! {
            () = queue.serve(print) => Ok(()),
            () = dropper => Ok(()),
            result = serve(&options, tokio::time::sleep(Duration::from_secs(seconds))) => result,
        }
    });
    remove(&made);
    result
}

/// Removes what a test queue made, and nothing else.
fn remove(made: &[std::path::PathBuf]) {
    for path in made {
        let _ = std::fs::remove_dir_all(path).or_else(|_| std::fs::remove_file(path));
    }
}

/// Serves a test queue in `dir` for the services `rules_path` names (if
/// given) and every catalog service, until SIGINT or SIGTERM.
pub fn endpoints(dir: &Path, rules_path: Option<&Path>) -> Result<(), DaemonError> {
    let extra: Vec<(String, String)> = match rules_path {
        Some(path) => rules::load(path)?
            .rules
            .into_iter()
            .filter_map(|r| match r.action {
                Action::Kick(target) => Some((target.class, target.service)),
                Action::Flush(_) => None,
            })
            .collect(),
        None => Vec::new(),
    };
    let runtime = crate::runtime().map_err(DaemonError::setup("the runtime"))?;
    runtime.block_on(async {
        let mut stop_signals = StopSignals::install()?;
        let queue = test_queue::create(dir, &extra).map_err(DaemonError::setup("the test queue"))?;
        let made = queue.made();
        outln!(
            "endpoints: test queue {} ready; try: postkickd run --rules RULES -c {}   (Ctrl-C ends)",
            queue.queue_directory.display(),
            queue.config_directory.display()
        );
        tokio::select! {
            () = queue.serve(print) => {}
            () = stop_signals.recv() => {}
        }
        // What was made goes, so that the same directory can serve again.
        remove(&made);
        Ok(())
    })
}
