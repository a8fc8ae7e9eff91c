//! Retention: finished deliveries are removed with their attempts and events once they are older
//! than `retention`, a chat's remembered tags once the chat was not seen for as long, pending
//! deliveries never; asking for a removed delivery says retention removed it.

use hookrelay_story::story;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{TestLicense, TestServer};
use crate::receiver::{Answer, Receiver};

const LIMIT: Duration = Duration::from_secs(15);

/// A server keeping finished history for `retention` (its purge looks every half of it).
async fn server_with_retention(retention: Duration) -> TestServer {
    TestServer::start_with(|c| c.retention = retention).await
}

/// Polls `GET …/deliveries/{id}` until it answers 404 and returns that answer.
async fn wait_removed(server: &TestServer, license: &TestLicense, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let path = format!("/v1/licenses/{}/deliveries/{id}", license.id);
        let (status, body) = server.get(&path, &license.api_key).await;
        if status == StatusCode::NOT_FOUND {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "delivery {id} was never removed: {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn event_with_key(
    server: &TestServer,
    license: &TestLicense,
    key: &str,
    event: Value,
) -> Value {
    let response = server
        .client
        .post(server.url(&format!("/v1/licenses/{}/events", license.id)))
        .bearer_auth(&license.api_key)
        .header("Idempotency-Key", key)
        .json(&event)
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

#[story]
async fn finished_deliveries_and_their_events_are_purged_after_the_retention_while_pending_ones_stay(
) {
    let server = server_with_retention(Duration::from_secs(1)).await;
    let license = server.license().await;
    let (ok, failing, slow) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    failing.answer(Answer::Status(500));
    // Answers 503 asking to wait an hour: its delivery stays pending all along.
    slow.answer(Answer::RetryAfter(503, 3600));
    server.webhook(&license, &ok.url, "chat_started", &[]).await;
    server
        .webhook(&license, &failing.url, "chat_started", &[])
        .await;
    server
        .webhook(&license, &slow.url, "visitor_queued", &["visitor"])
        .await;

    let chat = json!({"event_type": "chat_started", "chat": {"id": "C1", "tags": []}});
    let first = event_with_key(&server, &license, "chat-1", chat.clone()).await;
    assert_eq!(first["deliveries"], 2, "{first}");
    let visitor = json!({"event_type": "visitor_queued", "visitor": {"id": "S1"}});
    server.event(&license, visitor).await;
    let all = server
        .wait_deliveries(&license, "", LIMIT, "two finished, one pending", |list| {
            list.len() == 3 && list.iter().filter(|d| d["status"] != "pending").count() == 2
        })
        .await;
    let (finished, pending): (Vec<&Value>, Vec<&Value>) =
        all.iter().partition(|d| d["status"] != "pending");
    let pending_id = pending[0]["id"].as_str().unwrap();

    for d in &finished {
        let id = d["id"].as_str().unwrap();
        let removed = wait_removed(&server, &license, id).await;
        assert_eq!(removed["error"]["code"], "not_found");
        let message = removed["error"]["message"].as_str().unwrap();
        assert!(message.contains("removed by retention"), "{message}");
        // A resend of it says the same.
        let (status, body) = server.resend(&license, id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert!(body.to_string().contains("removed by retention"), "{body}");
    }
    // The event went with its deliveries: its idempotency key is free again.
    let again = event_with_key(&server, &license, "chat-1", chat).await;
    assert_eq!(again["duplicate"], false, "{again}");
    assert_ne!(again["event_id"], first["event_id"]);

    // The pending delivery stays, body and all, however old it gets.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let kept = server.delivery(&license, pending_id).await;
    assert_eq!(kept["status"], "pending");
    assert_eq!(kept["request_body"]["visitor"]["id"], "S1", "{kept:#}");
    assert!(!kept["attempts"].as_array().unwrap().is_empty());
    // A delivery that never existed is a plain 404.
    let (status, body) = server
        .get(
            &format!("/v1/licenses/{}/deliveries/999999999", license.id),
            &license.api_key,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.to_string().contains("retention"), "{body}");

    let metrics = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("hookrelay_purged_total{kind=\"deliveries\"}"),
        "{text}"
    );
    let size = text
        .lines()
        .find_map(|l| l.strip_prefix("hookrelay_database_bytes "))
        .expect("the database size is reported");
    assert!(size.trim().parse::<f64>().unwrap() > 0.0, "{size}");
}

#[story]
async fn a_chats_remembered_tags_are_forgotten_once_it_was_not_seen_for_the_retention() {
    let server = server_with_retention(Duration::from_secs(2)).await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(&license, &receiver.url, "chat_changed", &["chat"])
        .await;
    let changed = json!({"event_type": "chat_changed", "chat": {"id": "C9", "tags": ["sales"]}});

    let first = server.event(&license, changed.clone()).await;
    assert_eq!(first["deliveries"], 1);
    let same = server.event(&license, changed.clone()).await;
    assert_eq!(
        same["deliveries"], 0,
        "the same tags again: remembered, not sent"
    );

    // Once the chat was not seen for the retention (2 s; the purge looks every second), its tags
    // are forgotten: the same list again counts as a change from a chat never seen. (Every event
    // of the chat counts as seeing it, so the test waits without posting.)
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let later = server.event(&license, changed.clone()).await;
    assert_eq!(
        later["deliveries"], 1,
        "the tags were not forgotten: {later}"
    );
    receiver.wait_for(2, LIMIT).await;
}
