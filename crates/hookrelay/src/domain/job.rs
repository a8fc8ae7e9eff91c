//! What the delivery engine passes around: a delivery ready to be attempted ([`DeliveryJob`]) and
//! the record of one finished attempt ([`AttemptRecord`]) with what happens to the delivery next
//! ([`Outcome`]). Plain values: the store builds jobs and writes records, the engine moves them.

use std::sync::Arc;

use bytes::Bytes;
use livechat_webhooks::EventType;

use super::delivery::{Attempt, DeliveryId};
use super::signing::SigningKeys;
use super::Millis;

/// One attempt to make: everything the sender needs, with the body already composed.
#[derive(Debug, Clone)]
pub struct DeliveryJob {
    pub id: DeliveryId,
    /// The number this attempt will have (1 for the first).
    pub attempt_no: i64,
    pub license_id: String,
    pub webhook_id: String,
    pub event_type: EventType,
    /// The target URL as stored, credentials included.
    pub url: String,
    pub body: Bytes,
    /// Until when this node holds the delivery: an attempt that could not end before then is not
    /// started (another node may take the delivery once the lease is over).
    pub lease_until: Millis,
    /// How to sign it, when its webhook signs (`None`: sent without `webhook-*` headers).
    pub signing: Option<JobSigning>,
}

/// What a signing webhook's attempts are signed with: its keys, as read with the delivery, and
/// the message id, the event's `event_unique_id` (the same on every attempt and resend). Each
/// attempt signs with the keys valid at its own time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSigning {
    pub keys: Arc<SigningKeys>,
    pub message_id: String,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    RetryAt(Millis),
    Failed,
}

/// One finished attempt, to be recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: DeliveryId,
    /// Its delivery's license, whose dashboard counters the attempt adds to.
    pub license_id: String,
    /// Its delivery's webhook, whose failure streak the attempt extends or ends.
    pub webhook_id: String,
    pub attempt: Attempt,
    pub outcome: Outcome,
    /// The key of the target the attempt went to ([`super::target::TargetUrl::key`]), so that
    /// its answer (or silence) updates that target's health; `None` when nothing was sent.
    pub target_key: Option<Arc<str>>,
}

impl AttemptRecord {
    /// When the attempt ended.
    pub fn ended_at(&self) -> Millis {
        self.attempt.started_at + self.attempt.duration_ms
    }

    /// Whether the target answered at all (any HTTP status, even an error).
    pub fn answered(&self) -> bool {
        self.attempt.status_code.is_some()
    }
}
