//! v2 webhook management: `GET /webhooks`, `POST /webhooks`, `DELETE /webhooks/{id}`, in
//! LiveChat v2's shapes. Creation goes through the same [`create_webhook`] as `/v1`, so the
//! rules (event and data types, target URL policy) are the same.

use axum::extract::State;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::auth::BasicLicense;
use super::body::V2Body;
use super::error::V2Result;
use crate::api::path::PathParams;
use crate::api::webhooks::{create_webhook, WebhookInput};
use crate::api::{ApiError, AppState};
use crate::domain::license::License;
use crate::domain::visitor_details::text;
use crate::domain::webhook::Webhook;
use crate::domain::{now_ms, Invalid};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list).post(create))
        .route("/webhooks/{id}", delete(remove))
}

async fn list(
    State(state): State<AppState>,
    BasicLicense(license): BasicLicense,
) -> V2Result<Json<Value>> {
    let webhooks = state.store.webhooks(&license.license_id).await?;
    // Session webhooks of `hookrelay listen --server` are hookrelay's own, not LiveChat's.
    let events: Vec<Value> = webhooks
        .iter()
        .filter(|w| w.url.session_id().is_none())
        .map(|w| view(&license, w))
        .collect();
    Ok(Json(json!({ "events": events })))
}

async fn create(
    State(state): State<AppState>,
    BasicLicense(license): BasicLicense,
    V2Body(body): V2Body,
) -> V2Result<Json<Value>> {
    let webhook = create_webhook(&state, &license, input(&body)?).await?;
    Ok(Json(json!({ "events": [view(&license, &webhook)] })))
}

async fn remove(
    State(state): State<AppState>,
    BasicLicense(license): BasicLicense,
    // A malformed path parameter is refused v2's way, not axum's (text/plain).
    path: Result<PathParams<String>, ApiError>,
) -> V2Result<Json<Value>> {
    let PathParams(id) = path?;
    if state
        .store
        .delete_webhook(&license.license_id, &id, now_ms())
        .await?
    {
        state.engine.webhook_changed(&id);
        Ok(Json(
            json!({"result": "Push notification removed successfully"}),
        ))
    } else {
        Err(ApiError::NotFound("webhook").into())
    }
}

/// The v2 fields: `event_type`, `url` and `data_types` (a list from `data_types[]=…` or
/// `data_types[0]=…`, a single name, or absent for none; PHP writes nothing for an empty
/// array). Other fields are ignored, as LiveChat did.
fn input(body: &Map<String, Value>) -> Result<WebhookInput, Invalid> {
    let required =
        |name: &str| text(body.get(name), name)?.ok_or_else(|| Invalid::new(name, "is required"));
    let data_types = match body.get("data_types") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let field = format!("data_types[{i}]");
                text(Some(v), &field)?.ok_or_else(|| Invalid::new(field, "must be a name"))
            })
            .collect::<Result<_, _>>()?,
        Some(Value::Object(map)) => map
            .values()
            .map(|v| {
                text(Some(v), "data_types")?
                    .ok_or_else(|| Invalid::new("data_types", "must be names"))
            })
            .collect::<Result<_, _>>()?,
        Some(other) => vec![text(Some(other), "data_types")?.unwrap_or_default()],
    };
    Ok(WebhookInput {
        url: required("url")?,
        event_type: required("event_type")?,
        data_types,
        description: None,
        enabled: None,
        signing: false,
    })
}

/// A webhook as v2 showed it. `licence` is a number, as in v2 (a license id too long for one
/// stays a string); the URL's password is redacted, as everywhere in hookrelay's output.
fn view(license: &License, w: &Webhook) -> Value {
    let licence = license
        .license_id
        .parse::<u64>()
        .map_or_else(|_| json!(license.license_id), |n| json!(n));
    json!({
        "licence": licence,
        "event_type": w.event_type,
        "data_types": w.data_types,
        "url": w.url.redacted(),
        "verified": true,
        "token": license.token,
        "id": w.id,
    })
}
