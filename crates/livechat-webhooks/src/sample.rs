//! Realistic sample data, close to the seed document's examples, for `hookrelay trigger`, the
//! server's "send test" button, documentation and tests.

use serde_json::{json, Value};

use crate::{compose_body, DataType, DataTypes, EventType, Sections};

/// The seed's example license and token.
pub const LICENSE_ID: &str = "1025707";
pub const TOKEN: &str = "27f41c8da685c81a890f9e5f8ce48387";
/// A fixed `event_unique_id` for samples; senders generate a fresh one per event.
pub const EVENT_UNIQUE_ID: &str = "8f2b1e4c9a7d4f0e8b3c6a5d2e1f0a9b";

/// The seed's `chat` section. A `chat_started` chat has no `ended_timestamp` yet.
pub fn chat(event_type: EventType) -> Value {
    let mut chat = json!({
        "id": "MH022RD0K5",
        "started_timestamp": 1358937653,
        "ended_timestamp": 1358939109,
        "messages": [
            {"user_type": "agent", "author_name": "John Doe", "agent_id": "john.doe@mycompany.com",
             "text": "Hello", "timestamp": 1358937653},
            {"user_type": "supervisor", "author_name": "James Doe", "agent_id": "james@mycompany.com",
             "text": "This is whispered message.", "timestamp": 1358937658},
            {"user_type": "visitor", "author_name": "Mary Brown", "text": "How are you?",
             "timestamp": 1358937661}
        ],
        "tags": ["sales", "support", "feedback"]
    });
    if event_type == EventType::ChatStarted {
        chat.as_object_mut()
            .map(|c| c.shift_remove("ended_timestamp"));
    }
    chat
}

/// The seed's `visitor` section.
pub fn visitor() -> Value {
    json!({
        "id": "S126126161.O136OJPO1",
        "name": "Mary Brown",
        "email": "mary.brown@email.com",
        "custom_variables": [{"key": "Customer ID", "value": "POQ51023XZA"}]
    })
}

/// The seed's `pre_chat_survey` section.
pub fn pre_chat_survey() -> Value {
    json!([
        {"id": "135963440121804757", "type": "name", "label": "Your name", "answer": "Mary Brown"},
        {"id": "135963440121802531", "type": "email", "label": "Your e-mail",
         "answer": "mary.brown@email.com"},
        {"id": "135963613764705707", "type": "checkbox",
         "label": "What are your favourite music bands?",
         "answers": [
             {"label": "Deep Purple", "chosen": true},
             {"label": "Iron Maiden", "chosen": false},
             {"label": "Guns N' Roses", "chosen": true}
         ]}
    ])
}

/// The seed's `ticket` section (with its single-quoted tag fixed).
pub fn ticket() -> Value {
    json!({
        "assignee": {"id": "agent.gregory@email.com", "name": "Gregory"},
        "events": [{
            "author": {"id": "mary.brown@email.com", "name": "agent4", "type": "agent"},
            "date": "2014-08-18T10:05:05Z",
            "is_private": false,
            "message": "How are you?",
            "source": {"type": "agent-app-manual", "url": null},
            "type": "message"
        }],
        "groups": [{"id": 0, "name": "All operators"}],
        "id": "CCWWM",
        "requester": {"mail": "mary.brown@email.com", "name": "Mary Brown"},
        "status": "open",
        "subject": "Welcome",
        "tags": ["support"],
        "source": {"type": "lc2", "url": null, "id": "NO4Y5FAERW"}
    })
}

/// A `canned_response` section as LiveChat sent it from 2017 on.
pub fn canned_response() -> Value {
    json!({
        "id": 3151,
        "group": 0,
        "modification_date": 1490350226,
        "tags": ["hello", "welcome"],
        "text": "Hello! How can I help you today?"
    })
}

/// A `webhook` section, as hookrelay writes it in a `webhook_disabled` event.
pub fn webhook() -> Value {
    json!({
        "id": "5f3a9c2e7b1d4e8fa06c3b9d2e7f1a4c",
        "url": "https://integration:***@example.com/livechat/webhook",
        "event_type": "chat_ended",
        "disabled_reason": "its target answered no HTTP 200 since 2026-03-02T09:14:05.120Z \
                            (5 days); the last attempt got HTTP 503",
        "disabled_at": "2026-03-07T09:14:31.870Z"
    })
}

/// A `delivery` section, as hookrelay writes it in a `delivery_failed` event.
pub fn delivery() -> Value {
    json!({
        "id": "dlv_48213",
        "webhook_id": "5f3a9c2e7b1d4e8fa06c3b9d2e7f1a4c",
        "event_type": "chat_ended",
        "event_unique_id": "0123456789abcdef0123456789abcdef",
        "attempts": 9,
        "last_status_code": 503,
        "last_error": "HTTP 503 (only HTTP 200 counts as delivered)"
    })
}

/// The sample section for one data type.
pub fn section(event_type: EventType, data_type: DataType) -> Value {
    match data_type {
        DataType::Chat => chat(event_type),
        DataType::Visitor => visitor(),
        DataType::PreChatSurvey => pre_chat_survey(),
        DataType::Ticket => ticket(),
        DataType::CannedResponse => canned_response(),
        DataType::Webhook => webhook(),
        DataType::Delivery => delivery(),
    }
}

/// Every section `event_type` supports, as compact JSON text.
pub fn sections(event_type: EventType) -> Sections {
    let mut sections = Sections::default();
    for &data_type in event_type.supported_data_types() {
        *sections.slot(data_type) = Some(section(event_type, data_type).to_string());
    }
    sections
}

/// A whole sample webhook body carrying the `wanted` data types.
pub fn payload(event_type: EventType, wanted: DataTypes, license_id: &str, token: &str) -> Value {
    let body = compose_body(
        event_type,
        token,
        license_id,
        EVENT_UNIQUE_ID,
        &sections(event_type),
        wanted,
    );
    serde_json::from_str(&body).expect("samples are valid JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_visitor_example_is_reproduced() {
        let wanted = DataTypes::parse_for(EventType::ChatStarted, ["visitor"]).unwrap();
        let body = payload(EventType::ChatStarted, wanted, LICENSE_ID, TOKEN);
        assert_eq!(body["event_type"], "chat_started");
        assert_eq!(body["license_id"], "1025707");
        assert_eq!(body["visitor"]["email"], "mary.brown@email.com");
        assert!(body.get("chat").is_none());
        let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "event_type",
                "token",
                "license_id",
                "event_unique_id",
                "visitor"
            ]
        );
    }

    #[test]
    fn a_started_chat_has_not_ended() {
        assert!(chat(EventType::ChatStarted)
            .get("ended_timestamp")
            .is_none());
        assert_eq!(chat(EventType::ChatEnded)["ended_timestamp"], 1358939109);
    }
}
