//! Webhooks: one subscription of a license to one event type, with the data types to include and
//! the target URL to POST to.

use livechat_webhooks::{DataTypes, EventType};

use super::health::Health;
use super::listen_session::SessionHold;
use super::signing::SigningKeys;
use super::target::TargetUrl;
use super::{Invalid, Millis};

#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    /// 32 lowercase hex, like LiveChat v2's webhook ids.
    pub id: String,
    pub license_id: String,
    pub url: TargetUrl,
    pub event_type: EventType,
    pub data_types: DataTypes,
    pub description: Option<String>,
    pub enabled: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// The health of its target, as stored (shared with every webhook of the same target).
    pub health: Health,
    /// Its signing keys, when it signs its requests (`None`: it does not).
    pub signing: Option<SigningKeys>,
    /// Why hookrelay disabled it (its target kept failing for `disable_after`); `None` while it
    /// is enabled or when it was disabled by hand.
    pub disabled_reason: Option<String>,
    /// When hookrelay disabled it.
    pub disabled_at: Option<Millis>,
    /// For a listen session's webhook (`"kind": "cli"`, URL `cli://SESSION_ID`): which node holds
    /// the session and since when; `None` for an HTTP webhook.
    pub session: Option<SessionHold>,
}

impl Webhook {
    /// `"cli"` for a listen session's webhook, `"http"` for the others.
    pub fn kind(&self) -> &'static str {
        if self.url.session_id().is_some() {
            "cli"
        } else {
            "http"
        }
    }
}

/// Longest accepted description.
const MAX_DESCRIPTION: usize = 500;

/// Parses the event type field.
pub fn parse_event_type(text: &str) -> Result<EventType, Invalid> {
    text.trim()
        .parse()
        .map_err(|e: livechat_webhooks::UnknownEventType| Invalid::new("event_type", e.to_string()))
}

/// Parses the data types for `event_type`, naming the allowed ones on error.
pub fn parse_data_types<S: AsRef<str>>(
    event_type: EventType,
    names: &[S],
) -> Result<DataTypes, Invalid> {
    DataTypes::parse_for(event_type, names).map_err(|e| Invalid::new("data_types", e.to_string()))
}

pub fn parse_description(text: Option<String>) -> Result<Option<String>, Invalid> {
    match text.map(|t| t.trim().to_string()) {
        Some(t) if t.chars().count() > MAX_DESCRIPTION => Err(Invalid::new(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        )),
        Some(t) if t.is_empty() => Ok(None),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_type_outside_the_matrix_is_refused_naming_the_allowed_ones() {
        let err = parse_data_types(EventType::VisitorQueued, &["chat"]).unwrap_err();
        assert_eq!(err.field, "data_types");
        assert!(
            err.message.contains("it carries: visitor"),
            "{}",
            err.message
        );
    }

    #[test]
    fn event_types_are_parsed_with_a_helpful_error() {
        assert_eq!(
            parse_event_type("chat_ended").unwrap(),
            EventType::ChatEnded
        );
        let err = parse_event_type("chat").unwrap_err();
        assert!(err.message.contains("chat_started"));
    }

    #[test]
    fn descriptions_are_trimmed_and_bounded() {
        assert_eq!(parse_description(Some("  ".into())).unwrap(), None);
        assert!(parse_description(Some("x".repeat(501))).is_err());
        assert!(
            parse_description(Some("é".repeat(500))).is_ok(),
            "characters, not bytes"
        );
    }
}
