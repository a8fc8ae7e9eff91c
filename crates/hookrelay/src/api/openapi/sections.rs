//! The event a producer sends, as JSON Schema: one shape per event type (`oneOf` keyed by
//! `event_type`), each allowing only the sections that event type carries
//! (`EventType::supported_data_types`, the table the API enforces) and requiring its primary one;
//! and each section's shape as `livechat_webhooks`' payload types read it (`chat.id`, …). Fields
//! those types do not model are kept as sent, so every section allows more properties.

use livechat_webhooks::{DataType, EventType};
use serde_json::{json, Map, Value};

use super::builder::reference;

/// `EventInput` (a `oneOf`), one `Event_<type>` per event type a producer may post (not the
/// operational ones hookrelay produces itself, which `POST …/events` refuses), and the shapes of
/// the sections those carry (the operational sections are described in `schemas.rs`).
pub fn schemas() -> Map<String, Value> {
    let mut all = Map::new();
    let posted: Vec<EventType> = EventType::ALL
        .into_iter()
        .filter(|e| !e.is_operational())
        .collect();
    let branches: Vec<Value> = posted
        .iter()
        .map(|e| reference(&format!("Event_{}", e.as_str())))
        .collect();
    all.insert(
        "EventInput".into(),
        json!({"oneOf": branches, "description": "One event; which sections it may carry depends on `event_type`."}),
    );
    for event_type in &posted {
        all.insert(format!("Event_{}", event_type.as_str()), event(*event_type));
        for data_type in event_type.supported_data_types() {
            all.insert(section_name(*data_type).into(), section(*data_type));
        }
    }
    all
}

fn section_name(data_type: DataType) -> &'static str {
    match data_type {
        DataType::Chat => "ChatSection",
        DataType::Visitor => "VisitorSection",
        DataType::PreChatSurvey => "PreChatSurveySection",
        DataType::Ticket => "TicketSection",
        DataType::CannedResponse => "CannedResponseSection",
        DataType::Webhook => "OperationalWebhook",
        DataType::Delivery => "OperationalDelivery",
    }
}

fn event(event_type: EventType) -> Value {
    let mut properties = Map::new();
    properties.insert("event_type".into(), json!({"const": event_type.as_str()}));
    properties.insert(
        "event_unique_id".into(),
        json!({"type": "string", "pattern": "^[0-9a-f]{32}$", "description": "Deliveries carry it; one is made when absent."}),
    );
    for data_type in event_type.supported_data_types() {
        properties.insert(
            data_type.as_str().into(),
            reference(section_name(*data_type)),
        );
    }
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["event_type", event_type.primary_data_type().as_str()],
        "properties": properties,
    })
}

/// Allows any other property, as the payload types keep what they do not model.
fn open(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

fn i64() -> Value {
    json!({"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX})
}

fn optional_i64() -> Value {
    json!({"type": ["integer", "null"], "minimum": i64::MIN, "maximum": i64::MAX})
}

fn optional_text() -> Value {
    json!({"type": ["string", "null"]})
}

fn texts() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

fn section(data_type: DataType) -> Value {
    match data_type {
        DataType::Chat => open(
            &["id"],
            json!({
                "id": {"type": ["string", "number"], "description": "A number is read as its text."},
                "started_timestamp": optional_i64(), "ended_timestamp": optional_i64(),
                "messages": {"type": "array", "items": open(&["user_type"], json!({
                    "user_type": {"type": "string"}, "author_name": optional_text(),
                    "agent_id": optional_text(), "text": optional_text(), "timestamp": optional_i64(),
                }))},
                "tags": texts(),
            }),
        ),
        DataType::Visitor => open(
            &["id"],
            json!({
                "id": {"type": "string"}, "name": optional_text(), "email": optional_text(),
                "custom_variables": {"type": "array", "items": open(&["key", "value"], json!({
                    "key": {"type": "string"}, "value": {},
                }))},
            }),
        ),
        DataType::PreChatSurvey => json!({"type": "array", "items": open(&["id", "type"], json!({
            "id": {"type": "string"}, "type": {"type": "string"}, "label": optional_text(),
            "answer": {},
            "answers": {"type": ["array", "null"], "items": open(&["label"], json!({
                "label": {"type": "string"}, "chosen": {"type": "boolean"},
            }))},
        }))}),
        DataType::Ticket => ticket(),
        // Produced by hookrelay, never posted: described with the operational events.
        DataType::Webhook | DataType::Delivery => reference(section_name(data_type)),
        DataType::CannedResponse => open(
            &["id", "text"],
            json!({
                "id": i64(), "group": optional_i64(), "modification_date": optional_i64(),
                "tags": texts(), "text": {"type": "string"},
            }),
        ),
    }
}

fn ticket() -> Value {
    let nullable = |schema: Value| json!({"oneOf": [{"type": "null"}, schema]});
    let source = open(
        &["type"],
        json!({"type": {"type": "string"}, "url": optional_text(), "id": optional_text()}),
    );
    open(
        &["id"],
        json!({
            "id": {"type": "string"},
            "assignee": nullable(open(&["id"], json!({"id": {"type": "string"}, "name": optional_text()}))),
            "events": {"type": "array", "items": open(&[], json!({
                "author": nullable(open(&[], json!({
                    "id": optional_text(), "name": optional_text(), "type": optional_text(),
                }))),
                "date": optional_text(), "is_private": {"type": ["boolean", "null"]},
                "message": optional_text(), "source": nullable(source.clone()), "type": optional_text(),
            }))},
            "groups": {"type": "array", "items": open(&["id"], json!({"id": i64(), "name": optional_text()}))},
            "requester": nullable(open(&[], json!({"mail": optional_text(), "name": optional_text()}))),
            "status": optional_text(), "subject": optional_text(),
            "tags": texts(),
            "source": nullable(source),
        }),
    )
}
