//! The example started as a real process and fed real webhooks over 127.0.0.1: pushing to a
//! Visitors API the test stands up (`fake_api`), and to a real hookrelay server that sent the
//! webhook itself (`with_hookrelay`).

mod fake_api;
mod with_hookrelay;

use std::process::Stdio;
use std::time::Duration;

use livechat_webhooks::{sample, DataTypes, EventType};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const SEED_HTPASSWD: &str = "livechat:$apr1$G9iXatUK$gPJLrKQsoWWkFCY/SXO/H.\n";
const WAIT: Duration = Duration::from_secs(10);

/// The `visitor-details` binary, running with the seed's `.htpasswd` and a fresh database.
pub struct Example {
    pub webhook_url: String,
    output: Lines<BufReader<ChildStdout>>,
    _child: Child,
    _dir: tempfile::TempDir,
}

impl Example {
    pub async fn start(api: &str) -> Example {
        let dir = tempfile::tempdir().unwrap();
        let htpasswd = dir.path().join(".htpasswd");
        std::fs::write(&htpasswd, SEED_HTPASSWD).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_visitor-details"))
            .arg("--port=0")
            .arg("--htpasswd")
            .arg(&htpasswd)
            .arg("--db")
            .arg(dir.path().join("customers.db"))
            .arg("--api")
            .arg(api)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut output = BufReader::new(child.stdout.take().unwrap()).lines();
        // The first line names the address: "visitor-details: webhooks to http://…/webhooks, …".
        let banner = next_line(&mut output).await;
        let webhook_url = banner
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .expect("the banner names the webhook URL")
            .trim_end_matches(',')
            .to_owned();
        Example {
            webhook_url,
            output,
            _child: child,
            _dir: dir,
        }
    }

    /// Posts `body` as a webhook with these Basic credentials.
    pub async fn post(&self, user: &str, password: &str, body: &Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(&self.webhook_url)
            .basic_auth(user, Some(password))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Waits for a line of output containing `text`.
    pub async fn line_containing(&mut self, text: &str) -> String {
        loop {
            let line = next_line(&mut self.output).await;
            if line.contains(text) {
                return line;
            }
        }
    }
}

async fn next_line(output: &mut Lines<BufReader<ChildStdout>>) -> String {
    tokio::time::timeout(WAIT, output.next_line())
        .await
        .expect("the example printed nothing for 10 s")
        .unwrap()
        .expect("the example exited")
}

/// The seed's `chat_started` webhook (visitor Mary Brown, mary.brown@email.com).
pub fn chat_started() -> Value {
    sample::payload(
        EventType::ChatStarted,
        DataTypes::all_for(EventType::ChatStarted),
        sample::LICENSE_ID,
        sample::TOKEN,
    )
}
