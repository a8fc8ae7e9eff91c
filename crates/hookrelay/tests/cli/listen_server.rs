//! `hookrelay listen --server` as a developer runs it: a real `hookrelay serve` (short retries, a
//! 2 s session grace), licenses made with `hookrelay licenses create`, events sent with
//! `hookrelay events send`, a real `hookrelay listen --port 0` as the developer's app, and the
//! command itself as a child process whose lines are read, killed with SIGKILL or stopped with a
//! real SIGINT. The isolation, concurrency and refusal stories are in `listen_server_more.rs`.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::Instant;

use super::client::{hookrelay, Run};
use super::server::{Server, ADMIN};
use super::{next_line, Listen, HOOKRELAY, WAIT};

/// A server whose failed attempts are retried after 300 ms, and whose listen sessions are removed
/// 2 s after their command left.
pub struct Relay {
    pub server: Server,
    _dir: tempfile::TempDir,
}

impl Relay {
    pub async fn start() -> Relay {
        let dir = tempfile::tempdir().unwrap();
        let settings = [
            ("HOOKRELAY_RETRY_SCHEDULE", "300ms,300ms,300ms"),
            ("HOOKRELAY_CLI_SESSION_GRACE", "2s"),
        ];
        let server = Server::start_with(&dir.path().join("hookrelay.db"), &settings).await;
        Relay { server, _dir: dir }
    }

    /// A new license, through `hookrelay licenses create`.
    pub async fn license(&self) -> License {
        let base = self.server.base.clone();
        let args = ["licenses", "create", "--server", &base, "--api-key", ADMIN];
        let created = hookrelay(&[&args[..], &["--json"]].concat(), &[], None)
            .await
            .json();
        License {
            id: created["license_id"].as_str().unwrap().to_owned(),
            key: created["api_key"].as_str().unwrap().to_owned(),
            server: base,
        }
    }
}

/// A license of the [`Relay`] and its API key.
pub struct License {
    pub id: String,
    pub key: String,
    pub server: String,
}

impl License {
    /// `hookrelay ARGS --server … --api-key KEY --license ID`.
    pub async fn run(&self, args: &[&str]) -> Run {
        let connection = ["--server", &self.server, "--api-key", &self.key];
        let all = [args, &connection[..], &["--license", &self.id]].concat();
        hookrelay(&all, &[], None).await
    }

    /// Sends a sample `chat_started` whose `event_unique_id` is `id`; how many deliveries it made.
    pub async fn send(&self, id: &str) -> u64 {
        let set = format!("event_unique_id={id}");
        let args = ["events", "send", "--sample", "chat_started", "--set", &set];
        let sent = self.run(&[&args[..], &["--json"]].concat()).await.json();
        sent["deliveries"].as_u64().unwrap()
    }

    /// Starts `hookrelay listen --server … --api-key KEY FLAGS`.
    pub async fn listen(&self, flags: &[&str]) -> ServerListen {
        ServerListen::start(&self.server, &self.key, flags).await
    }

    /// The license's webhooks, as `hookrelay webhooks list --json` shows them.
    pub async fn webhooks(&self) -> Vec<Value> {
        let list = self.run(&["webhooks", "list", "--json"]).await.json();
        list["webhooks"].as_array().unwrap().clone()
    }

    /// Repeats `hookrelay deliveries show ID --json` until it has succeeded.
    pub async fn succeeded(&self, delivery: &str) -> Value {
        let show = ["deliveries", "show", delivery, "--json"];
        let deadline = Instant::now() + WAIT;
        loop {
            let shown = self.run(&show).await.json();
            if shown["status"] == "succeeded" {
                return shown;
            }
            assert!(Instant::now() < deadline, "still {shown} after 20 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Repeats `hookrelay webhooks list --json` until `done` holds for the list, for at most
    /// `wait`.
    pub async fn webhooks_until(&self, wait: Duration, done: impl Fn(&[Value]) -> bool) {
        let deadline = Instant::now() + wait;
        loop {
            let webhooks = self.webhooks().await;
            if done(&webhooks) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "still {webhooks:?} after {wait:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A running `hookrelay listen --server …`.
pub struct ServerListen {
    /// Its first line: "Ready! License L: … Session ses_…. Press Ctrl-C to stop."
    pub ready: String,
    /// The session id the Ready line names.
    pub session: String,
    /// Every line read after the Ready line.
    pub seen: Vec<String>,
    output: Lines<BufReader<ChildStdout>>,
    child: Child,
}

impl ServerListen {
    pub async fn start(server: &str, key: &str, flags: &[&str]) -> ServerListen {
        let mut child = Command::new(HOOKRELAY)
            .args(["listen", "--server", server, "--api-key", key])
            .args(flags)
            .env_remove("HOOKRELAY_API_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut output = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = next_line(&mut output).await.expect("listen exited at once");
        assert!(ready.starts_with("Ready! License "), "{ready}");
        let session = ready
            .split_whitespace()
            .find(|w| w.starts_with("ses_"))
            .unwrap_or_else(|| panic!("no session in {ready:?}"))
            .trim_end_matches(['.', ','])
            .to_owned();
        ServerListen {
            ready,
            session,
            seen: Vec::new(),
            output,
            child,
        }
    }

    /// Waits for a line of output containing `text`.
    pub async fn line_containing(&mut self, text: &str) -> String {
        loop {
            let next = tokio::time::timeout(WAIT, self.output.next_line()).await;
            let Ok(next) = next else {
                panic!("no {text:?} for 20 s after {:#?}", self.seen)
            };
            match next.unwrap() {
                Some(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                None => panic!("listen exited before printing {text:?}: {:#?}", self.seen),
            }
        }
    }

    /// Kills it with SIGKILL: no goodbye to the server.
    pub async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// Presses Ctrl-C (SIGINT); the exit status and everything printed after the lines read.
    pub async fn interrupt(mut self) -> (ExitStatus, String) {
        super::interrupt(&mut self.child, &mut self.output).await
    }
}

/// An `event_unique_id` (32 lowercase hex digits) told apart by `n`.
pub fn event_id(n: u32) -> String {
    format!("e0e0{n:028x}")
}

/// The `dlv_N` a line of `listen --server` names.
pub fn delivery_of(line: &str) -> String {
    let word = line.split_whitespace().find(|w| w.starts_with("dlv_"));
    word.unwrap_or_else(|| panic!("no delivery id in {line:?}"))
        .to_owned()
}

/// The session webhooks of `session` in a webhooks list.
pub fn of_session<'a>(webhooks: &'a [Value], session: &str) -> Vec<&'a Value> {
    let mine = |w: &&Value| w["session"]["id"] == session;
    webhooks.iter().filter(mine).collect()
}

#[tokio::test]
async fn listen_server_forwards_a_real_delivery_to_the_app_and_the_server_records_its_200() {
    let relay = Relay::start().await;
    let license = relay.license().await;
    let mut app = Listen::start(&[]).await;
    let flags = ["--events", "chat_started", "--forward-to", &app.url(None)];
    let mut cli = license.listen(&flags).await;
    let expected = format!("License {}: chat_started (1), forwarding to ", license.id);
    assert!(cli.ready.contains(&expected), "{}", cli.ready);
    let secret = cli.line_containing("Your webhook signing secret is").await;
    assert!(secret.contains(" whsec_"), "{secret}");

    let id = event_id(1);
    assert_eq!(license.send(&id).await, 1);

    let at_app = app.line_containing(&id).await;
    assert!(at_app.contains("chat_started"), "{at_app}");
    assert!(at_app.ends_with("<-- [200]"), "{at_app}");
    let line = cli.line_containing(&id).await;
    assert!(line.contains("chat_started"), "{line}");
    assert!(line.contains("signature ok"), "{line}");
    assert!(line.contains("<-- [200]  (your app answered"), "{line}");
    let delivery = delivery_of(&line);
    let shown = license.succeeded(&delivery).await;
    let attempts = shown["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{shown}");
    assert_eq!(attempts[0]["status_code"], 200, "{shown}");

    let webhooks = license.webhooks().await;
    assert_eq!(webhooks.len(), 1, "{webhooks:?}");
    let webhook = &webhooks[0];
    assert_eq!(webhook["kind"], "cli", "{webhook}");
    assert_eq!(webhook["event_type"], "chat_started", "{webhook}");
    let url = webhook["url"].as_str().unwrap();
    assert!(url.starts_with("cli://ses_"), "{webhook}");
    assert_eq!(webhook["session"]["id"], cli.session.as_str(), "{webhook}");
    assert_eq!(webhook["session"]["connected"], true, "{webhook}");
    assert_eq!(shown["webhook_id"], webhook["id"], "{shown}");
}

#[tokio::test]
async fn listen_server_answering_500_makes_the_server_retry_until_the_app_answers_200() {
    let relay = Relay::start().await;
    let license = relay.license().await;
    let app = Listen::start(&["--fail-first", "1"]).await;
    let flags = ["--events", "chat_started", "--forward-to", &app.url(None)];
    let mut cli = license.listen(&flags).await;

    let id = event_id(2);
    assert_eq!(license.send(&id).await, 1);

    let first = cli.line_containing(&id).await;
    assert!(first.contains("<-- [500]"), "{first}");
    let delivery = delivery_of(&first);
    let second = cli.line_containing(&id).await;
    assert!(
        second.contains(&format!("{delivery} attempt 2")),
        "{second}"
    );
    assert!(second.contains("<-- [200]"), "{second}");
    let shown = license.succeeded(&delivery).await;
    let attempts = shown["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{shown}");
    assert_eq!(attempts[0]["status_code"], 500, "{shown}");
    let body = attempts[0]["response_body"].as_str().unwrap_or_default();
    assert!(body.contains("failing on purpose"), "{shown}");
    assert_eq!(attempts[1]["status_code"], 200, "{shown}");
}

#[tokio::test]
async fn listen_server_killed_and_started_again_takes_its_session_up_and_loses_nothing() {
    let relay = Relay::start().await;
    let license = relay.license().await;
    let app = Listen::start(&[]).await;
    let flags = ["--events", "chat_started", "--forward-to", &app.url(None)];
    let cli = license.listen(&flags).await;
    let session = cli.session.clone();
    cli.kill().await;
    license
        .webhooks_until(WAIT, |w| {
            let mine = of_session(w, &session);
            mine.first()
                .is_some_and(|h| h["session"]["connected"] == false)
        })
        .await;

    let ids = [event_id(31), event_id(32), event_id(33)];
    for id in &ids {
        assert_eq!(
            license.send(id).await,
            1,
            "the session's webhook still exists"
        );
    }
    let mut again = license.listen(&flags).await;
    assert_eq!(again.session, session, "{}", again.ready);
    let took_up = "took up the earlier session: missed deliveries follow";
    assert!(again.ready.contains(took_up), "{}", again.ready);
    // The missed deliveries come in any order.
    let mut delivered = Vec::new();
    for _ in &ids {
        let line = again.line_containing("dlv_").await;
        assert!(line.contains("<-- [200]"), "{line}");
        license.succeeded(&delivery_of(&line)).await;
        delivered.push(line);
    }
    for id in &ids {
        assert!(delivered.iter().any(|l| l.contains(id)), "{delivered:#?}");
    }

    let stopped = Instant::now();
    let (status, _) = again.interrupt().await;
    assert!(status.success(), "{status}");
    let left = license.webhooks().await;
    let mine = of_session(&left, &session);
    assert_eq!(mine.len(), 1, "removed before its grace: {left:?}");
    assert_eq!(mine[0]["session"]["connected"], false, "{left:?}");
    let ten_seconds = Duration::from_secs(10);
    license
        .webhooks_until(ten_seconds, <[Value]>::is_empty)
        .await;
    assert!(
        stopped.elapsed() >= Duration::from_secs(2),
        "removed within the grace"
    );
}

#[tokio::test]
async fn listen_server_without_forward_to_and_with_json_prints_the_line_and_the_body() {
    let relay = Relay::start().await;
    let license = relay.license().await;
    let mut cli = license.listen(&["--json"]).await;
    assert!(cli.ready.contains("printing them"), "{}", cli.ready);

    let id = event_id(6);
    assert_eq!(license.send(&id).await, 1);

    let line = cli.line_containing(&id).await;
    assert!(line.contains(&format!("license {}", license.id)), "{line}");
    assert!(line.contains("signature ok  <-- [200]"), "{line}");
    let body = cli.line_containing(r#""event_type": "chat_started""#).await;
    assert!(body.starts_with("  "), "pretty-printed: {body:?}");
    let field = format!(r#""event_unique_id": "{id}""#);
    cli.line_containing(&field).await;
}
