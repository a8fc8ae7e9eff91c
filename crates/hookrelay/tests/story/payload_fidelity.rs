//! Real LiveChat v2 payloads carry more than the documentation shows (REFERENCE.md lists what
//! was seen); hookrelay must deliver all of it unchanged, key order and number types included,
//! and receivers built with `hookrelay-receiver` must still parse it.

use hookrelay_story::story;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::TestServer;
use crate::receiver::{Hit, Receiver};

/// A `chat_started` chat as real v2 payloads had it: no `ended_timestamp` yet, and `url`,
/// `referer`, `events`, `agents`, `groups`, `attachments` and `messages[].json`.
fn real_chat() -> Value {
    json!({
        "id": "MH022RD0K5",
        "started_timestamp": 1358937653,
        "url": "https://shop.example.com/pricing?plan=pro",
        "referer": "https://www.google.com/",
        "messages": [
            {"user_type": "visitor", "author_name": "Mary Brown", "text": "Hi!",
             "json": "{\"custom\":true}", "timestamp": 1358937661},
            {"user_type": "agent", "author_name": "John Doe", "agent_id": "john.doe@mycompany.com",
             "text": "Hello", "json": "", "timestamp": 1358937670}
        ],
        "attachments": [],
        "events": [
            {"user_type": "visitor", "text": "Mary left the chat.", "timestamp": 1358939109,
             "type": "closed"}
        ],
        "agents": [{"name": "John Doe", "login": "john.doe@mycompany.com"}],
        "groups": [0, 3],
        "tags": ["sales"]
    })
}

/// A visitor with the geo fields and a numeric custom-variable value.
fn real_visitor() -> Value {
    json!({
        "id": "S126126161.O136OJPO1",
        "name": "Mary Brown",
        "email": "mary.brown@email.com",
        "country": "Poland",
        "city": "Wroclaw",
        "language": "pl",
        "page_current": "https://shop.example.com/pricing?plan=pro",
        "timezone": "Europe/Warsaw",
        "custom_variables": [
            {"key": "Customer ID", "value": "POQ51023XZA"},
            {"key": "orders", "value": 5},
            {"key": "cart_total", "value": 129.99}
        ]
    })
}

/// A survey with a `phone` answer.
fn real_survey() -> Value {
    json!([
        {"id": "135963440121804757", "type": "name", "label": "Your name", "answer": "Mary Brown"},
        {"id": "135963440121809999", "type": "phone", "label": "Your phone",
         "answer": "+48 123 456 789"}
    ])
}

/// A ticket with `requester.utc_offset` and `ip`, `groups[].inherited`, a `client` author and a
/// `chat-window` source.
fn real_ticket() -> Value {
    json!({
        "assignee": {"id": "agent.gregory@email.com", "name": "Gregory"},
        "events": [
            {"author": {"id": "mary.brown@email.com", "name": "Mary Brown", "type": "client"},
             "date": "2014-08-18T10:05:05Z", "is_private": false, "message": "Help, please",
             "source": {"type": "chat-window", "url": "https://shop.example.com/"},
             "type": "message"}
        ],
        "groups": [{"id": 0, "name": "All operators", "inherited": true}],
        "id": "CCWWM",
        "requester": {"mail": "mary.brown@email.com", "name": "Mary Brown",
                      "utc_offset": 120, "ip": "203.0.113.9"},
        "status": "open",
        "subject": "Welcome",
        "tags": ["support"],
        "source": {"type": "chat-window", "url": "https://shop.example.com/", "id": "NO4Y5FAERW"}
    })
}

/// Asserts that the section arrived exactly as sent: equal, and written in the same order.
fn assert_unchanged(hit: &Hit, section: &str, sent: &Value) {
    assert_eq!(&hit.body[section], sent, "{section}");
    assert_eq!(
        hit.body[section].to_string(),
        sent.to_string(),
        "{section} key order"
    );
}

#[story]
async fn everything_real_chat_payloads_carry_is_delivered_unchanged() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    let types = ["chat", "visitor", "pre_chat_survey"];
    server
        .webhook(&license, &receiver.url, "chat_started", &types)
        .await;
    let (chat, visitor, survey) = (real_chat(), real_visitor(), real_survey());
    server
        .event(
            &license,
            json!({"event_type": "chat_started", "chat": chat, "visitor": visitor,
                   "pre_chat_survey": survey}),
        )
        .await;
    let hit = &receiver.wait_for(1, Duration::from_secs(5)).await[0];
    assert_unchanged(hit, "chat", &chat);
    assert_unchanged(hit, "visitor", &visitor);
    assert_unchanged(hit, "pre_chat_survey", &survey);
    assert!(hit.body["chat"].get("ended_timestamp").is_none());
    let raw = std::str::from_utf8(&hit.raw).unwrap();
    assert!(
        raw.contains(r#""value":5}"#) && raw.contains("129.99"),
        "{raw}"
    );
    let typed = hookrelay_receiver::parse_payload(&hit.raw).expect("the SDK parses it");
    assert_eq!(typed.chat.unwrap().id, "MH022RD0K5");
    assert_eq!(
        typed.visitor.unwrap().email.as_deref(),
        Some("mary.brown@email.com")
    );
}

#[story]
async fn everything_real_ticket_payloads_carry_is_delivered_unchanged() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    server
        .webhook(&license, &receiver.url, "ticket_created", &["ticket"])
        .await;
    let ticket = real_ticket();
    server
        .event(
            &license,
            json!({"event_type": "ticket_created", "ticket": ticket}),
        )
        .await;
    let hit = &receiver.wait_for(1, Duration::from_secs(5)).await[0];
    assert_unchanged(hit, "ticket", &ticket);
    assert_eq!(hit.body["ticket"]["requester"]["utc_offset"], 120);
    let typed = hookrelay_receiver::parse_payload(&hit.raw).expect("the SDK parses it");
    assert_eq!(typed.ticket.unwrap().id, "CCWWM");
}

#[story]
async fn canned_response_changed_is_delivered_end_to_end_in_the_2017_shape() {
    let server = TestServer::start().await;
    let license = server.license().await;
    let receiver = Receiver::start().await;
    let url = format!("{}/canned", receiver.url);
    server
        .webhook(
            &license,
            &url,
            "canned_response_changed",
            &["canned_response"],
        )
        .await;
    let canned = json!({"group": 0, "id": 3151, "modification_date": 1500000000,
        "tags": ["hello", "greeting"], "text": "Hello, how can I help you?"});
    let accepted = server
        .event(
            &license,
            json!({"event_type": "canned_response_changed", "canned_response": canned}),
        )
        .await;
    assert_eq!(accepted["deliveries"], 1);
    let hit = &receiver.wait_for(1, Duration::from_secs(5)).await[0];
    assert_eq!(hit.uri, "/canned");
    assert_eq!(
        hit.body,
        json!({"event_type": "canned_response_changed", "token": license.token,
               "license_id": license.id, "event_unique_id": accepted["event_id"],
               "canned_response": canned})
    );
    assert_unchanged(hit, "canned_response", &canned);
    let typed = hookrelay_receiver::parse_payload(&hit.raw).expect("the SDK parses it");
    assert_eq!(
        typed.canned_response.unwrap().text,
        "Hello, how can I help you?"
    );
    let id = server.only_delivery_id(&license).await;
    server
        .wait_status(&license, &id, "succeeded", Duration::from_secs(5))
        .await;
}
