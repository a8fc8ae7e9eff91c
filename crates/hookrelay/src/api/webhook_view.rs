//! A webhook as the API shows it (the native API, the console, the dashboard): its URL redacted,
//! its target's health, and for a listen session's, the session.

use serde_json::{json, Value};

use crate::domain::health::Health;
use crate::domain::webhook::Webhook;

use crate::domain::rfc3339;

/// A webhook as shown: the URL's password is always redacted.
pub fn view(w: &Webhook) -> Value {
    json!({
        "id": w.id,
        "license_id": w.license_id,
        "url": w.url.redacted(),
        "event_type": w.event_type,
        "data_types": w.data_types,
        "description": w.description,
        "enabled": w.enabled,
        "disabled_reason": w.disabled_reason,
        "disabled_at": w.disabled_at.map(rfc3339),
        "signing": w.signing.is_some(),
        "created_at": rfc3339(w.created_at),
        "updated_at": rfc3339(w.updated_at),
        "target_health": health_view(&w.health),
        "kind": w.kind(),
        "session": w.url.session_id().map(|id| json!({
            "id": id,
            "started_at": rfc3339(w.created_at),
            "connected": w.session.as_ref().is_some_and(|s| s.node.is_some()),
        })),
    })
}

/// A target's health as shown: `answering` or `silent`, with since when, the next probe and the
/// last error (`null` where unknown or not applicable).
pub fn health_view(h: &Health) -> Value {
    json!({
        "state": if h.is_silent() { "silent" } else { "answering" },
        "silent_since": h.silent_since.map(rfc3339),
        "next_probe_at": h.next_probe_at().map(rfc3339),
        "last_error": h.last_error,
    })
}
