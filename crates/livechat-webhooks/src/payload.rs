//! Typed webhook payloads, as a receiver parses them.
//!
//! Every struct keeps the fields it does not know in `extra`, because real LiveChat payloads carry
//! more than the documentation shows (`chat.url`, `chat.agents`, `visitor.country`, …) and a
//! receiver must neither fail on them nor lose them. Fields the documentation marks as sometimes
//! absent are `Option`s; lists default to empty.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::EventType;

/// Fields this crate does not model, kept as they arrived.
pub type Extra = Map<String, Value>;

/// One webhook as it arrives at a receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPayload {
    pub event_type: EventType,
    /// The license's webhook token; with `license_id` it authenticates Visitors API calls.
    pub token: String,
    /// A string on the wire; a number is accepted too.
    #[serde(deserialize_with = "string_or_number")]
    pub license_id: String,
    /// The same on every attempt of one event: use it to drop duplicate deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_unique_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<Chat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor: Option<Visitor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_chat_survey: Option<Vec<PreChatSurveyItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<Ticket>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canned_response: Option<CannedResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Data type `chat`: start and end time and the transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(
        default,
        deserialize_with = "optional_integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub started_timestamp: Option<i64>,
    /// Absent while the chat is still going on.
    #[serde(
        default,
        deserialize_with = "optional_integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub ended_timestamp: Option<i64>,
    #[serde(default)]
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One line of a chat transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `agent`, `supervisor` (a whisper) or `visitor`.
    pub user_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(
        default,
        deserialize_with = "optional_integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<i64>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Data type `visitor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visitor {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub custom_variables: Vec<CustomVariable>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A key/value pair set on the visitor by the website. The value is sometimes a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomVariable {
    pub key: String,
    pub value: Value,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One question of the pre-chat survey (data type `pre_chat_survey`, an array of these).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreChatSurveyItem {
    pub id: String,
    /// `name`, `email`, `phone`, `question`, `checkbox`, `radio`, `select`, …
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The answer of a single-answer question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Value>,
    /// The options of a multiple-choice question, each marked chosen or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers: Option<Vec<PreChatSurveyAnswer>>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreChatSurveyAnswer {
    pub label: String,
    #[serde(default)]
    pub chosen: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Data type `ticket`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<TicketPerson>,
    #[serde(default)]
    pub events: Vec<TicketEvent>,
    #[serde(default)]
    pub groups: Vec<TicketGroup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<TicketRequester>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TicketSource>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketPerson {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<TicketAuthor>,
    /// RFC 3339 (`2014-08-18T10:05:05Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_private: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<TicketSource>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketAuthor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `agent` or `client`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketGroup {
    #[serde(deserialize_with = "integer")]
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketRequester {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketSource {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Data type `canned_response` (event `canned_response_changed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CannedResponse {
    #[serde(deserialize_with = "integer")]
    pub id: i64,
    #[serde(
        default,
        deserialize_with = "optional_integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub group: Option<i64>,
    /// Unix seconds.
    #[serde(
        default,
        deserialize_with = "optional_integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub modification_date: Option<i64>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub text: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// An integer field: JSON does not tell `7` from `7.0` (JSON Schema calls both integers, and
/// some producers' encoders write the second), so a number without a fraction is read as the
/// integer it is; a fraction, or a value outside `i64`, is refused.
fn integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    whole(serde_json::Number::deserialize(deserializer)?)
}

fn optional_integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Option::<serde_json::Number>::deserialize(deserializer)?
        .map(whole)
        .transpose()
}

fn whole<E: serde::de::Error>(number: serde_json::Number) -> Result<i64, E> {
    // 2^63 as f64: the first value past i64::MAX.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    number
        .as_i64()
        .or_else(|| {
            number
                .as_f64()
                // Open at both ends: an integer literal just past i64::MIN is read as the float
                // -2^63, which must not pass for i64::MIN.
                .filter(|f| f.fract() == 0.0 && -LIMIT < *f && *f < LIMIT)
                .map(|f| f as i64)
        })
        .ok_or_else(|| E::custom(format!("{number} is not an integer of 64 bits")))
}

/// Data type `webhook` (operational event `webhook_disabled`): a hookrelay webhook that was
/// disabled because its target kept failing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    /// Its target URL, the password redacted.
    pub url: String,
    /// The event type it subscribes to.
    pub event_type: EventType,
    /// A sentence saying since when its target failed and how it last failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Data type `delivery` (operational event `delivery_failed`): a delivery whose retries ran out
/// or that was given up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// `dlv_` and a number.
    pub id: String,
    pub webhook_id: String,
    /// The event type of the event it carried.
    pub event_type: EventType,
    /// The `event_unique_id` of the event it carried.
    pub event_unique_id: String,
    pub attempts: i64,
    /// The last HTTP status the target answered (`null`: it never answered).
    #[serde(default)]
    pub last_status_code: Option<u16>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or a number, found {}",
            kind_of(&other)
        ))),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
