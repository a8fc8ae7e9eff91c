//! The shapes of requests and answers (`components` of the document). Event and data type
//! names are taken from `livechat_webhooks`, the table the API itself enforces.

use livechat_webhooks::{DataType, EventType};
use serde_json::{json, Map, Value};

use super::builder::reference;
use super::{rules, sections};

pub fn components() -> Value {
    json!({
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer",
                "description": "The admin token (everything) or a license's API key (that license's resources)."},
            "v2BasicAuth": {"type": "http", "scheme": "basic",
                "description": "LiveChat v2 style: `login:api_key` of the license."},
        },
        "responses": error_responses(),
        "schemas": schemas(),
    })
}

fn error_responses() -> Value {
    let mut responses = Map::new();
    for (status, meaning) in [
        (
            400,
            "The request is malformed (not one JSON object, a bad path parameter, ...), or posts \
             an event type produced by hookrelay only (`error.field` names it).",
        ),
        (401, "No or wrong credentials."),
        (
            403,
            "The credentials are for another license, or not the admin's.",
        ),
        (404, "No such resource."),
        (409, "The request conflicts with the current state."),
        (
            429,
            "A bounded resource is taken (the live tails of a server); try again later.",
        ),
        (408, "The body did not arrive within `body_read_timeout`."),
        (
            413,
            "The body is, or is declared (`Content-Length`) to be, larger than `max_body_bytes`.",
        ),
        (422, "A field broke a rule; `error.field` names it."),
        (
            426,
            "The route opens a WebSocket and the request did not ask to upgrade.",
        ),
        (
            503,
            "The database is unavailable (nothing was stored, try again), or a limit of this \
             node is reached (the message says which).",
        ),
    ] {
        responses.insert(
            format!("Error{status}"),
            json!({"description": meaning, "content": {"application/json": {"schema": reference("Error")}}}),
        );
    }
    for (status, meaning) in [
        (
            400,
            "A bad parameter (named by `field`), or a missing or wrong `X-API-Version`.",
        ),
        (
            401,
            "Wrong credentials (`login:api_key`, or `license_id` and `token`).",
        ),
        (404, "No such webhook."),
    ] {
        responses.insert(
            format!("V2Error{status}"),
            json!({"description": meaning, "content": {"application/json": {"schema": reference("V2Error")}}}),
        );
    }
    Value::Object(responses)
}

pub(super) fn nullable(kind: &str) -> Value {
    json!({"type": [kind, "null"]})
}

pub(super) fn time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

/// `schema` or `null`, which the server reads as absent.
fn or_null(schema: Value) -> Value {
    json!({"oneOf": [{"type": "null"}, schema]})
}

pub(super) fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

fn schemas() -> Value {
    let mut all = Map::new();
    for group in [common(), webhooks(), events(), deliveries(), livechat_v2()] {
        if let Value::Object(map) = group {
            all.extend(map);
        }
    }
    all.extend(sections::schemas());
    all.extend(super::dashboard::schemas());
    for event_type in EventType::ALL {
        all.insert(
            format!("WebhookInput_{}", event_type.as_str()),
            webhook_input(event_type),
        );
    }
    Value::Object(all)
}

fn common() -> Value {
    let event_types: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
    let data_types: Vec<&str> = DataType::ALL.iter().map(|d| d.as_str()).collect();
    let matrix: Map<String, Value> = EventType::ALL
        .iter()
        .map(|e| {
            let carried: Vec<&str> = e
                .supported_data_types()
                .iter()
                .map(|d| d.as_str())
                .collect();
            (e.as_str().to_string(), json!(carried))
        })
        .collect();
    json!({
        "EventType": {"type": "string", "enum": event_types,
            "description": "`webhook_disabled` and `delivery_failed` are operational: hookrelay produces them about the license's own webhooks and deliveries (a webhook may subscribe to them; a producer may not post them)."},
        "DataType": {"type": "string", "enum": data_types,
            "description": format!("Which event types carry which data types: {}", Value::Object(matrix))},
        "Error": object(&["error"], json!({"error": object(&["code", "message"], json!({
            "code": {"type": "string", "examples": ["invalid_field"]},
            "message": {"type": "string"},
            "field": {"type": "string", "description": "The field that broke a rule (422), or the operational `event_type` a producer may not post (400)."},
        }))})),
        "Status": object(&["status"], json!({"status": {"type": "string"}, "reason": {"type": "string"}})),
        "NewLicense": {"type": "object", "additionalProperties": false, "properties": {
            "license_id": or_null(rules::new_license_id()),
            "login": or_null(rules::login()),
        }, "description": "Absent (or null) fields are made: a random 8-digit `license_id`, the login `license-<license_id>`."},
        "License": object(&["license_id", "login", "created_at"], json!({
            "license_id": rules::license_id(), "login": {"type": "string"}, "created_at": time(),
        })),
        "CreatedLicense": {"allOf": [reference("License"), object(&["api_key", "token"], json!({
            "api_key": {"type": "string", "description": "Shown only in this answer."},
            "token": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
        }))]},
        "LicenseList": object(&["licenses", "next_cursor"], json!({
            "licenses": {"type": "array", "items": reference("License")},
            "next_cursor": or_null(rules::license_id()),
        })),
    })
}

/// A new webhook of `event_type`: its `data_types` are those the event type carries.
fn webhook_input(event_type: EventType) -> Value {
    let carried: Vec<&str> = event_type
        .supported_data_types()
        .iter()
        .map(|d| d.as_str())
        .collect();
    json!({"type": "object", "additionalProperties": false, "required": ["url", "event_type"], "properties": {
        "url": rules::target_url(),
        "event_type": {"const": event_type.as_str()},
        "data_types": {"type": "array", "items": {"type": "string", "enum": carried}},
        "description": rules::description(),
        "enabled": {"type": ["boolean", "null"], "default": true},
        "signing": {"type": "boolean", "default": false, "description": "Sign every request as the Standard Webhooks specification says (`webhook-id`, `webhook-timestamp`, `webhook-signature`). The answer carries the secret once."},
    }})
}

fn webhooks() -> Value {
    let inputs: Vec<Value> = EventType::ALL
        .iter()
        .map(|e| reference(&format!("WebhookInput_{}", e.as_str())))
        .collect();
    json!({
        "WebhookInput": {"oneOf": inputs, "description": "A new webhook; which `data_types` it may ask for depends on `event_type`."},
        "WebhookPatch": {"type": "object", "additionalProperties": false, "properties": {
            "url": or_null(rules::target_url()),
            "data_types": {"type": ["array", "null"], "items": reference("DataType"), "description": "Only those the webhook's event type carries; others are refused with 409 (they conflict with the webhook's `event_type`, which cannot change)."},
            "description": rules::description(),
            "enabled": {"type": ["boolean", "null"]},
            "signing": {"type": ["boolean", "null"], "description": "`true` starts signing with a new secret (shown in this answer only); `false` stops signing and drops the secrets."},
        }, "description": "Absent or null fields are kept, but a null `description` removes it."},
        "SigningRotation": {"type": "object", "additionalProperties": false, "properties": {
            "grace": {"default": "24h", "description": "How long the previous secrets stay valid, at most `7d`.", "allOf": [rules::grace()]},
        }},
        "TargetHealth": object(&["state", "silent_since", "next_probe_at", "last_error"], json!({
            "state": {"type": "string", "enum": ["answering", "silent"], "description": "`silent` after 3 attempts in a row got no answer (refused, timed out, broken off): the target is then only probed, one attempt at a time, and its other deliveries are parked until it answers. Shared by every webhook whose URL has the same scheme, host and port, and by every node."},
            "silent_since": {"type": ["string", "null"], "format": "date-time", "description": "When it went silent; null while it answers."},
            "next_probe_at": {"type": ["string", "null"], "format": "date-time", "description": "When the next probe goes; null while it answers or while a probe is under way."},
            "last_error": {"type": ["string", "null"], "description": "Why its last attempt got no answer; null once it answers."},
        })),
        "Webhook": object(&["id", "license_id", "kind", "url", "event_type", "data_types", "enabled", "disabled_reason", "disabled_at", "signing", "created_at", "updated_at", "target_health", "session"], json!({
            "id": rules::webhook_id(),
            "license_id": rules::license_id(),
            "kind": {"type": "string", "enum": ["http", "cli"], "description": "`http`: POSTed to its URL. `cli`: a session webhook of `hookrelay listen --server`, delivered over the command's connection (URL `cli://SESSION_ID`); it goes away a grace (`cli_session_grace`, 1 minute) after the command disconnects."},
            "url": {"type": "string", "description": "The password, if any, is shown as `***`."},
            "event_type": reference("EventType"),
            "data_types": {"type": "array", "items": reference("DataType")},
            "description": nullable("string"),
            "enabled": {"type": "boolean"},
            "disabled_reason": {"type": ["string", "null"], "description": "Why hookrelay disabled it: its target answered no HTTP 200 for `disable_after` (default 5 days) while its deliveries kept failing; the sentence says since when and the last status or error. Null while enabled or when disabled by hand; enabling it (`PATCH {\"enabled\": true}`) clears it and sends the deliveries held meanwhile."},
            "disabled_at": {"type": ["string", "null"], "format": "date-time", "description": "When hookrelay disabled it."},
            "signing": {"type": "boolean", "description": "Whether its requests are signed (Standard Webhooks). The secret itself is never shown here."},
            "signing_secret": {"type": "string", "pattern": "^whsec_[A-Za-z0-9+/]+=*$", "description": "Only in the answer that turns signing on or rotates the secret: copy it then, it is not shown again."},
            "previous_secrets_valid_until": {"type": "array", "items": time(), "description": "Only in a rotation's answer: when each previous secret stops being valid."},
            "created_at": time(), "updated_at": time(),
            "target_health": reference("TargetHealth"),
            "session": {"type": ["object", "null"], "description": "For a `cli` webhook: its listen session; null for `http`.", "required": ["id", "started_at", "connected"], "properties": {
                "id": {"type": "string", "pattern": "^ses_[0-9a-f]{24}$"},
                "started_at": time(),
                "connected": {"type": "boolean", "description": "Whether a `hookrelay listen` holds the session right now."},
            }},
        })),
        "WebhookList": object(&["webhooks"], json!({"webhooks": {"type": "array", "items": reference("Webhook")}})),
        "TestResult": object(&["succeeded", "duration_ms"], json!({
            "succeeded": {"type": "boolean"},
            "status_code": nullable("integer"),
            "duration_ms": {"type": "integer"},
            "error": nullable("string"),
            "response_body": nullable("string"),
            "request_body": {"type": "object"},
        })),
    })
}

fn events() -> Value {
    let mut operational_webhook = object(
        &["id", "url", "event_type", "disabled_reason", "disabled_at"],
        json!({
            "id": {"type": "string"},
            "url": {"type": "string", "description": "The password, if any, is shown as `***`."},
            "event_type": reference("EventType"),
            "disabled_reason": {"type": "string"},
            "disabled_at": time(),
        }),
    );
    operational_webhook["description"] =
        json!("The `webhook` section of a `webhook_disabled` event, as targets receive it.");
    let mut operational_delivery = object(
        &[
            "id",
            "webhook_id",
            "event_type",
            "event_unique_id",
            "attempts",
            "last_status_code",
            "last_error",
        ],
        json!({
            "id": {"type": "string", "pattern": "^dlv_[0-9]+$"},
            "webhook_id": {"type": "string"},
            "event_type": reference("EventType"),
            "event_unique_id": {"type": "string"},
            "attempts": {"type": "integer"},
            "last_status_code": nullable("integer"),
            "last_error": nullable("string"),
        }),
    );
    operational_delivery["description"] = json!("The `delivery` section of a `delivery_failed` event, as targets receive it: a delivery whose retries ran out or that was given up.");
    json!({
        "OperationalWebhook": operational_webhook,
        "OperationalDelivery": operational_delivery,
        "EventBatch": object(&["events"], json!({"events": {"type": "array", "minItems": 1, "maxItems": 1000, "items": reference("EventInput")}})),
        "Ingested": object(&["event_id", "deliveries", "duplicate"], json!({
            "event_id": {"type": "string"}, "deliveries": {"type": "integer"}, "duplicate": {"type": "boolean"},
        })),
        "IngestedBatch": object(&["events", "deliveries"], json!({
            "events": {"type": "array", "items": reference("Ingested")}, "deliveries": {"type": "integer"},
        })),
    })
}

fn deliveries() -> Value {
    json!({
        "Delivery": object(&["id", "event_id", "webhook_id", "event_type", "status", "attempt_count", "created_at", "updated_at"], json!({
            "id": rules::delivery_id(),
            "event_id": {"type": "string"},
            "webhook_id": rules::webhook_id(),
            "event_type": reference("EventType"),
            "status": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
            "attempt_count": {"type": "integer"},
            "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
            "last_status_code": nullable("integer"),
            "last_error": nullable("string"),
            "created_at": time(), "updated_at": time(),
        })),
        "DeliveryList": object(&["deliveries", "next_cursor"], json!({
            "deliveries": {"type": "array", "items": reference("Delivery")},
            "next_cursor": or_null(rules::delivery_id()),
        })),
        "Attempt": object(&["attempt", "started_at", "duration_ms"], json!({
            "attempt": {"type": "integer"}, "started_at": time(), "duration_ms": {"type": "integer"},
            "status_code": nullable("integer"), "error": nullable("string"),
            "response_body": {"type": ["string", "null"], "description": "The start of the answer, cut to 4 KiB."},
        })),
        "DeliveryDetail": {"allOf": [reference("Delivery"), object(&["request_body", "attempts"], json!({
            "request_body": {"type": "object", "description": "Exactly the JSON body sent."},
            "attempts": {"type": "array", "items": reference("Attempt")},
        }))]},
        "Resending": object(&["id", "status"], json!({"id": rules::delivery_id(), "status": {"const": "pending"}})),
        "RecoveryInput": {"type": "object", "required": ["since"], "additionalProperties": false, "properties": {
            "webhook_id": {"type": ["string", "null"], "description": "Only this webhook's deliveries (404 if it is not the license's); every webhook's when absent."},
            "since": {"type": "string", "format": "date-time", "examples": ["2026-12-03T10:00:00Z"], "description": "The earliest failure time recovered: RFC 3339 with `Z` or an offset such as `+02:00`."},
            "until": {"type": ["string", "null"], "format": "date-time", "description": "The latest failure time recovered (inclusive); now when absent. Not earlier than `since`."},
            "dry_run": {"type": ["boolean", "null"], "default": false, "description": "Only count the deliveries that would be resent; nothing changes."},
        }},
        "RecoveryCount": object(&["count"], json!({
            "count": {"type": "integer", "minimum": 0, "description": "How many failed deliveries were made pending (or, in a dry run, would be)."},
        })),
    })
}

fn livechat_v2() -> Value {
    json!({
        "V2Webhook": object(&["licence", "event_type", "data_types", "url", "verified", "token", "id"], json!({
            "licence": {"type": "integer"}, "event_type": reference("EventType"),
            "data_types": {"type": "array", "items": reference("DataType")},
            "url": {"type": "string"}, "verified": {"type": "boolean"},
            "token": {"type": "string"}, "id": {"type": "string"},
        })),
        "V2WebhookList": object(&["events"], json!({"events": {"type": "array", "items": reference("V2Webhook")}})),
        "V2WebhookInput": object(&["event_type", "data_types", "url"], json!({
            "event_type": reference("EventType"),
            "data_types": {"type": "array", "items": reference("DataType")},
            "url": {"type": "string"},
        })),
        "V2WebhookForm": object(&["event_type", "url"], json!({
            "event_type": reference("EventType"),
            "data_types[]": {"type": "array", "items": reference("DataType")},
            "url": {"type": "string"},
        })),
        "V2Error": object(&["error", "code"], json!({
            "error": {"type": "string", "description": "A sentence naming the problem (what v2 clients read)."},
            "code": {"type": "string"},
            "field": {"type": "string", "description": "The parameter at fault, for 400s about one."},
        })),
        "V2Result": object(&["result"], json!({"result": {"type": "string"}})),
        "VisitorField": object(&["name", "value"], json!({
            "name": {"type": "string"}, "value": {"type": "string"},
            "url": {"type": "string", "description": "Turns the value into a link."},
        })),
        "VisitorDetailsInput": object(&["license_id", "token", "id", "fields"], json!({
            "license_id": {"type": ["string", "integer"]},
            "token": {"type": "string"},
            "id": {"type": "string", "description": "The data set's name, e.g. `my-app`."},
            "icon": {"type": "string", "description": "A URL without the scheme."},
            "fields": {"type": "array", "items": reference("VisitorField")},
        })),
        "VisitorDetailsForm": {"type": "object", "required": ["license_id", "token", "id"], "properties": {
            "license_id": {"type": "string"}, "token": {"type": "string"}, "id": {"type": "string"}, "icon": {"type": "string"},
        }, "description": "PHP `http_build_query` encoding: `license_id`, `token`, `id`, `icon`, `fields[0][name]`, `fields[0][value]`, `fields[0][url]`, ...", "additionalProperties": {"type": "string"}},
        "VisitorDetails": object(&["visitor_id", "details"], json!({
            "visitor_id": {"type": "string"},
            "details": {"type": "array", "description": "One set per `id`, oldest first.", "items": object(
                &["id", "icon", "fields", "created_at", "updated_at"], json!({
                    "id": {"type": "string"},
                    "icon": nullable("string"),
                    "fields": {"type": "array", "items": reference("VisitorField")},
                    "created_at": time(), "updated_at": time(),
                }))},
        })),
        "SupportMatrix": object(&["event_types", "data_types"], json!({
            "event_types": {"type": "array", "items": object(&["name", "data_types"], json!({
                "name": reference("EventType"), "data_types": {"type": "array", "items": reference("DataType")},
            }))},
            "data_types": {"type": "array", "items": reference("DataType")},
        })),
    })
}
