//! Taking events in: the chat_changed tag rule, idempotency keys, batches.

use hookrelay_story::story;
use std::time::Duration;

use serde_json::json;

use crate::harness::TestServer;
use crate::receiver::Receiver;

fn changed(chat_id: &str, tags: &[&str]) -> serde_json::Value {
    json!({"event_type": "chat_changed", "chat": {"id": chat_id, "tags": tags}})
}

#[story]
async fn chat_changed_is_delivered_only_when_the_tag_list_changed() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(&license, &receiver.url, "chat_changed", &["chat"])
        .await;
    let started = json!({"event_type": "chat_started", "chat": {"id": "C1", "tags": ["sales"]}});
    assert_eq!(
        server.event(&license, started).await["deliveries"],
        0,
        "no chat_started webhook"
    );
    let steps = [
        (changed("C1", &["sales"]), 0),        // same as at start
        (changed("C1", &["sales", "vip"]), 1), // added
        (changed("C1", &["vip", "sales"]), 0), // reordered only
        (changed("C1", &["vip"]), 1),          // removed
        (changed("C2", &[]), 0),               // a new chat without tags
        (changed("C2", &["support"]), 1),
    ];
    for (i, (event, expected)) in steps.into_iter().enumerate() {
        let accepted = server.event(&license, event).await;
        assert_eq!(accepted["deliveries"], expected, "step {i}");
    }
    let hits = receiver.wait_for(3, Duration::from_secs(5)).await;
    server.wait_idle().await;
    assert_eq!(receiver.hits().len(), 3);
    assert_eq!(hits[0].body["chat"]["tags"], json!(["sales", "vip"]));
}

#[story]
async fn an_idempotency_key_stores_a_retried_event_once() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(&license, &receiver.url, "visitor_queued", &[])
        .await;
    let post = || {
        server
            .client
            .post(server.url(&format!("/v1/licenses/{}/events", license.id)))
            .bearer_auth(&license.api_key)
            .header("Idempotency-Key", "queue-S1-1")
            .json(&json!({"event_type": "visitor_queued", "visitor": {"id": "S1"}}))
            .send()
    };
    let first = post().await.unwrap();
    assert_eq!(first.status(), 202);
    let first: serde_json::Value = first.json().await.unwrap();
    let again = post().await.unwrap();
    assert_eq!(again.status(), 200);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["event_id"], first["event_id"]);
    assert_eq!(again["duplicate"], true);
    receiver.wait_for(1, Duration::from_secs(5)).await;
    server.wait_idle().await;
    assert_eq!(receiver.hits().len(), 1);
    assert_eq!(server.deliveries(&license, "").await.len(), 1);
}

#[story]
async fn a_batch_is_stored_in_one_go_and_delivered() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(&license, &receiver.url, "visitor_queued", &["visitor"])
        .await;
    let events: Vec<_> = (0..50)
        .map(|i| json!({"event_type": "visitor_queued", "visitor": {"id": format!("S{i}")}}))
        .collect();
    let (status, body) = server
        .post(
            &format!("/v1/licenses/{}/events/batch", license.id),
            &license.api_key,
            json!({"events": events}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["deliveries"], 50);
    assert_eq!(body["events"].as_array().unwrap().len(), 50);
    let hits = receiver.wait_for(50, Duration::from_secs(5)).await;
    let mut ids: Vec<_> = hits
        .iter()
        .map(|h| h.body["visitor"]["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50);

    let (status, body) = server
        .post(
            &format!("/v1/licenses/{}/events/batch", license.id),
            &license.api_key,
            json!({"events": [{"event_type": "visitor_queued", "visitor": {"id": "ok"}}, {"event_type": "visitor_queued"}]}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "events[1].visitor");
    assert_eq!(
        server.deliveries(&license, "limit=500").await.len(),
        50,
        "a refused batch stores nothing"
    );
}

#[story]
async fn disabled_webhooks_get_nothing_until_enabled_again() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    let id = server
        .webhook(&license, &receiver.url, "visitor_queued", &[])
        .await;
    let path = format!("/v1/licenses/{}/webhooks/{id}", license.id);
    let (status, body) = server
        .call(
            reqwest::Method::PATCH,
            &path,
            &license.api_key,
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], false);
    let accepted = server
        .event(
            &license,
            json!({"event_type": "visitor_queued", "visitor": {"id": "S1"}}),
        )
        .await;
    assert_eq!(accepted["deliveries"], 0);
    let (status, _) = server
        .call(
            reqwest::Method::PATCH,
            &path,
            &license.api_key,
            Some(json!({"enabled": true, "data_types": ["visitor"]})),
        )
        .await;
    assert_eq!(status, 200);
    server
        .event(
            &license,
            json!({"event_type": "visitor_queued", "visitor": {"id": "S2"}}),
        )
        .await;
    let hits = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(hits[0].body["visitor"]["id"], "S2");

    let (status, _) = server
        .call(reqwest::Method::DELETE, &path, &license.api_key, None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = server.get(&path, &license.api_key).await;
    assert_eq!(status, 404);
}
