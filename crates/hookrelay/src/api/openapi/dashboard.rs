//! The console's "at a glance" routes in the document: the dashboard (`getDashboard`) and the
//! live tail (`tailDeliveries`), their operations and their shapes.

use serde_json::{json, Map, Value};

use super::builder::{reference, Op};
use super::rules;
use super::schemas::{nullable, object, time};

pub fn operations() -> Vec<Op> {
    vec![
        Op::new("get", "/v1/licenses/{license_id}/dashboard", "getDashboard", "deliveries", "The license at a glance")
            .describe("Attempts per step of the window (`1h`: 60 one-minute points; `24h`: 96 points of 15 minutes), oldest first, the last one holding now: `succeeded`, `retried` (failed, to be retried) and `failed` (the delivery failed for good, given-up parked deliveries included). Per webhook over the same window: its counts, `success_rate` (succeeded over all attempts; null without attempts), `p50_ms` and `p99_ms` (the bound of the duration bucket the percentile falls in, from 16 buckets 1, 2, 5, … 50,000 ms; 50000 means 50 s or more; null without attempts sent), `last_attempt_at` (as far as counters are kept: the retention, at least two days) and `target_health`. Computed from per-minute counters written with the attempts, not from the history.")
            .bearer()
            .query("window", json!({"type": "string", "enum": ["1h", "24h"], "default": "1h"}), "The span shown.")
            .json(200, "The dashboard.", "Dashboard")
            .errors(&[404, 422]),
        Op::new("get", "/v1/licenses/{license_id}/deliveries/tail", "tailDeliveries", "deliveries", "Follow deliveries live")
            .describe("Server-Sent Events (`text/event-stream`). `ready` (data `{\"after\"}`) once the tail watches; then `delivery` (data: the delivery as the list shows it, `id:` its id) when a delivery of the license is created, on any node, and again whenever an attempt moves it on (followed for the 200 newest); `: heartbeat` comments every 15 s while nothing happens; `end` (data `{\"reason\": \"time_limit\" | \"server_stopping\"}`) when it closes. The store is read every 500 ms. At most 32 tails are open on a server at once, 8 per license (429 beyond). Reconnecting with `Last-Event-ID` (the last `id:` received) resumes after it: the 200 deliveries before it are shown again as they are now, then everything that followed. Send the `Authorization` header as with every call (the console reads the stream with `fetch`, so the key never goes into a URL).")
            .bearer()
            .query("seconds", json!({"type": "integer", "minimum": 1, "maximum": 3600, "default": 600}), "How long the tail stays open; open a new one after `end`.")
            .answer(200, "The event stream; each event as the schema shows it.", Some(json!({"text/event-stream": {"schema": reference("TailEvent")}})))
            .errors(&[404, 422, 429]),
    ]
}

pub fn schemas() -> Map<String, Value> {
    let count = || json!({"type": "integer", "minimum": 0});
    let point = object(
        &["start", "succeeded", "retried", "failed"],
        json!({
            "start": time(), "succeeded": count(), "retried": count(), "failed": count(),
        }),
    );
    let webhook = object(
        &[
            "webhook_id",
            "event_type",
            "url",
            "enabled",
            "succeeded",
            "retried",
            "failed",
            "success_rate",
            "p50_ms",
            "p99_ms",
            "last_attempt_at",
            "target_health",
        ],
        json!({
            "webhook_id": rules::webhook_id(),
            "event_type": reference("EventType"),
            "url": {"type": "string", "description": "Its password redacted (`user:***@`)."},
            "enabled": {"type": "boolean"},
            "succeeded": count(), "retried": count(), "failed": count(),
            "success_rate": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "p50_ms": nullable("integer"),
            "p99_ms": nullable("integer"),
            "last_attempt_at": {"type": ["string", "null"], "format": "date-time"},
            "target_health": reference("TargetHealth"),
        }),
    );
    let dashboard = object(
        &[
            "window",
            "from",
            "until",
            "step_seconds",
            "totals",
            "points",
            "webhooks",
        ],
        json!({
            "window": {"type": "string", "enum": ["1h", "24h"]},
            "from": time(), "until": time(),
            "step_seconds": {"type": "integer", "enum": [60, 900]},
            "totals": object(&["succeeded", "retried", "failed"], json!({
                "succeeded": count(), "retried": count(), "failed": count(),
            })),
            "points": {"type": "array", "items": reference("DashboardPoint")},
            "webhooks": {"type": "array", "items": reference("DashboardWebhook")},
        }),
    );
    let event = json!({
        "type": "object",
        "required": ["event", "data"],
        "description": "One event of the live tail. `data` is JSON: `ready` `{\"after\"}` (the delivery id the tail follows from), `delivery` a `Delivery` (its `id` also the event's `id`), `end` `{\"reason\"}`.",
        "properties": {
            "event": {"type": "string", "enum": ["ready", "delivery", "end"]},
            "data": {"type": "string", "contentMediaType": "application/json"},
            "id": rules::delivery_id(),
        },
    });
    let mut all = Map::new();
    all.insert("TailEvent".into(), event);
    all.insert("Dashboard".into(), dashboard);
    all.insert("DashboardPoint".into(), point);
    all.insert("DashboardWebhook".into(), webhook);
    all
}
