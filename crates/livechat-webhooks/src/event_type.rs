//! The six event types LiveChat can send, the two operational ones hookrelay produces itself,
//! and which data types each may carry.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DataType;

/// Something that happened in the chat system and that a webhook can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    VisitorQueued,
    ChatStarted,
    ChatEnded,
    /// Sent only when the chat's tag list changed (seed: "no matter if the chat is pending or not").
    ChatChanged,
    TicketCreated,
    /// Added to LiveChat in 2017; carries `canned_response`.
    CannedResponseChanged,
    /// Operational (produced by hookrelay only): a webhook was disabled because its target kept
    /// failing; carries `webhook`.
    WebhookDisabled,
    /// Operational (produced by hookrelay only): a delivery failed for good (its retries ran out,
    /// or it was given up); carries `delivery`.
    DeliveryFailed,
}

impl EventType {
    /// Every event type, in the order the documentation lists them.
    pub const ALL: [EventType; 8] = [
        EventType::VisitorQueued,
        EventType::ChatStarted,
        EventType::ChatEnded,
        EventType::ChatChanged,
        EventType::TicketCreated,
        EventType::CannedResponseChanged,
        EventType::WebhookDisabled,
        EventType::DeliveryFailed,
    ];

    /// The operational event types: hookrelay produces them about its own webhooks and
    /// deliveries; a chat system may not post them.
    pub const OPERATIONAL: [EventType; 2] = [EventType::WebhookDisabled, EventType::DeliveryFailed];

    /// Whether hookrelay produces this event type itself (see [`EventType::OPERATIONAL`]).
    pub fn is_operational(self) -> bool {
        matches!(self, EventType::WebhookDisabled | EventType::DeliveryFailed)
    }

    /// The name used on the wire (`"chat_started"`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::VisitorQueued => "visitor_queued",
            EventType::ChatStarted => "chat_started",
            EventType::ChatEnded => "chat_ended",
            EventType::ChatChanged => "chat_changed",
            EventType::TicketCreated => "ticket_created",
            EventType::CannedResponseChanged => "canned_response_changed",
            EventType::WebhookDisabled => "webhook_disabled",
            EventType::DeliveryFailed => "delivery_failed",
        }
    }

    /// The data types a webhook for this event may ask for (the seed's support matrix).
    pub fn supported_data_types(self) -> &'static [DataType] {
        use DataType::*;
        match self {
            EventType::VisitorQueued => &[Visitor],
            EventType::ChatStarted | EventType::ChatEnded => &[Chat, Visitor, PreChatSurvey],
            EventType::ChatChanged => &[Chat, Visitor],
            EventType::TicketCreated => &[Ticket],
            EventType::CannedResponseChanged => &[CannedResponse],
            EventType::WebhookDisabled => &[Webhook],
            EventType::DeliveryFailed => &[Delivery],
        }
    }

    /// The data type an event of this type must always carry: the thing the event is about.
    pub fn primary_data_type(self) -> DataType {
        match self {
            EventType::VisitorQueued => DataType::Visitor,
            EventType::ChatStarted | EventType::ChatEnded | EventType::ChatChanged => {
                DataType::Chat
            }
            EventType::TicketCreated => DataType::Ticket,
            EventType::CannedResponseChanged => DataType::CannedResponse,
            EventType::WebhookDisabled => DataType::Webhook,
            EventType::DeliveryFailed => DataType::Delivery,
        }
    }

    /// Whether this event may carry `data_type`.
    pub fn supports(self, data_type: DataType) -> bool {
        self.supported_data_types().contains(&data_type)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a string that names no event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type `{0}`; expected one of visitor_queued, chat_started, chat_ended, chat_changed, ticket_created, canned_response_changed, webhook_disabled, delivery_failed")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_round_trips_through_its_name() {
        for e in EventType::ALL {
            assert_eq!(e.as_str().parse::<EventType>(), Ok(e));
            assert_eq!(
                serde_json::to_string(&e).unwrap(),
                format!("\"{}\"", e.as_str())
            );
        }
    }

    #[test]
    fn the_primary_data_type_is_always_supported() {
        for e in EventType::ALL {
            assert!(e.supports(e.primary_data_type()), "{e}");
        }
    }

    #[test]
    fn only_the_two_operational_types_are_operational() {
        let operational: Vec<_> = EventType::ALL
            .into_iter()
            .filter(|e| e.is_operational())
            .collect();
        assert_eq!(operational, EventType::OPERATIONAL);
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_list_of_valid_ones() {
        let err = "chat_startd".parse::<EventType>().unwrap_err();
        assert!(err.to_string().contains("chat_startd"));
        assert!(err.to_string().contains("visitor_queued"));
    }
}
