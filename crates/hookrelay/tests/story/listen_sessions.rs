//! Listen sessions (`hookrelay listen --server`) against in-process servers: a session's
//! deliveries wait, unattempted, while no command holds it and go out when one takes it up
//! again; on PostgreSQL, a session held through one node receives what is ingested through
//! another, and follows the command when it reconnects to the other node. The command runs
//! in-process (`hookrelay_devtools::listen_to_server`) with its output captured. The console
//! shows a session's webhooks as the command's, in Chromium.

use std::time::Duration;

use hookrelay_devtools::{listen_to_server, ListenArgs, Output};
use hookrelay_story::story;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::backend::postgres_url;
use crate::browser::Browser;
use crate::console::{count, sign_in_as_license};
use crate::harness::{test_config, TestLicense, TestServer, ADMIN};
use crate::receiver::Receiver;

/// A running `listen --server` and how to stop it.
struct Command {
    out: Output,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<hookrelay_devtools::ListenSummary>>,
}

impl Command {
    /// `listen --server SERVER --api-key KEY --events visitor_queued --forward-to TO`; returns
    /// once it printed its Ready line.
    async fn start(server: &TestServer, license: &TestLicense, to: &str) -> Command {
        let mut args = ListenArgs::on_port(0);
        args.server = Some(server.base.clone());
        args.api_key = Some(license.api_key.clone());
        args.events = vec!["visitor_queued".into()];
        args.forward_to = Some(to.to_string());
        let out = Output::capture();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(listen_to_server(args, out.clone(), async {
            let _ = stopped.await;
        }));
        let command = Command { out, stop, task };
        command.wait_for("Ready!").await;
        command
    }

    async fn wait_for(&self, text: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let printed = self.out.contents();
            if printed.contains(text) {
                return printed;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the command never printed {text:?}:\n{printed}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Ctrl-C: returns everything it printed.
    async fn stop(self) -> String {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
        self.out.contents()
    }
}

fn visitor(id: &str) -> Value {
    json!({"event_type": "visitor_queued", "visitor": {"id": id}})
}

async fn session_webhooks(server: &TestServer, license: &TestLicense) -> Vec<Value> {
    let (status, body) = server
        .get(
            &format!("/v1/licenses/{}/webhooks", license.id),
            &license.api_key,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["kind"] == "cli")
        .cloned()
        .collect()
}

/// Every delivery of `license` succeeded with one attempt answered 200: none was tried where
/// the session was not.
async fn all_delivered_once(server: &TestServer, license: &TestLicense, n: usize) {
    let list = server
        .wait_deliveries(
            license,
            "limit=200",
            Duration::from_secs(10),
            "every delivery succeeded",
            |l| l.len() == n && l.iter().all(|d| d["status"] == "succeeded"),
        )
        .await;
    for d in list {
        assert_eq!(d["attempt_count"], 1, "{d}");
    }
}

#[story]
async fn a_sessions_deliveries_wait_unattempted_while_no_command_holds_it() {
    let server = TestServer::start_with(|c| c.cli_session_grace = Duration::from_secs(60)).await;
    let license = server.license().await;
    let app = Receiver::start().await;
    let first = Command::start(&server, &license, &app.url).await;
    let hooks = session_webhooks(&server, &license).await;
    assert_eq!(hooks.len(), 1, "{hooks:#?}");
    assert_eq!(hooks[0]["session"]["connected"], true);
    assert!(hooks[0]["url"].as_str().unwrap().starts_with("cli://ses_"));
    server.event(&license, visitor("V0")).await;
    app.wait_for_visitor("V0", Duration::from_secs(10)).await;
    let printed = first.stop().await;
    assert!(printed.contains("<-- [200]"), "{printed}");

    for i in 1..=3 {
        server.event(&license, visitor(&format!("V{i}"))).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let waiting = server.deliveries(&license, "status=pending").await;
    assert_eq!(waiting.len(), 3, "{waiting:#?}");
    assert!(
        waiting.iter().all(|d| d["attempt_count"] == 0),
        "attempted with no command holding the session: {waiting:#?}"
    );
    // Out of the due range every claim reads, until the command comes back.
    let at = |d: &Value, field: &str| humantime::parse_rfc3339(d[field].as_str().unwrap()).unwrap();
    assert!(
        waiting
            .iter()
            .all(|d| at(d, "next_attempt_at") > at(d, "created_at") + Duration::from_secs(3600)),
        "{waiting:#?}"
    );
    let hooks = session_webhooks(&server, &license).await;
    assert_eq!(hooks[0]["session"]["connected"], false, "{hooks:#?}");

    let again = Command::start(&server, &license, &app.url).await;
    again.wait_for("took up the earlier session").await;
    for i in 1..=3 {
        app.wait_for_visitor(&format!("V{i}"), Duration::from_secs(10))
            .await;
    }
    all_delivered_once(&server, &license, 4).await;
    again.stop().await;
    server.stop().await;
}

#[story]
async fn a_session_webhook_cannot_be_changed_and_is_not_a_livechat_v2_webhook() {
    let server = TestServer::start().await;
    let login = "dev@example.com";
    let (status, body) = server
        .post("/v1/licenses", ADMIN, json!({"login": login}))
        .await;
    assert_eq!(status, 201, "{body}");
    let license = TestLicense {
        id: body["license_id"].as_str().unwrap().into(),
        api_key: body["api_key"].as_str().unwrap().into(),
        token: body["token"].as_str().unwrap().into(),
    };
    let app = Receiver::start().await;
    let command = Command::start(&server, &license, &app.url).await;
    let id = session_webhooks(&server, &license).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = server
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/licenses/{}/webhooks/{id}", license.id),
            &license.api_key,
            Some(json!({"url": app.url})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("hookrelay listen --server"),
        "{body}"
    );
    let v2 = server
        .client
        .get(server.url("/webhooks"))
        .basic_auth(login, Some(&license.api_key))
        .header("X-API-Version", "2")
        .send()
        .await
        .unwrap();
    let listed: Value = v2.json().await.unwrap();
    assert_eq!(listed["events"], json!([]), "{listed}");
    command.stop().await;
    server.stop().await;
}

/// Two servers sharing one fresh PostgreSQL schema.
async fn two_nodes() -> (TestServer, TestServer) {
    let dir_a = tempfile::tempdir().unwrap();
    let mut config = test_config(dir_a.path());
    config.database_url = postgres_url(dir_a.path());
    let a = TestServer::start_in(dir_a, config.clone()).await;
    let b = TestServer::start_in(tempfile::tempdir().unwrap(), config).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_session_held_through_one_node_gets_what_another_node_ingests() {
    let (a, b) = two_nodes().await;
    let license = a.license().await;
    let app = Receiver::start().await;
    let on_a = Command::start(&a, &license, &app.url).await;
    for i in 0..10 {
        b.event(&license, visitor(&format!("B{i}"))).await;
    }
    for i in 0..10 {
        app.wait_for_visitor(&format!("B{i}"), Duration::from_secs(10))
            .await;
    }
    all_delivered_once(&b, &license, 10).await;

    // The command moves to node B: the same session, now held there.
    on_a.stop().await;
    let on_b = Command::start(&b, &license, &app.url).await;
    on_b.wait_for("took up the earlier session").await;
    assert_eq!(session_webhooks(&a, &license).await.len(), 1);
    for i in 0..10 {
        a.event(&license, visitor(&format!("A{i}"))).await;
    }
    for i in 0..10 {
        app.wait_for_visitor(&format!("A{i}"), Duration::from_secs(10))
            .await;
    }
    all_delivered_once(&a, &license, 20).await;
    on_b.stop().await;
    b.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_a_session_webhook_as_cli_with_its_start_and_whether_it_is_connected() {
    let server = TestServer::start_with(|c| c.cli_session_grace = Duration::from_secs(60)).await;
    let license = server.license().await;
    let app = Receiver::start().await;
    let command = Command::start(&server, &license, &app.url).await;
    let b = Browser::start().await;
    sign_in_as_license(&b, &server, &license.id, &license.api_key).await;
    let row = b
        .wait_text("tr[data-kind=cli]", "hookrelay listen session since")
        .await;
    assert!(row.contains("cli://ses_"), "{row}");
    assert_eq!(count(&b, "tr[data-kind=cli] .badge-connected").await, 1);
    // The command's webhook: tested, removed or looked into, never edited, disabled or rotated.
    assert_eq!(count(&b, "tr[data-kind=cli] button.edit").await, 0);
    assert_eq!(count(&b, "tr[data-kind=cli] button.toggle").await, 0);
    assert_eq!(count(&b, "tr[data-kind=cli] button.rotate-secret").await, 0);
    assert_eq!(count(&b, "tr[data-kind=cli] button.danger").await, 1);
    b.screenshot("webhook-listen-session").await;

    command.stop().await;
    b.client.refresh().await.unwrap();
    b.wait("tr[data-kind=cli] .badge-waiting").await;
    server.stop().await;
}
