//! The operational events hookrelay produces about its own webhooks and deliveries
//! (`webhook_disabled`, `delivery_failed`), built as ordinary [`NewEvent`]s so that they go
//! through the same ingest, fan-out, retries and wire format as any other event.
//!
//! Each carries an idempotency key made from what it is about, with spaces, which a producer's
//! `Idempotency-Key` can never contain: producing the same event twice (a crash between the
//! ingest and clearing its notice, two nodes at once) stores it once.

use livechat_webhooks::{EventType, Sections};
use serde_json::json;

use super::delivery::Delivery;
use super::event::NewEvent;
use super::webhook::Webhook;
use super::{rfc3339, secret};

/// The `webhook_disabled` event for a webhook hookrelay disabled.
pub fn webhook_disabled(webhook: &Webhook) -> NewEvent {
    let section = json!({
        "id": webhook.id,
        "url": webhook.url.redacted(),
        "event_type": webhook.event_type,
        "disabled_reason": webhook.disabled_reason,
        "disabled_at": webhook.disabled_at.map(rfc3339),
    });
    let key = format!(
        "hookrelay webhook_disabled {} {}",
        webhook.id,
        webhook.disabled_at.unwrap_or_default()
    );
    operational(EventType::WebhookDisabled, section.to_string(), key)
}

/// The `delivery_failed` event for a delivery that failed for good. A delivery resent and failed
/// again is a new failure (its attempt count differs), so it gets a new event.
pub fn delivery_failed(delivery: &Delivery) -> NewEvent {
    let section = json!({
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "event_type": delivery.event_type,
        "event_unique_id": delivery.event_id,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
    });
    let key = format!(
        "hookrelay delivery_failed {} {}",
        delivery.id, delivery.attempts
    );
    operational(EventType::DeliveryFailed, section.to_string(), key)
}

fn operational(event_type: EventType, section: String, key: String) -> NewEvent {
    let mut sections = Sections::default();
    *sections.slot(event_type.primary_data_type()) = Some(section);
    NewEvent {
        event_type,
        unique_id: secret::random_hex(16),
        sections,
        chat_tags: None,
        visitor_id: None,
        idempotency_key: Some(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::delivery::{DeliveryId, DeliveryStatus};
    use crate::domain::target::TargetUrl;
    use livechat_webhooks::{DataTypes, WebhookPayload};

    fn parsed(event: &NewEvent) -> WebhookPayload {
        let body = livechat_webhooks::compose_body(
            event.event_type,
            "t",
            "1",
            &event.unique_id,
            &event.sections,
            DataTypes::all_for(event.event_type),
        );
        serde_json::from_str(&body).unwrap()
    }

    #[test]
    fn a_webhook_disabled_event_redacts_the_password_and_carries_the_reason() {
        let webhook = Webhook {
            id: "w1".into(),
            license_id: "1".into(),
            url: TargetUrl::parse("https://user:secret@example.com/hook").unwrap(),
            event_type: EventType::ChatEnded,
            data_types: DataTypes::EMPTY,
            description: None,
            enabled: false,
            created_at: 0,
            updated_at: 0,
            health: Default::default(),
            signing: None,
            disabled_reason: Some("because".into()),
            disabled_at: Some(1_000),
            session: None,
        };
        let event = webhook_disabled(&webhook);
        let section = parsed(&event).webhook.unwrap();
        assert_eq!(section.id, "w1");
        assert!(!section.url.contains("secret"), "{}", section.url);
        assert_eq!(section.event_type, EventType::ChatEnded);
        assert_eq!(section.disabled_reason.as_deref(), Some("because"));
        assert_eq!(
            section.disabled_at.as_deref(),
            Some("1970-01-01T00:00:01.000Z")
        );
        assert_eq!(
            event.idempotency_key.as_deref(),
            Some("hookrelay webhook_disabled w1 1000")
        );
        assert!(super::super::event::parse_idempotency_key("hookrelay webhook_disabled").is_err());
    }

    #[test]
    fn a_delivery_failed_event_describes_the_delivery() {
        let delivery = Delivery {
            id: DeliveryId(42),
            event_id: "e".repeat(32),
            webhook_id: "w1".into(),
            event_type: EventType::VisitorQueued,
            status: DeliveryStatus::Failed,
            attempts: 4,
            next_attempt_at: None,
            last_status_code: Some(500),
            last_error: Some("HTTP 500".into()),
            created_at: 0,
            updated_at: 0,
        };
        let event = delivery_failed(&delivery);
        let section = parsed(&event).delivery.unwrap();
        assert_eq!(section.id, "dlv_42");
        assert_eq!(section.event_unique_id, "e".repeat(32));
        assert_eq!(section.attempts, 4);
        assert_eq!(section.last_status_code, Some(500));
        assert_eq!(
            event.idempotency_key.as_deref(),
            Some("hookrelay delivery_failed dlv_42 4")
        );
    }
}
