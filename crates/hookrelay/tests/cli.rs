//! `hookrelay listen` and `hookrelay trigger` as a developer runs them: real processes of the
//! `hookrelay` binary talking to each other over 127.0.0.1, `listen` on port 0, and Ctrl-C
//! delivered as a real SIGINT; `hookrelay backup` of a running server (in `cli/backup.rs`);
//! schemathesis against a running server's OpenAPI document (in `cli/schemathesis.rs`); the
//! command-line client of a running server (`cli/client.rs` and `cli/client_*.rs`);
//! `hookrelay listen --server` against a running server (`cli/listen_server*.rs`).

#[path = "cli/backup.rs"]
mod backup;
#[path = "cli/client.rs"]
mod client;
#[path = "cli/client_deliveries.rs"]
mod client_deliveries;
#[path = "cli/client_setup.rs"]
mod client_setup;
#[path = "cli/client_webhooks.rs"]
mod client_webhooks;
#[path = "cli/listen_server.rs"]
mod listen_server;
#[path = "cli/listen_server_more.rs"]
mod listen_server_more;
#[path = "cli/schemathesis.rs"]
mod schemathesis;
#[path = "cli/server.rs"]
mod server;

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const HOOKRELAY: &str = env!("CARGO_BIN_EXE_hookrelay");
const SEED_HTPASSWD: &str = "livechat:$apr1$G9iXatUK$gPJLrKQsoWWkFCY/SXO/H.\n";
const WAIT: Duration = Duration::from_secs(20);

/// A running `hookrelay listen --port 0 …`.
struct Listen {
    /// `http://127.0.0.1:PORT`, from the Ready line.
    base: String,
    output: Lines<BufReader<ChildStdout>>,
    child: Child,
}

impl Listen {
    async fn start(flags: &[&str]) -> Listen {
        let mut child = Command::new(HOOKRELAY)
            .args(["listen", "--port", "0"])
            .args(flags)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut output = BufReader::new(child.stdout.take().unwrap()).lines();
        // "Ready! Listening on http://127.0.0.1:PORT/ (answering 200). Press Ctrl-C to stop."
        let ready = next_line(&mut output).await.expect("listen exited at once");
        let base = ready
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {ready:?}"))
            .trim_end_matches('/')
            .to_owned();
        Listen {
            base,
            output,
            child,
        }
    }

    /// The webhook URL on this listener, with `user:password@` when given.
    fn url(&self, credentials: Option<&str>) -> String {
        let host = self.base.trim_start_matches("http://");
        match credentials {
            Some(credentials) => format!("http://{credentials}@{host}/webhooks"),
            None => format!("http://{host}/webhooks"),
        }
    }

    /// Waits for a line of output containing `text`.
    async fn line_containing(&mut self, text: &str) -> String {
        loop {
            match next_line(&mut self.output).await {
                Some(line) if line.contains(text) => return line,
                Some(_) => continue,
                None => panic!("listen exited before printing {text:?}"),
            }
        }
    }

    /// Presses Ctrl-C: sends SIGINT, then returns the exit status and everything printed after
    /// the lines already read.
    async fn interrupt(mut self) -> (ExitStatus, String) {
        interrupt(&mut self.child, &mut self.output).await
    }
}

/// Presses Ctrl-C on a `listen`: sends SIGINT, then returns the exit status and everything it
/// printed after the lines already read.
async fn interrupt(
    child: &mut Child,
    output: &mut Lines<BufReader<ChildStdout>>,
) -> (ExitStatus, String) {
    let pid = child.id().expect("listen is running") as libc::pid_t;
    // SAFETY: kill(2) with a pid this test spawned and has not yet reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let mut rest = String::new();
    while let Some(line) = next_line(output).await {
        rest.push_str(&line);
        rest.push('\n');
    }
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("listen did not stop after Ctrl-C")
        .unwrap();
    (status, rest)
}

/// The next line, or `None` when the process closed its output.
async fn next_line(output: &mut Lines<BufReader<ChildStdout>>) -> Option<String> {
    tokio::time::timeout(WAIT, output.next_line())
        .await
        .expect("nothing printed for 20 s")
        .unwrap()
}

/// Runs `hookrelay trigger …` to completion: whether it succeeded, and what it printed.
async fn trigger(args: &[&str]) -> (bool, String) {
    let run = Command::new(HOOKRELAY).arg("trigger").args(args).output();
    let output = tokio::time::timeout(WAIT, run)
        .await
        .expect("trigger did not finish in 20 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output.status.success(), stdout)
}

#[tokio::test]
async fn trigger_into_listen_fail_first_1_shows_the_failure_and_the_body_then_delivers() {
    let mut listen = Listen::start(&["--fail-first", "1", "--json"]).await;
    let url = listen.url(None);

    let (ok, first) = trigger(&["chat_started", "--to", &url]).await;
    assert!(!ok, "a 500 must make trigger fail:\n{first}");
    assert!(first.contains(&format!("--> POST {url}")), "{first}");
    assert!(
        first.contains("<-- [500] chat_started"),
        "trigger shows the failure:\n{first}"
    );
    assert!(
        first.contains("NOT delivered (LiveChat would retry)"),
        "{first}"
    );
    assert!(
        first.contains("hookrelay listen: failing on purpose"),
        "trigger shows the body of the failed answer:\n{first}"
    );
    let line = listen.line_containing("chat_started").await;
    assert!(
        line.contains("<-- [500]  (failing on purpose, 1 of 1)"),
        "{line}"
    );
    assert!(line.contains("license 1025707"), "{line}");
    // --json: the whole webhook body follows its line, pretty-printed.
    listen
        .line_containing(r#""event_type": "chat_started""#)
        .await;
    listen
        .line_containing(r#""email": "mary.brown@email.com""#)
        .await;

    let (ok, second) = trigger(&["chat_started", "--to", &url]).await;
    assert!(ok, "{second}");
    assert!(second.contains("<-- [200] chat_started"), "{second}");
    assert!(second.contains(": delivered"), "{second}");
    let line = listen.line_containing("chat_started").await;
    assert!(line.contains("<-- [200]"), "{line}");
    assert!(!line.contains("failing on purpose"), "{line}");
}

#[tokio::test]
async fn without_json_listen_prints_one_line_per_webhook_and_no_body() {
    let mut listen = Listen::start(&[]).await;
    let url = listen.url(None);

    let (ok, sent) = trigger(&[
        "visitor_queued",
        "--to",
        &url,
        "--set",
        "visitor.email=only.in.the.body@example.com",
        "--license-id",
        "4242",
    ])
    .await;
    assert!(ok, "{sent}");

    let line = listen.line_containing("visitor_queued").await;
    assert!(line.contains("license 4242  visitor"), "{line}");
    assert!(line.ends_with("<-- [200]"), "{line}");
    let (_, rest) = listen.interrupt().await;
    assert!(
        !rest.contains("only.in.the.body@example.com"),
        "the body was printed without --json:\n{rest}"
    );
}

#[tokio::test]
async fn ctrl_c_stops_listen_with_a_summary_of_what_it_answered() {
    let mut listen =
        Listen::start(&["--basic-auth", "livechat:password", "--fail-first", "1"]).await;
    let refused = listen.url(Some("livechat:wrong"));
    let accepted = listen.url(Some("livechat:password"));

    let (ok, out) = trigger(&["chat_ended", "--to", &refused]).await;
    assert!(!ok && out.contains("<-- [401]"), "{out}");
    let (ok, out) = trigger(&["chat_ended", "--to", &accepted]).await;
    assert!(!ok && out.contains("<-- [500]"), "{out}");
    let (ok, out) = trigger(&["chat_ended", "--to", &accepted]).await;
    assert!(ok && out.contains("<-- [200]"), "{out}");
    listen.line_containing("<-- [200]").await;

    let (status, rest) = listen.interrupt().await;

    assert!(status.success(), "Ctrl-C is a normal way to stop: {status}");
    let summary = rest.lines().last().unwrap_or_default();
    assert!(summary.starts_with("Stopped after "), "{rest}");
    assert!(
        summary.contains("3 requests (answered 1× 200, 1× 401, 1× 500); 1 unauthorized, 0 invalid"),
        "{summary}"
    );
}

#[tokio::test]
async fn listen_with_the_seeds_htpasswd_accepts_the_credentials_of_the_webhook_url() {
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join(".htpasswd");
    std::fs::write(&htpasswd, SEED_HTPASSWD).unwrap();
    let mut listen = Listen::start(&["--htpasswd", htpasswd.to_str().unwrap()]).await;

    let (ok, out) = trigger(&["chat_started", "--to", &listen.url(Some("livechat:nope"))]).await;
    assert!(!ok, "{out}");
    assert!(out.contains("<-- [401]"), "{out}");
    let line = listen.line_containing("[401]").await;
    assert!(line.contains("wrong Basic credentials"), "{line}");

    let (ok, out) = trigger(&[
        "chat_started",
        "--to",
        &listen.url(Some("livechat:password")),
    ])
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("(Basic auth as livechat)"), "{out}");
    let line = listen.line_containing("chat_started").await;
    assert!(line.contains("<-- [200]"), "{line}");
}

#[tokio::test]
async fn trigger_repeat_sends_each_event_with_a_fresh_event_unique_id() {
    let mut listen = Listen::start(&[]).await;

    let (ok, out) = trigger(&["ticket_created", "--to", &listen.url(None), "--repeat", "3"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("sent 3 events: 3× 200"), "{out}");

    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let line = listen.line_containing("ticket_created").await;
        let id = line.split(['[', ']']).nth(1).unwrap_or_default().to_owned();
        ids.insert(id);
    }
    assert_eq!(ids.len(), 3, "event ids repeated: {ids:?}");
}

#[tokio::test]
async fn trigger_to_a_port_nobody_listens_on_reports_no_answer_and_fails() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/webhooks", closed.local_addr().unwrap());
    drop(closed);

    let (ok, out) = trigger(&["chat_started", "--to", &url]).await;

    assert!(!ok, "{out}");
    assert!(out.contains("<-- no answer for chat_started"), "{out}");
}

#[tokio::test]
async fn serve_refuses_to_start_with_a_short_admin_token_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let run = Command::new(HOOKRELAY)
        .arg("serve")
        .current_dir(dir.path())
        .env("HOOKRELAY_DATABASE_URL", "sqlite://short.db")
        .env("HOOKRELAY_LISTEN", "127.0.0.1:0")
        .env("HOOKRELAY_ADMIN_TOKEN", "x")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(WAIT, run)
        .await
        .expect("the server started with a 1-character admin token")
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("admin_token") && said.contains("at least 24") && said.contains("random"),
        "{said}"
    );
    assert!(
        !dir.path().join("short.db").exists(),
        "nothing may be created before the configuration is valid"
    );
}
