//! The API's rules: authentication, clear errors, limits, and the private-network guard.

use hookrelay_story::story;
use std::time::Duration;

use serde_json::json;

use crate::harness::{TestServer, ADMIN};
use crate::receiver::Receiver;

#[story]
async fn requests_without_valid_credentials_are_refused() {
    let server = TestServer::start().await;
    let mine = server.license().await;
    let theirs = server.license().await;
    let path = format!("/v1/licenses/{}/webhooks", mine.id);
    let response = server.client.get(server.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    assert_eq!(server.get(&path, "hrk_wrong").await.0, 401);
    assert_eq!(server.get(&path, &theirs.api_key).await.0, 403);
    assert_eq!(server.get(&path, &mine.api_key).await.0, 200);
    assert_eq!(server.get(&path, ADMIN).await.0, 200);
    assert_eq!(
        server
            .post("/v1/licenses", &mine.api_key, json!({}))
            .await
            .0,
        403
    );
    let (_, license) = server
        .get(&format!("/v1/licenses/{}", mine.id), &mine.api_key)
        .await;
    assert!(
        license.get("api_key").is_none() && license.get("token").is_none(),
        "{license}"
    );
}

#[story]
async fn bad_input_gets_a_clear_error_naming_the_field() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let hooks = format!("/v1/licenses/{}/webhooks", license.id);
    let cases = [
        (
            json!({"url": "https://example.com", "event_type": "chat_startd"}),
            422,
            "event_type",
        ),
        (
            json!({"url": "https://example.com", "event_type": "ticket_created", "data_types": ["chat"]}),
            422,
            "data_types",
        ),
        (
            json!({"url": "example.com", "event_type": "chat_started"}),
            422,
            "url",
        ),
        (json!({"event_type": "chat_started"}), 422, "body"),
        (
            json!({"url": "https://example.com", "event_type": "chat_started", "data_types": "chat"}),
            422,
            "data_types",
        ),
        (
            json!({"url": "https://example.com", "event_type": "chat_started", "colour": "red"}),
            422,
            "colour",
        ),
    ];
    for (body, status, field) in cases {
        let (got, answer) = server.post(&hooks, &license.api_key, body.clone()).await;
        assert_eq!(got, status, "{body} → {answer}");
        assert_eq!(answer["error"]["field"], field, "{body} → {answer}");
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
    }
    let response = server
        .client
        .post(server.url(&hooks))
        .bearer_auth(&license.api_key)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "malformed_request");

    let (status, body) = server.get("/v1/nothing/here", ADMIN).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = server
        .get(
            &format!("/v1/licenses/{}/deliveries?status=done", license.id),
            &license.api_key,
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "status");
}

#[story]
async fn an_oversized_body_is_refused_with_413_and_nothing_is_stored() {
    let server = TestServer::start_with(|c| c.max_body_bytes = 4096).await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(&license, &receiver.url, "visitor_queued", &[])
        .await;
    let big =
        json!({"event_type": "visitor_queued", "visitor": {"id": "S1", "name": "x".repeat(5000)}});
    let (status, body) = server
        .post(
            &format!("/v1/licenses/{}/events", license.id),
            &license.api_key,
            big,
        )
        .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert!(server.deliveries(&license, "").await.is_empty());
}

#[story]
async fn private_targets_are_refused_unless_allowed() {
    let server = TestServer::start_with(|c| c.allowed_target_networks.clear()).await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    let (status, body) = server
        .post(
            &format!("/v1/licenses/{}/webhooks", license.id),
            &license.api_key,
            json!({"url": receiver.url, "event_type": "visitor_queued"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("loopback") && message.contains("HOOKRELAY_ALLOWED_TARGET_NETWORKS"),
        "{message}"
    );
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://10.0.0.1/",
    ] {
        let (status, _) = server
            .post(
                &format!("/v1/licenses/{}/webhooks", license.id),
                &license.api_key,
                json!({"url": url, "event_type": "visitor_queued"}),
            )
            .await;
        assert_eq!(status, 422, "{url}");
    }
    // A host name is checked when it is resolved, at delivery time.
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    server
        .webhook(&license, &by_name, "visitor_queued", &[])
        .await;
    server
        .event(
            &license,
            json!({"event_type": "visitor_queued", "visitor": {"id": "S1"}}),
        )
        .await;
    let id = server.only_delivery_id(&license).await;
    // After three attempts without an answer the target is only probed, and the last retry is
    // put off by about 5 s.
    let d = server
        .wait_status(&license, &id, "failed", Duration::from_secs(15))
        .await;
    let error = d["attempts"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("localhost resolves to")
            && error.contains("HOOKRELAY_ALLOWED_TARGET_NETWORKS"),
        "{error}"
    );
    assert!(receiver.hits().is_empty());
}

#[story]
async fn health_readiness_and_metrics_answer() {
    let server = TestServer::start().await;
    assert_eq!(server.get("/healthz", "").await.0, 200);
    let (status, body) = server.get("/readyz", "").await;
    assert_eq!(
        (status.as_u16(), body["status"].as_str()),
        (200, Some("ready"))
    );
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(&license, &receiver.url, "visitor_queued", &[])
        .await;
    server
        .event(
            &license,
            json!({"event_type": "visitor_queued", "visitor": {"id": "S1"}}),
        )
        .await;
    receiver.wait_for(1, Duration::from_secs(5)).await;
    let text = server.metrics().await;
    assert!(text.contains("hookrelay_events_accepted_total"), "{text}");
    assert!(text.contains("hookrelay_deliveries_pending"), "{text}");
}
