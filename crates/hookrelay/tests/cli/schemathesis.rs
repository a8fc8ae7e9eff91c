//! The OpenAPI document against a third-party tester: schemathesis (installed by
//! `scripts/setup-schemathesis.sh`) runs every check in every phase (examples, coverage, fuzzing,
//! stateful) against the real `hookrelay serve` binary on a temporary SQLite file (the [`Server`]
//! of the other command-line tests), with the admin token, and must find nothing: no 5xx, no
//! answer outside its schema, no request the document allows refused, none it forbids accepted,
//! no undeclared method answered but 405.
//!
//! The run is bounded (`--max-examples`, one worker) and seeded, so the same document and server
//! give the same requests on every run.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command;

use super::server::{Server, ADMIN};

/// Any fixed seed will do; a fixed one makes a failure reproducible with the printed command.
const SEED: &str = "20261204";
/// Test cases per operation and phase: enough to reach every rule, small enough for 2 cores.
const MAX_EXAMPLES: &str = "40";
/// Past this the run is stopped and the test fails: it takes well under a minute.
const LIMIT: Duration = Duration::from_secs(480);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The schemathesis the setup script installs, installing it first if it is not there yet.
fn schemathesis() -> PathBuf {
    let root = workspace();
    let script = root.join("scripts/setup-schemathesis.sh");
    let status = std::process::Command::new("bash")
        .arg(&script)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(status.success(), "{} failed", script.display());
    root.join("target/schemathesis/venv/bin/schemathesis")
}

/// The server's own document, saved with one change: every webhook target URL it lets the
/// fuzzer make up is `http://127.0.0.1:9/…` (nothing listens there). The server delivers to and
/// test-sends to the webhooks schemathesis creates, and a made-up host name would send DNS
/// queries and requests off this machine; the document's real URL rule is exercised by the
/// story tests instead. The rewrite must find the rule, so that it cannot silently stop working.
async fn loopback_targets_only(base: &str, dir: &Path) -> PathBuf {
    let text = reqwest::get(format!("{base}/openapi.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut document: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rule = hookrelay::api::openapi::target_url_pattern();
    let replaced = replace_pattern(&mut document, &rule, r"^http://127\.0\.0\.1:9/[a-z]{0,8}$");
    assert!(
        replaced >= 2,
        "the target URL rule was not found in the document"
    );
    let path = dir.join("openapi.json");
    std::fs::write(&path, serde_json::to_vec(&document).unwrap()).unwrap();
    path
}

/// Replaces every `"pattern": from` in `value` with `to`; returns how many.
fn replace_pattern(value: &mut serde_json::Value, from: &str, to: &str) -> usize {
    match value {
        serde_json::Value::Object(map) => {
            let mut n = 0;
            if map.get("pattern").and_then(|p| p.as_str()) == Some(from) {
                map.insert("pattern".into(), to.into());
                map.remove("examples");
                n += 1;
            }
            n + map
                .values_mut()
                .map(|v| replace_pattern(v, from, to))
                .sum::<usize>()
        }
        serde_json::Value::Array(items) => {
            items.iter_mut().map(|v| replace_pattern(v, from, to)).sum()
        }
        _ => 0,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_failure_in_any_phase_with_every_check() {
    let schemathesis = schemathesis();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("hookrelay.db")).await;
    let base = &server.base;

    let document = loopback_targets_only(base, dir.path()).await;
    let started = Instant::now();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/schemathesis.toml");
    let run = Command::new(&schemathesis)
        .current_dir(dir.path())
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(&document)
        .args(["--url", base])
        .args(["--checks", "all"])
        .args(["--header", &format!("Authorization: Bearer {ADMIN}")])
        .args([
            "--seed",
            SEED,
            "--max-examples",
            MAX_EXAMPLES,
            "--workers",
            "1",
        ])
        .args(["--generation-database", "none", "--request-timeout", "20"])
        .args(["--no-color", "--output-truncate", "false"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(LIMIT, run)
        .await
        .unwrap_or_else(|_| panic!("schemathesis did not finish in {LIMIT:?}"))
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found failures ({:?}, {:?}):\n{report}",
        output.status,
        started.elapsed()
    );
    // Every phase ran and passed: a phase skipped (say, stateful for lack of links) is not a pass.
    for phase in ["Examples", "Coverage", "Fuzzing", "Stateful"] {
        assert!(
            report.contains(&format!("✅ {phase}")),
            "phase {phase} did not pass:\n{report}"
        );
    }
    // Every generated case passed, and every operation was tested.
    let cases = report
        .lines()
        .find(|l| l.contains(" generated, "))
        .unwrap_or_else(|| panic!("no test case count:\n{report}"));
    let numbers: Vec<u64> = cases
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(
        numbers.len() >= 2 && numbers[0] > 0 && numbers[0] == numbers[1],
        "not every generated case passed ({cases:?}):\n{report}"
    );
    let selected = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Selected: "))
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no operation count:\n{report}"));
    assert!(
        report.contains(&format!("Tested: {selected}\n")),
        "not every operation was tested:\n{report}"
    );
}
