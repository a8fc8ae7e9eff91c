//! The outgoing webhook body: exactly what LiveChat POSTs, built from an event's sections.

use crate::{DataType, DataTypes, EventType};

/// The data-type sections of one event, each as compact JSON text (an object, or an array for
/// `pre_chat_survey`). A section the event did not carry is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sections {
    pub chat: Option<String>,
    pub visitor: Option<String>,
    pub pre_chat_survey: Option<String>,
    pub ticket: Option<String>,
    pub canned_response: Option<String>,
    pub webhook: Option<String>,
    pub delivery: Option<String>,
}

impl Sections {
    pub fn get(&self, data_type: DataType) -> Option<&str> {
        match data_type {
            DataType::Chat => self.chat.as_deref(),
            DataType::Visitor => self.visitor.as_deref(),
            DataType::PreChatSurvey => self.pre_chat_survey.as_deref(),
            DataType::Ticket => self.ticket.as_deref(),
            DataType::CannedResponse => self.canned_response.as_deref(),
            DataType::Webhook => self.webhook.as_deref(),
            DataType::Delivery => self.delivery.as_deref(),
        }
    }

    pub fn slot(&mut self, data_type: DataType) -> &mut Option<String> {
        match data_type {
            DataType::Chat => &mut self.chat,
            DataType::Visitor => &mut self.visitor,
            DataType::PreChatSurvey => &mut self.pre_chat_survey,
            DataType::Ticket => &mut self.ticket,
            DataType::CannedResponse => &mut self.canned_response,
            DataType::Webhook => &mut self.webhook,
            DataType::Delivery => &mut self.delivery,
        }
    }
}

/// Writes the JSON body of one webhook: `event_type`, `token`, `license_id` (a string),
/// `event_unique_id`, then each section in `wanted` in body order.
///
/// A wanted `pre_chat_survey` the event did not carry is written as `[]` (LiveChat's behaviour);
/// any other wanted section the event did not carry is left out rather than sent as `null`.
/// The sections are trusted to be valid JSON (the server checks them on ingest).
pub fn compose_body(
    event_type: EventType,
    token: &str,
    license_id: &str,
    event_unique_id: &str,
    sections: &Sections,
    wanted: DataTypes,
) -> String {
    let extra: usize = wanted
        .iter()
        .map(|d| sections.get(d).map_or(2, str::len) + 24)
        .sum();
    let mut body = String::with_capacity(128 + extra);
    body.push_str("{\"event_type\":\"");
    body.push_str(event_type.as_str());
    body.push_str("\",\"token\":");
    push_json_string(&mut body, token);
    body.push_str(",\"license_id\":");
    push_json_string(&mut body, license_id);
    body.push_str(",\"event_unique_id\":");
    push_json_string(&mut body, event_unique_id);
    for data_type in wanted.iter() {
        let section = match (sections.get(data_type), data_type) {
            (Some(json), _) => json,
            (None, DataType::PreChatSurvey) => "[]",
            (None, _) => continue,
        };
        body.push_str(",\"");
        body.push_str(data_type.as_str());
        body.push_str("\":");
        body.push_str(section);
    }
    body.push('}');
    body
}

fn push_json_string(out: &mut String, s: &str) {
    // serde_json never fails to serialize a &str.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn the_seed_example_without_data_types() {
        let body = compose_body(
            EventType::ChatStarted,
            "27f41c8da685c81a890f9e5f8ce48387",
            "1025707",
            "0123456789abcdef0123456789abcdef",
            &Sections::default(),
            DataTypes::EMPTY,
        );
        assert_eq!(
            body,
            r#"{"event_type":"chat_started","token":"27f41c8da685c81a890f9e5f8ce48387","license_id":"1025707","event_unique_id":"0123456789abcdef0123456789abcdef"}"#
        );
    }

    #[test]
    fn only_wanted_sections_are_written_and_a_missing_survey_is_an_empty_array() {
        let sections = Sections {
            chat: Some(r#"{"id":"MH022RD0K5","tags":[]}"#.into()),
            visitor: Some(r#"{"id":"S1","name":"John"}"#.into()),
            ..Sections::default()
        };
        let wanted =
            DataTypes::parse_for(EventType::ChatEnded, ["visitor", "pre_chat_survey"]).unwrap();
        let body = compose_body(EventType::ChatEnded, "t", "1", "e", &sections, wanted);
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            value,
            json!({"event_type":"chat_ended","token":"t","license_id":"1","event_unique_id":"e",
                   "visitor":{"id":"S1","name":"John"},"pre_chat_survey":[]})
        );
    }

    #[test]
    fn strings_are_escaped() {
        let body = compose_body(
            EventType::VisitorQueued,
            "a\"b",
            "1",
            "e",
            &Sections::default(),
            DataTypes::EMPTY,
        );
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["token"], "a\"b");
    }
}
