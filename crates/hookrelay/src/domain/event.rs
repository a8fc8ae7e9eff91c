//! Incoming events from the chat system, checked into [`NewEvent`] before anything is stored.
//!
//! Each data-type section is validated against its typed shape (so a receiver can rely on it) but
//! kept as the producer wrote it, unknown fields and all, because real LiveChat payloads carry more
//! than the documentation shows and the relay must pass them through unchanged.

use livechat_webhooks::{
    CannedResponse, Chat, DataType, Delivery, EventType, PreChatSurveyItem, Sections, Ticket,
    Visitor, Webhook,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::secret;
use super::webhook::parse_event_type;
use super::Invalid;

/// A validated event, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_type: EventType,
    /// The `event_unique_id` every webhook of this event carries.
    pub unique_id: String,
    pub sections: Sections,
    /// For chat events: the chat's id and its tag list, for the `chat_changed` rule.
    pub chat_tags: Option<ChatTags>,
    /// The visitor's id (`visitor.id`), stored so that deliveries can be found by it.
    pub visitor_id: Option<String>,
    /// The producer's `Idempotency-Key`, if it sent one.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatTags {
    pub chat_id: String,
    pub tags: Vec<String>,
}

/// Longest accepted idempotency key.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// Checks an `Idempotency-Key` header value.
pub fn parse_idempotency_key(text: &str) -> Result<String, Invalid> {
    let ok = !text.is_empty()
        && text.len() <= MAX_IDEMPOTENCY_KEY
        && text.bytes().all(|b| (0x21..0x7f).contains(&b));
    if ok {
        Ok(text.to_string())
    } else {
        Err(Invalid::new(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        ))
    }
}

impl NewEvent {
    /// The chat id its deliveries are found by (`None` beyond what a find takes).
    pub fn find_chat_id(&self) -> Option<&str> {
        let id = self.chat_tags.as_ref()?.chat_id.as_str();
        super::delivery::findable(id).then_some(id)
    }

    /// The visitor id its deliveries are found by (`None` beyond what a find takes).
    pub fn find_visitor_id(&self) -> Option<&str> {
        self.visitor_id
            .as_deref()
            .filter(|id| super::delivery::findable(id))
    }

    /// Validates one event object. `prefix` names where it sits in the request (`events[3].`) so
    /// that errors point at the right place.
    pub fn parse(value: Value, prefix: &str) -> Result<NewEvent, Invalid> {
        let field = |name: &str| format!("{prefix}{name}");
        let Value::Object(mut object) = value else {
            return Err(Invalid::new(
                prefix.trim_end_matches('.'),
                "must be a JSON object",
            ));
        };
        let event_type = match object.remove("event_type") {
            Some(Value::String(s)) => {
                parse_event_type(&s).map_err(|e| Invalid::new(field("event_type"), e.message))?
            }
            Some(_) => return Err(Invalid::new(field("event_type"), "must be a string")),
            None => return Err(Invalid::new(field("event_type"), "is required")),
        };
        if event_type.is_operational() {
            return Err(Invalid::refused(
                field("event_type"),
                format!("{event_type} is produced by hookrelay only; it cannot be posted"),
            ));
        }
        let unique_id = match object.remove("event_unique_id") {
            Some(Value::String(s)) if secret::is_hex32(&s) => s,
            Some(_) => {
                return Err(Invalid::new(
                    field("event_unique_id"),
                    "must be 32 lowercase hex characters",
                ))
            }
            None => secret::random_hex(16),
        };
        let mut sections = Sections::default();
        let mut chat_tags = None;
        let mut visitor_id = None;
        for data_type in DataType::ALL {
            let Some(section) = object.remove(data_type.as_str()) else {
                continue;
            };
            let name = field(data_type.as_str());
            if !event_type.supports(data_type) {
                return Err(not_carried(event_type, data_type, name));
            }
            if data_type == DataType::Chat {
                // The shape check and the tag rule's input in one parse.
                let chat: Chat = typed(&section, &name)?;
                let mut tags = chat.tags;
                tags.sort();
                tags.dedup();
                chat_tags = Some(ChatTags {
                    chat_id: chat.id,
                    tags,
                });
            } else if data_type == DataType::Visitor {
                // The shape check and the id deliveries are found by in one parse.
                visitor_id = Some(typed::<Visitor>(&section, &name)?.id);
            } else {
                check_shape(data_type, &section, &name)?;
            }
            *sections.slot(data_type) = Some(section.to_string());
        }
        let primary = event_type.primary_data_type();
        if sections.get(primary).is_none() {
            return Err(Invalid::new(
                field(primary.as_str()),
                format!("is required for {event_type}"),
            ));
        }
        if let Some(unknown) = object.keys().next() {
            return Err(Invalid::new(
                field(unknown),
                "is not a field of an event; expected event_type, event_unique_id, chat, visitor, pre_chat_survey, ticket, canned_response",
            ));
        }
        Ok(NewEvent {
            event_type,
            unique_id,
            sections,
            chat_tags,
            visitor_id,
            idempotency_key: None,
        })
    }
}

/// The refusal of a section its event type does not carry, naming the ones it does.
fn not_carried(event_type: EventType, data_type: DataType, name: String) -> Invalid {
    let allowed: Vec<_> = event_type
        .supported_data_types()
        .iter()
        .map(|d| d.as_str())
        .collect();
    Invalid::new(
        name,
        format!(
            "{event_type} does not carry {data_type}; it carries: {}",
            allowed.join(", ")
        ),
    )
}

fn check_shape(data_type: DataType, section: &Value, name: &str) -> Result<(), Invalid> {
    match data_type {
        DataType::Chat => typed::<Chat>(section, name).map(drop),
        DataType::Visitor => typed::<Visitor>(section, name).map(drop),
        DataType::PreChatSurvey => typed::<Vec<PreChatSurveyItem>>(section, name).map(drop),
        DataType::Ticket => typed::<Ticket>(section, name).map(drop),
        DataType::CannedResponse => typed::<CannedResponse>(section, name).map(drop),
        DataType::Webhook => typed::<Webhook>(section, name).map(drop),
        DataType::Delivery => typed::<Delivery>(section, name).map(drop),
    }
}

/// Deserializes a section into its typed shape, naming the exact path of a problem.
///
/// Valid input (nearly all of it) takes the plain path; only a failure is parsed again with path
/// tracking, which costs a third more.
fn typed<T: DeserializeOwned>(section: &Value, name: &str) -> Result<T, Invalid> {
    if let Ok(value) = T::deserialize(section) {
        return Ok(value);
    }
    serde_path_to_error::deserialize(section).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            name.to_string()
        } else {
            format!("{name}.{path}")
        };
        Invalid::new(at, e.into_inner().to_string())
    })
}

/// Parses a batch body `{"events": [...]}`.
pub fn parse_batch(value: Value, max: usize) -> Result<Vec<NewEvent>, Invalid> {
    let mut object: Map<String, Value> = match value {
        Value::Object(o) => o,
        _ => return Err(Invalid::new("body", "must be a JSON object")),
    };
    let Some(Value::Array(events)) = object.remove("events") else {
        return Err(Invalid::new("events", "is required and must be an array"));
    };
    if events.is_empty() || events.len() > max {
        return Err(Invalid::new(
            "events",
            format!("must hold 1 to {max} events"),
        ));
    }
    events
        .into_iter()
        .enumerate()
        .map(|(i, e)| NewEvent::parse(e, &format!("events[{i}].")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<NewEvent, Invalid> {
        NewEvent::parse(value, "")
    }

    #[test]
    fn a_chat_event_keeps_its_sections_verbatim_and_its_sorted_tags() {
        let event = parse(json!({
            "event_type": "chat_changed",
            "chat": {"id": "MH022RD0K5", "tags": ["support", "sales", "sales"], "url": "https://x/"},
        }))
        .unwrap();
        assert_eq!(event.event_type, EventType::ChatChanged);
        assert!(secret::is_hex32(&event.unique_id));
        assert_eq!(
            event.sections.chat.as_deref(),
            Some(r#"{"id":"MH022RD0K5","tags":["support","sales","sales"],"url":"https://x/"}"#)
        );
        assert_eq!(
            event.chat_tags,
            Some(ChatTags {
                chat_id: "MH022RD0K5".into(),
                tags: vec!["sales".into(), "support".into()]
            })
        );
    }

    #[test]
    fn a_section_the_event_does_not_carry_is_refused() {
        let err = parse(
            json!({"event_type": "visitor_queued", "visitor": {"id": "S1"},
                               "chat": {"id": "C"}}),
        )
        .unwrap_err();
        assert_eq!(err.field, "chat");
        assert!(
            err.message.contains("it carries: visitor"),
            "{}",
            err.message
        );
    }

    #[test]
    fn the_primary_section_is_required() {
        let err = parse(json!({"event_type": "ticket_created"})).unwrap_err();
        assert_eq!(err.field, "ticket");
    }

    #[test]
    fn a_wrong_shape_names_the_exact_path() {
        let err = parse(json!({"event_type": "chat_started",
                               "chat": {"id": "C", "messages": [{"user_type": "agent", "timestamp": "soon"}]}}))
        .unwrap_err();
        assert_eq!(err.field, "chat.messages[0].timestamp");
    }

    #[test]
    fn unknown_top_level_fields_and_bad_ids_are_refused() {
        let err =
            parse(json!({"event_type": "visitor_queued", "visitor": {"id": "S1"}, "vistor": {}}))
                .unwrap_err();
        assert_eq!(err.field, "vistor");
        let err = parse(
            json!({"event_type": "visitor_queued", "visitor": {"id": "S1"},
                               "event_unique_id": "xyz"}),
        )
        .unwrap_err();
        assert_eq!(err.field, "event_unique_id");
    }

    #[test]
    fn batch_errors_point_at_the_event() {
        let err = parse_batch(
            json!({"events": [{"event_type": "visitor_queued", "visitor": {"id": "S"}},
                              {"event_type": "nope"}]}),
            10,
        )
        .unwrap_err();
        assert_eq!(err.field, "events[1].event_type");
        assert!(parse_batch(json!({"events": []}), 10).is_err());
    }

    #[test]
    fn operational_event_types_are_refused_as_produced_by_hookrelay_only() {
        for event_type in EventType::OPERATIONAL {
            let err = parse(json!({"event_type": event_type.as_str(),
                                   "webhook": {"id": "w", "url": "u", "event_type": "chat_ended"}}))
            .unwrap_err();
            assert_eq!(err.field, "event_type");
            assert!(err.refused);
            assert!(
                err.message.contains("produced by hookrelay only"),
                "{}",
                err.message
            );
        }
        let err = parse_batch(
            json!({"events": [{"event_type": "visitor_queued", "visitor": {"id": "S"}},
                              {"event_type": "delivery_failed"}]}),
            10,
        )
        .unwrap_err();
        assert_eq!(err.field, "events[1].event_type");
    }

    #[test]
    fn idempotency_keys_are_bounded() {
        assert!(parse_idempotency_key("order-42").is_ok());
        assert!(parse_idempotency_key("").is_err());
        assert!(parse_idempotency_key("a b").is_err());
    }
}
