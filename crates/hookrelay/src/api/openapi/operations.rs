//! Every route of the HTTP surface as an OpenAPI operation, grouped as the routers are.

use serde_json::{json, Value};

use super::builder::{reference, Op};
use super::rules;
use livechat_webhooks::{DataType, EventType};

/// All operations, in the order they appear in the document.
pub fn all() -> Vec<Op> {
    let mut ops = Vec::new();
    ops.extend(licenses());
    ops.extend(webhooks());
    ops.extend(events());
    ops.extend(deliveries());
    ops.extend(listen());
    ops.extend(super::dashboard::operations());
    ops.extend(livechat_v2());
    ops.extend(operations());
    ops.extend(console());
    ops
}

fn cursor_query(op: Op, what: &str, cursor: Value, max: u32) -> Op {
    op.query(
        "cursor",
        cursor,
        &format!("The `next_cursor` of the previous page; omit for the newest {what}."),
    )
    .query(
        "limit",
        json!({"type": "integer", "minimum": 1, "maximum": max}),
        "Page size.",
    )
}

/// A webhook's operations, from an answer that is the webhook.
fn webhook_link() -> Value {
    json!({"license_id": "$response.body#/license_id", "id": "$response.body#/id"})
}

fn licenses() -> Vec<Op> {
    vec![
        Op::new(
            "post",
            "/v1/licenses",
            "createLicense",
            "licenses",
            "Create a license (admin)",
        )
        .describe("Answers the license with its `api_key` (shown only here) and webhook `token`.")
        .bearer()
        .json_body("NewLicense")
        .json(201, "The new license and its secrets.", "CreatedLicense")
        .errors(&[400, 409, 422])
        .links(
            201,
            &[
                "getLicense",
                "createWebhook",
                "listWebhooks",
                "ingestEvent",
                "ingestEvents",
                "listDeliveries",
                "getDashboard",
                "recoverDeliveries",
                "getVisitorDetails",
            ],
            json!({"license_id": "$response.body#/license_id"}),
        ),
        cursor_query(
            Op::new(
                "get",
                "/v1/licenses",
                "listLicenses",
                "licenses",
                "List licenses (admin)",
            )
            .describe("Licenses in `license_id` order, a page at a time.")
            .bearer(),
            "licenses",
            rules::license_id(),
            1000,
        )
        .json(200, "A page of licenses.", "LicenseList")
        .errors(&[422]),
        Op::new(
            "get",
            "/v1/licenses/{license_id}",
            "getLicense",
            "licenses",
            "Read a license",
        )
        .describe("Without secrets.")
        .bearer()
        .json(200, "The license.", "License")
        .errors(&[404]),
    ]
}

fn webhooks() -> Vec<Op> {
    let base = "/v1/licenses/{license_id}/webhooks";
    vec![
        Op::new("post", base, "createWebhook", "webhooks", "Create a webhook")
            .describe("Data types the event does not carry are refused with 422, naming the allowed ones. With `\"signing\": true` the answer carries the new `signing_secret`, shown only there.")
            .bearer()
            .json_body("WebhookInput")
            .json(201, "The webhook (its URL's password redacted).", "Webhook")
            .errors(&[400, 404, 422])
            .links(201, &["getWebhook", "changeWebhook", "deleteWebhook", "testWebhook", "rotateSigningSecret"], webhook_link())
            .links(201, &["listDeliveries"], json!({"license_id": "$response.body#/license_id", "webhook_id": "$response.body#/id"}))
            .links(201, &["ingestEvent", "recoverDeliveries"], json!({"license_id": "$response.body#/license_id"})),
        Op::new("get", base, "listWebhooks", "webhooks", "List webhooks")
            .bearer()
            .json(200, "Every webhook of the license.", "WebhookList")
            .errors(&[404]),
        Op::new("get", "/v1/licenses/{license_id}/webhooks/{id}", "getWebhook", "webhooks", "Read a webhook")
            .bearer()
            .json(200, "The webhook.", "Webhook")
            .errors(&[404]),
        Op::new("patch", "/v1/licenses/{license_id}/webhooks/{id}", "changeWebhook", "webhooks", "Change a webhook")
            .describe("Changes the URL, data types, description, enabled flag or signing; absent fields are kept. When `signing` becomes true the answer carries the new `signing_secret` (shown only there); `\"signing\": false` drops the webhook's secrets. A URL on another target (scheme, host, port) or re-enabling also makes the deliveries parked while the old target did not answer due now, on every node, and nothing held in memory for the old URL is sent there. The answer carries the webhook's `target_health`.")
            .bearer()
            .json_body("WebhookPatch")
            .json(200, "The webhook as it is now.", "Webhook")
            .errors(&[400, 404, 409, 422])
            .links(200, &["getWebhook", "testWebhook", "rotateSigningSecret", "deleteWebhook"], webhook_link()),
        Op::new("delete", "/v1/licenses/{license_id}/webhooks/{id}", "deleteWebhook", "webhooks", "Delete a webhook")
            .describe("Its pending deliveries become failed.")
            .bearer()
            .answer(204, "Deleted.", None)
            .errors(&[404]),
        Op::new("post", "/v1/licenses/{license_id}/webhooks/{id}/test", "testWebhook", "webhooks", "Send a test")
            .describe("Sends a realistic sample payload to the target now, without storing a delivery, and answers what came back.")
            .bearer()
            .json(200, "The attempt and the target's answer.", "TestResult")
            .errors(&[404]),
        Op::new("post", "/v1/licenses/{license_id}/webhooks/{id}/signing-secret", "rotateSigningSecret", "webhooks", "Rotate the signing secret")
            .describe("Makes a new signing secret, answered here only. The previous secrets stay valid until their grace period ends (`grace`, default `24h`, at most `7d`; at most 5 secrets are valid at once), and every attempt meanwhile carries one `v1,` signature per valid secret in `webhook-signature`. 409 when the webhook does not sign.")
            .bearer()
            .optional_json_body("SigningRotation")
            .json(200, "The webhook, its new `signing_secret` and when the previous secrets stop being valid.", "Webhook")
            .errors(&[400, 404, 409, 422]),
    ]
}

fn events() -> Vec<Op> {
    vec![
        Op::new(
            "post",
            "/v1/licenses/{license_id}/events",
            "ingestEvent",
            "events",
            "Ingest one event",
        )
        .describe(
            "Answers 202 only after the event and its deliveries are durably stored. The \
             operational event types (`webhook_disabled`, `delivery_failed`) are produced by \
             hookrelay only: posting one is a 400 naming `event_type`.",
        )
        .bearer()
        .header(
            "Idempotency-Key",
            false,
            rules::idempotency_key(),
            "Deduplicates producer retries: the same key answers the first result with 200.",
        )
        .json_body("EventInput")
        .json(202, "Stored; deliveries are under way.", "Ingested")
        .links(
            202,
            &["listDeliveries"],
            json!({"license_id": "$request.path.license_id"}),
        )
        .json(
            200,
            "A duplicate of an earlier event with the same Idempotency-Key.",
            "Ingested",
        )
        .errors(&[400, 404, 413, 422, 503]),
        Op::new(
            "post",
            "/v1/licenses/{license_id}/events/batch",
            "ingestEvents",
            "events",
            "Ingest a batch of events",
        )
        .describe(
            "All events in one durable commit. An operational event type anywhere refuses the \
             batch (400 naming `events[i].event_type`).",
        )
        .bearer()
        .json_body("EventBatch")
        .json(202, "Stored.", "IngestedBatch")
        .errors(&[400, 404, 413, 422, 503]),
    ]
}

fn deliveries() -> Vec<Op> {
    let list = Op::new(
        "get",
        "/v1/licenses/{license_id}/deliveries",
        "listDeliveries",
        "deliveries",
        "List deliveries",
    )
    .describe("Newest first, cursor-paginated. Filters combine; `event_unique_id`, `chat_id` and `visitor_id` find a delivery without reading the others.")
    .bearer()
    .query(
        "status",
        json!({"type": "string", "enum": ["pending", "succeeded", "failed"]}),
        "Only deliveries in this state.",
    )
    .query(
        "webhook_id",
        json!({"type": "string"}),
        "Only deliveries of this webhook.",
    )
    .query(
        "event_type",
        reference("EventType"),
        "Only deliveries of this event type.",
    )
    .query(
        "event_unique_id",
        rules::event_unique_id(),
        "Only the deliveries of the event with this `event_unique_id` (found through an index).",
    )
    .query(
        "chat_id",
        rules::find_id(),
        "Only deliveries of events about this chat (`chat.id`, exactly as sent; found through an index).",
    )
    .query(
        "visitor_id",
        rules::find_id(),
        "Only deliveries of events about this visitor (`visitor.id`, exactly as sent; found through an index).",
    );
    vec![
        cursor_query(list, "deliveries", rules::delivery_id(), 500)
            .json(200, "A page of deliveries.", "DeliveryList")
            .links(200, &["getDelivery", "resendDelivery"], json!({
                "license_id": "$request.path.license_id", "id": "$response.body#/deliveries/0/id",
            }))
            .errors(&[404, 422]),
        Op::new("get", "/v1/licenses/{license_id}/deliveries/{id}", "getDelivery", "deliveries", "Read a delivery")
            .describe("With the exact body sent and every attempt. A delivery whose target did not answer for the whole retry window ends with an attempt that was not sent: no status code, 0 ms, and an error starting `not sent:`.")
            .bearer()
            .json(200, "The delivery.", "DeliveryDetail")
            .errors(&[404]),
        Op::new("post", "/v1/licenses/{license_id}/deliveries/{id}/resend", "resendDelivery", "deliveries", "Redeliver")
            .describe("Makes the delivery pending and attempts it now; new attempts are added to the same delivery.")
            .bearer()
            .json(202, "Resending.", "Resending")
            .errors(&[404, 409]),
        Op::new("post", "/v1/licenses/{license_id}/deliveries/recover", "recoverDeliveries", "deliveries", "Resend failed deliveries in bulk")
            .describe("Every failed delivery of the license (or of `webhook_id`) whose failure time is within `since`..`until` (inclusive) becomes pending and due now, keeping its attempts; they go out paced by the usual per-target limits, on every node. Deliveries of deleted webhooks are not recovered; those of a disabled webhook wait until it is enabled. `dry_run` answers the same count and changes nothing. Large recoveries are done in batches of 1,000, so ingest is not held up; the answer comes when all are pending.")
            .bearer()
            .json_body("RecoveryInput")
            .json(202, "The failed deliveries are pending again.", "RecoveryCount")
            .json(200, "Dry run: how many would be resent; nothing changed.", "RecoveryCount")
            .errors(&[400, 404, 422]),
    ]
}

fn livechat_v2() -> Vec<Op> {
    let version = |op: Op| {
        op.header(
            "X-API-Version",
            true,
            json!({"type": "string", "const": "2"}),
            "LiveChat API version 2.",
        )
    };
    let form_or_json = |form: &str, json_schema: &str| {
        json!({
            "application/x-www-form-urlencoded": {"schema": reference(form)},
            "application/json": {"schema": reference(json_schema)},
        })
    };
    vec![
        version(Op::new("get", "/webhooks", "v2ListWebhooks", "livechat-v2", "List webhooks (LiveChat v2)"))
            .basic()
            .json(200, "The license's webhooks in LiveChat v2's shape.", "V2WebhookList")
            .v2_errors(&[400, 401]),
        version(Op::new("post", "/webhooks", "v2CreateWebhook", "livechat-v2", "Create a webhook (LiveChat v2)"))
            .describe("`data_types[]` or PHP's indexed `data_types[0]`, `data_types[1]` are both accepted.")
            .basic()
            .body(form_or_json("V2WebhookForm", "V2WebhookInput"))
            .json(200, "The new webhook in LiveChat v2's shape: `{\"events\": [{...}]}`.", "V2WebhookList")
            .v2_errors(&[400, 401]),
        version(Op::new("delete", "/webhooks/{id}", "v2DeleteWebhook", "livechat-v2", "Delete a webhook (LiveChat v2)"))
            .basic()
            .json(200, "`{\"result\": \"Push notification removed successfully\"}`.", "V2Result")
            .v2_errors(&[400, 401, 404]),
        version(Op::new("post", "/visitors/{visitor_id}/details", "v2AddVisitorDetails", "livechat-v2", "Add visitor details (LiveChat v2 Visitors API)"))
            .describe("The credentials are the `license_id` and `token` from the webhook body. The same `id` for the same visitor replaces the earlier set.")
            .public()
            .body(form_or_json("VisitorDetailsForm", "VisitorDetailsInput"))
            .json(200, "`{\"result\": \"Visitor details added\"}`.", "V2Result")
            .v2_errors(&[400, 401]),
        Op::new("get", "/v1/licenses/{license_id}/visitors/{visitor_id}/details", "getVisitorDetails", "visitors", "Read visitor details")
            .describe("The detail sets integrations pushed for this visitor.")
            .bearer()
            .json(200, "The visitor's detail sets, oldest first; empty when none were pushed.", "VisitorDetails")
            .errors(&[404, 422]),
    ]
}

fn operations() -> Vec<Op> {
    let status = |op: Op| op.public().json(200, "The process answers.", "Status");
    vec![
        status(Op::new(
            "get",
            "/healthz",
            "healthz",
            "operations",
            "Liveness",
        )),
        Op::new("get", "/readyz", "readyz", "operations", "Readiness")
            .describe("503 while the database does not answer.")
            .public()
            .json(200, "Ready to serve.", "Status")
            .json(503, "The database does not answer.", "Status"),
        Op::new(
            "get",
            "/metrics",
            "metrics",
            "operations",
            "Prometheus metrics",
        )
        .public()
        .answer(
            200,
            "Metrics in the Prometheus text format.",
            Some(json!({"text/plain": {"schema": {"type": "string"}}})),
        ),
        Op::new(
            "get",
            "/openapi.json",
            "openapi",
            "operations",
            "This document",
        )
        .public()
        .answer(
            200,
            "The OpenAPI 3.1 document.",
            Some(json!({"application/json": {"schema": {"type": "object"}}})),
        ),
    ]
}

fn listen() -> Vec<Op> {
    let event_types: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    let data_types: Vec<&str> = DataType::ALL.iter().map(|d| d.as_str()).collect();
    vec![Op::new("get", "/v1/listen", "listen", "listen", "Open a listen session (WebSocket)")
        .describe("The WebSocket of `hookrelay listen --server`: while it is open, the license has a session webhook (`\"kind\": \"cli\"`) for each event type asked for, and each delivery to them is pushed over the socket as `{\"type\": \"delivery\", \"push_id\", \"delivery_id\", \"headers\", \"body\", …}` after a first `{\"type\": \"ready\", \"session_id\", \"webhooks\", \"signing_secret\", …}`. The command answers each with `{\"type\": \"ack\", \"push_id\", \"status\" | \"error\"}`: that is the attempt's outcome (only 200 delivers). A session whose socket closes keeps its webhooks and pending deliveries for `cli_session_grace`; reconnecting with `session` (or the same label and events) takes it up again. A license's API key listens to its license; the admin token names one with `license_id`. Without the WebSocket upgrade the answer is 426.")
        .bearer()
        .query("events", rules::name_list(&event_types, "event types (default: all)"), "Which event types to receive.")
        .query("data_types", rules::name_list(&data_types, "data types"), "Which data types the bodies carry; each event type takes those it supports (default: all it supports).")
        .query("label", json!({"type": "string", "maxLength": 200}), "What the session's webhooks are described as (the command sends its host and `--forward-to`).")
        .query("session", json!({"type": "string", "pattern": "^ses_[0-9a-f]{24}$"}), "The session to take up again after a reconnection.")
        .query("license_id", rules::license_id(), "With the admin token: the license to listen to.")
        .answer(101, "Switching to the WebSocket.", None)
        .errors(&[400, 401, 403, 404, 409, 422, 426, 503])]
}

fn console() -> Vec<Op> {
    let html = || Some(json!({"text/html": {"schema": {"type": "string"}}}));
    vec![
        Op::new("get", "/", "root", "console", "Redirects to the console")
            .public()
            .answer(303, "To `/console`.", None),
        Op::new("get", "/console", "console", "console", "The web console")
            .describe("Sign in with a license's ID and API key or the admin token; the page calls the `/v1` API.")
            .public()
            .answer(200, "The console's page.", html()),
        Op::new("get", "/console/support-matrix.json", "consoleSupportMatrix", "console", "Which data types each event type carries")
            .public()
            .json(200, "The support matrix the API enforces.", "SupportMatrix"),
        Op::new("get", "/console/{asset}", "consoleAsset", "console", "A file of the console")
            .public()
            .answer(200, "The file (CSS or JavaScript).", Some(json!({
                "text/css": {"schema": {"type": "string"}},
                "text/javascript": {"schema": {"type": "string"}},
            })))
            .errors(&[404]),
    ]
}
