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
    /// Only deliveries with an id below this (the cursor of the previous page).
    pub before: Option<DeliveryId>,
    pub limit: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

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
