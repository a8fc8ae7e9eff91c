//! A real `hookrelay serve` on a SQLite file for the command-line tests, a `hookrelay listen` for
//! its webhooks, and the few API calls the tests make.

use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use super::{next_line, Listen, HOOKRELAY};

pub const ADMIN: &str = "test-admin-token-for-the-cli-tests";

/// A running `hookrelay serve` on a SQLite file, listening on a free port.
pub struct Server {
    pub base: String,
    _child: Child,
}

impl Server {
    pub async fn start(database: &Path) -> Server {
        Server::start_with(database, &[]).await
    }

    /// [`Server::start`] with more settings, e.g. `("HOOKRELAY_RETRY_SCHEDULE", "300ms")`.
    pub async fn start_with(database: &Path, extra_env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(HOOKRELAY)
            .arg("serve")
            .env("HOOKRELAY_DATABASE_URL", sqlite_url(database))
            .env("HOOKRELAY_LISTEN", "127.0.0.1:0")
            .env("HOOKRELAY_ADMIN_TOKEN", ADMIN)
            .env("HOOKRELAY_ALLOWED_TARGET_NETWORKS", "127.0.0.0/8")
            .env("HOOKRELAY_LOG", "warn")
            .envs(extra_env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut output = BufReader::new(child.stdout.take().unwrap()).lines();
        // "hookrelay 0.1.0 listening on http://127.0.0.1:PORT"
        let base = loop {
            let line = next_line(&mut output).await.expect("serve exited at once");
            if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                break url.to_owned();
            }
        };
        // Keep reading, so that the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = output.next_line().await {} });
        Server {
            base,
            _child: child,
        }
    }
}

/// A `hookrelay listen` for the webhooks to deliver to; its output is read and dropped.
pub async fn receiver() -> (String, Child) {
    let Listen {
        base,
        mut output,
        child,
    } = Listen::start(&[]).await;
    tokio::spawn(async move { while let Ok(Some(_)) = output.next_line().await {} });
    (format!("{base}/webhooks"), child)
}

pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

pub async fn post(client: &reqwest::Client, url: String, token: &str, body: Value) -> (u16, Value) {
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A GET that must answer 200; its body.
pub async fn get(client: &reqwest::Client, url: String, token: &str) -> Value {
    let response = client.get(url).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "{body}");
    body
}

/// The `field` of every object in the array `list`.
pub fn strings(list: &Value, field: &str) -> HashSet<String> {
    let items = list.as_array().unwrap().iter();
    items
        .map(|i| i[field].as_str().unwrap().to_owned())
        .collect()
}
