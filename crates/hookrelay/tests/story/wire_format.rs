//! What arrives at a target: LiveChat's exact format, for every event and data-type combination.

use hookrelay_story::story;
use std::time::Duration;

use livechat_webhooks::{sample, DataType, DataTypes, EventType};
use serde_json::{json, Value};

use crate::harness::TestServer;
use crate::receiver::Receiver;

/// Every subset of the data types an event supports.
fn subsets(event_type: EventType) -> Vec<Vec<&'static str>> {
    let all: Vec<&str> = event_type
        .supported_data_types()
        .iter()
        .map(|d| d.as_str())
        .collect();
    (0..1u32 << all.len())
        .map(|mask| {
            all.iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, d)| *d)
                .collect()
        })
        .collect()
}

/// The sample event a producer would post for `event_type`, every section included.
fn sample_event(event_type: EventType) -> Value {
    let mut event = json!({"event_type": event_type.as_str()});
    for &d in event_type.supported_data_types() {
        event[d.as_str()] = sample::section(event_type, d);
    }
    event
}

#[story]
async fn every_event_and_data_type_combination_arrives_in_the_seed_format() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    let mut expected = Vec::new();
    for event_type in EventType::ALL {
        for subset in subsets(event_type) {
            let path = format!("/{}/{}", event_type.as_str(), subset.join("+"));
            server
                .webhook(
                    &license,
                    &format!("{}{path}", receiver.url),
                    event_type.as_str(),
                    &subset,
                )
                .await;
            if !event_type.is_operational() {
                expected.push((path, event_type, subset));
            }
        }
    }
    let mut unique_ids = std::collections::HashMap::new();
    // chat_changed first: after chat_started with the same tags it would (rightly) not be sent.
    let mut order = EventType::ALL.to_vec();
    order.sort_by_key(|e| *e != EventType::ChatChanged);
    for event_type in order {
        if event_type.is_operational() {
            // Produced by hookrelay only: its webhooks above get nothing from producers.
            let (status, answer) = server
                .post(
                    &format!("/v1/licenses/{}/events", license.id),
                    &license.api_key,
                    sample_event(event_type),
                )
                .await;
            assert_eq!(status, 400, "{answer}");
            assert_eq!(answer["error"]["field"], "event_type", "{answer}");
            continue;
        }
        let accepted = server.event(&license, sample_event(event_type)).await;
        assert_eq!(
            accepted["deliveries"],
            1 << event_type.supported_data_types().len()
        );
        unique_ids.insert(
            event_type,
            accepted["event_id"].as_str().unwrap().to_string(),
        );
    }
    let hits = receiver
        .wait_for(expected.len(), Duration::from_secs(10))
        .await;
    server.wait_idle().await;
    assert_eq!(receiver.hits().len(), expected.len());
    for (path, event_type, subset) in expected {
        let hit = hits
            .iter()
            .find(|h| h.uri == path)
            .unwrap_or_else(|| panic!("no {path}"));
        let wanted = DataTypes::parse_for(event_type, &subset).unwrap();
        let mut want = sample::payload(event_type, wanted, &license.id, &license.token);
        want["event_unique_id"] = json!(unique_ids[&event_type]);
        assert_eq!(hit.body, want, "{path}");
        let keys: Vec<&String> = hit.body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys[..4],
            ["event_type", "token", "license_id", "event_unique_id"]
        );
        assert!(hit.body["license_id"].is_string());
        assert_eq!(hit.headers["content-type"], "application/json");
        let agent = hit.headers["user-agent"].to_str().unwrap();
        assert!(agent.starts_with("hookrelay/"), "{agent}");
        assert!(hit.headers.get("authorization").is_none());
    }
}

#[story]
async fn a_missing_survey_is_an_empty_array_and_unknown_fields_pass_through() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(
            &license,
            &receiver.url,
            "chat_ended",
            &["chat", "visitor", "pre_chat_survey"],
        )
        .await;
    let chat = json!({"id": "MH022RD0K5", "url": "https://shop.example/", "referer": "",
        "agents": [{"name": "John", "login": "john@example.com"}], "groups": [0],
        "events": [{"user_type": "visitor", "text": "Bob left the chat.", "timestamp": 1358939109, "type": "closed"}],
        "messages": [{"user_type": "visitor", "author_name": "Bob", "text": "hi", "timestamp": 1358937661, "json": "{}"}],
        "attachments": [], "tags": []});
    let visitor = json!({"id": "S1", "country": "Poland", "city": "Wroclaw", "timezone": "Europe/Warsaw",
        "custom_variables": [{"key": "orders", "value": 5}]});
    server
        .event(
            &license,
            json!({"event_type": "chat_ended", "chat": chat, "visitor": visitor}),
        )
        .await;
    let hit = &receiver.wait_for(1, Duration::from_secs(5)).await[0];
    assert_eq!(hit.body["chat"], chat);
    assert_eq!(hit.body["visitor"], visitor);
    assert_eq!(hit.body["pre_chat_survey"], json!([]));
    let _ = DataType::ALL;
}

#[story]
async fn credentials_in_the_url_become_a_basic_header_and_leave_the_url() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    let with_credentials = receiver
        .url
        .replace("http://", "http://livechat:p%40ss%3Aword@")
        + "/hook?x=1";
    let id = server
        .webhook(&license, &with_credentials, "visitor_queued", &["visitor"])
        .await;
    server
        .event(
            &license,
            json!({"event_type": "visitor_queued", "visitor": {"id": "S1"}}),
        )
        .await;
    let hit = &receiver.wait_for(1, Duration::from_secs(5)).await[0];
    assert_eq!(hit.uri, "/hook?x=1");
    assert_eq!(
        hit.headers["authorization"],
        "Basic bGl2ZWNoYXQ6cEBzczp3b3Jk" // livechat:p@ss:word
    );
    let (_, shown) = server
        .get(
            &format!("/v1/licenses/{}/webhooks/{id}", license.id),
            &license.api_key,
        )
        .await;
    assert_eq!(
        shown["url"],
        receiver.url.replace("http://", "http://livechat:***@") + "/hook?x=1"
    );
    assert!(!shown.to_string().contains("p%40ss"));
}
