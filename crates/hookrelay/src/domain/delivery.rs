//! Deliveries (one event for one webhook, retried until HTTP 200) and their attempts.

use std::fmt;
use std::str::FromStr;

use livechat_webhooks::EventType;
use serde::Serialize;

use super::{Invalid, Millis};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or being attempted).
    Pending,
    /// The target answered HTTP 200.
    Succeeded,
    /// Every retry failed; it can still be resent.
    Failed,
}

impl DeliveryStatus {
    pub fn code(self) -> i64 {
        match self {
            DeliveryStatus::Pending => 0,
            DeliveryStatus::Succeeded => 1,
            DeliveryStatus::Failed => 2,
        }
    }

    pub fn from_code(code: i64) -> DeliveryStatus {
        match code {
            1 => DeliveryStatus::Succeeded,
            2 => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }
}

impl FromStr for DeliveryStatus {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(DeliveryStatus::Pending),
            "succeeded" => Ok(DeliveryStatus::Succeeded),
            "failed" => Ok(DeliveryStatus::Failed),
            _ => Err(Invalid::new(
                "status",
                "must be one of pending, succeeded, failed",
            )),
        }
    }
}

/// A delivery id as shown in the API: `dlv_` and a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryId(pub i64);

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "dlv_{}", self.0)
    }
}

impl FromStr for DeliveryId {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix("dlv_")
            .and_then(|n| n.parse::<i64>().ok())
            .filter(|n| *n > 0)
            .map(DeliveryId)
            .ok_or_else(|| Invalid::new("delivery_id", "must look like dlv_123"))
    }
}

impl Serialize for DeliveryId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One delivery as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub event_id: String,
    pub webhook_id: String,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Option<Millis>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// One HTTP request of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub attempt_no: i64,
    pub started_at: Millis,
    pub duration_ms: i64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    /// The start of the answer's body, cut to [`RESPONSE_SNIPPET_BYTES`].
    pub response_body: Option<String>,
}

/// How much of a target's answer is kept per attempt.
pub const RESPONSE_SNIPPET_BYTES: usize = 4096;

/// Filters for listing deliveries.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub webhook_id: Option<String>,
    pub event_type: Option<EventType>,
    /// Only deliveries of the event with this `event_unique_id`.
    pub event_unique_id: Option<String>,
    /// Only deliveries of events about this chat (`chat.id`).
    pub chat_id: Option<String>,
    /// Only deliveries of events about this visitor (`visitor.id`).
    pub visitor_id: Option<String>,
    /// Only deliveries with an id below this (the cursor of the previous page).
    pub before: Option<DeliveryId>,
    /// Only deliveries with an id above this, oldest first (the live tail's cursor); without it
    /// the newest come first.
    pub after: Option<DeliveryId>,
    pub limit: usize,
}

impl DeliveryFilter {
    /// Whether the filter looks deliveries up through their events (by `event_unique_id`, chat
    /// or visitor), whose indexes find the few that match without reading the others.
    pub fn by_event(&self) -> bool {
        self.event_unique_id.is_some() || self.chat_id.is_some() || self.visitor_id.is_some()
    }
}

/// Whether deliveries can be found by this chat or visitor id: what [`parse_find_id`] takes.
/// An event's ids are stored for finding only when they are (a longer one could never be asked
/// for, and would not fit every index).
pub fn findable(text: &str) -> bool {
    let count = text.chars().count();
    count > 0 && count <= MAX_FIND_ID && !text.chars().any(char::is_control)
}

/// The longest chat or visitor id a delivery can be found by.
const MAX_FIND_ID: usize = 200;

/// A chat or visitor id to find deliveries by (`field` names which): 1 to 200 characters, no
/// control characters, matched exactly as the producer sent it.
pub fn parse_find_id(field: &str, text: String) -> Result<String, Invalid> {
    if !findable(&text) {
        return Err(Invalid::new(
            field,
            format!("must be 1 to {MAX_FIND_ID} characters without control characters"),
        ));
    }
    Ok(text)
}

/// An `event_unique_id` to find deliveries by: 32 lowercase hex characters.
pub fn parse_event_unique_id(text: String) -> Result<String, Invalid> {
    match super::secret::is_hex32(&text) {
        true => Ok(text),
        false => Err(Invalid::new(
            "event_unique_id",
            "must be 32 lowercase hex characters",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_ids_are_taken_exactly_and_refused_when_empty_long_or_with_control_characters() {
        let long = "x".repeat(201);
        for (text, ok) in [
            ("C1", true),
            (" C 1 ", true),
            ("é".repeat(200).as_str(), true),
            ("", false),
            (long.as_str(), false),
            ("a\nb", false),
        ] {
            let parsed = parse_find_id("chat_id", text.to_string());
            assert_eq!(parsed.is_ok(), ok, "{text:?}");
            if ok {
                assert_eq!(parsed.unwrap(), text);
            }
        }
        assert!(parse_event_unique_id("0123456789abcdef0123456789abcdef".into()).is_ok());
        for bad in ["0123456789ABCDEF0123456789ABCDEF", "abc", ""] {
            assert_eq!(
                parse_event_unique_id(bad.into()).unwrap_err().field,
                "event_unique_id"
            );
        }
    }

    #[test]
    fn delivery_ids_round_trip() {
        let id: DeliveryId = "dlv_42".parse().unwrap();
        assert_eq!(id, DeliveryId(42));
        assert_eq!(id.to_string(), "dlv_42");
        assert!("42".parse::<DeliveryId>().is_err());
        assert!("dlv_-1".parse::<DeliveryId>().is_err());
    }

    #[test]
    fn statuses_round_trip_through_codes_and_names() {
        for s in [
            DeliveryStatus::Pending,
            DeliveryStatus::Succeeded,
            DeliveryStatus::Failed,
        ] {
            assert_eq!(DeliveryStatus::from_code(s.code()), s);
            assert_eq!(s.as_str().parse::<DeliveryStatus>().unwrap(), s);
        }
        assert!("done".parse::<DeliveryStatus>().is_err());
    }
}
