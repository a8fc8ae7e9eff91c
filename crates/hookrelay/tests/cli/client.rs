//! The command-line client as a user runs it: a real `hookrelay serve` on a temporary SQLite file,
//! a real `hookrelay listen` as the target, and `hookrelay webhooks|events|deliveries|licenses`
//! run as processes; their `--json` output parsed, their tables read, their exit codes checked.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use super::server::{receiver, Server, ADMIN};
use super::{HOOKRELAY, WAIT};

/// What a finished command printed and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and parses stdout as one JSON document.
    pub fn json(&self) -> Value {
        assert_eq!(self.code, 0, "{}{}", self.stdout, self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", self.stdout))
    }

    /// Asserts success; stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "{}{}", self.stdout, self.stderr);
        &self.stdout
    }

    /// Asserts the exit code and that stderr contains `text`.
    pub fn fails_saying(&self, code: i32, text: &str) {
        let said = self.failed(code);
        assert!(said.contains(text), "expected {text:?} in:\n{said}");
    }

    /// Asserts the exit code; stderr.
    pub fn failed(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "{}{}", self.stdout, self.stderr);
        &self.stderr
    }
}

/// Runs `hookrelay ARGS` in `dir` with `env` and none of the client's own variables inherited.
pub async fn hookrelay(args: &[&str], env: &[(&str, &str)], dir: Option<&Path>) -> Run {
    let mut command = Command::new(HOOKRELAY);
    command.args(args);
    for name in [
        "HOOKRELAY_SERVER",
        "HOOKRELAY_API_KEY",
        "HOOKRELAY_LICENSE",
        "HOOKRELAY_DATABASE_URL",
        "HOOKRELAY_LISTEN",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = tokio::time::timeout(WAIT, command.output())
        .await
        .unwrap_or_else(|_| panic!("hookrelay {args:?} did not finish in 20 s"))
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A server, a receiver, and a license created through `hookrelay licenses create`.
pub struct Setup {
    pub server: Server,
    /// The directory of the server's `hookrelay.db` and its credentials file.
    pub dir: tempfile::TempDir,
    /// The receiver's webhook URL.
    pub target: String,
    pub license: String,
    pub key: String,
    _receiver: Child,
}

impl Setup {
    pub async fn start() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(&dir.path().join("hookrelay.db")).await;
        let (target, receiver) = receiver().await;
        let created = hookrelay(
            &[
                "licenses",
                "create",
                "--server",
                &server.base,
                "--api-key",
                ADMIN,
                "--json",
            ],
            &[],
            None,
        )
        .await
        .json();
        Setup {
            license: created["license_id"].as_str().unwrap().to_owned(),
            key: created["api_key"].as_str().unwrap().to_owned(),
            server,
            dir,
            target,
            _receiver: receiver,
        }
    }

    /// `hookrelay ARGS` with this license's key and id.
    pub async fn run(&self, args: &[&str]) -> Run {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--server", &self.server.base, "--api-key", &self.key]);
        all.extend(["--license", &self.license]);
        let run = hookrelay(&all, &[], None).await;
        assert!(
            !run.stdout.contains(&self.key) && !run.stderr.contains(&self.key),
            "the API key was printed:\n{}{}",
            run.stdout,
            run.stderr
        );
        run
    }

    /// `hookrelay webhooks add --url RECEIVER --event-type EVENT_TYPE FLAGS`.
    pub async fn add(&self, event_type: &str, flags: &[&str]) -> Run {
        let target = self.target.clone();
        let mut all = vec!["webhooks", "add", "--url", &target];
        all.extend(["--event-type", event_type]);
        all.extend(flags);
        self.run(&all).await
    }

    /// `hookrelay webhooks add … --json` to the receiver: the webhook's id.
    pub async fn webhook(&self, event_type: &str, data_types: &str) -> String {
        let flags = ["--data-types", data_types, "--json"];
        let created = self.add(event_type, &flags).await.json();
        created["id"].as_str().unwrap().to_owned()
    }

    pub fn database(&self) -> PathBuf {
        self.dir.path().join("hookrelay.db")
    }
}

/// Repeats `hookrelay ARGS --json` until `done` holds for its answer.
pub async fn until(setup: &Setup, args: &[&str], done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let answer = setup.run(args).await.json();
        if done(&answer) {
            return answer;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {answer} after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
