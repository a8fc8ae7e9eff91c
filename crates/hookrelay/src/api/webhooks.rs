//! `/v1/licenses/{license_id}/webhooks`: creating, listing, changing, removing and testing
//! webhooks.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use livechat_webhooks::{DataType, DataTypes};
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::{parse_json, read_bytes, JsonBody};
use super::path::PathParams;
pub use super::webhook_view::{health_view, view};
use super::{ApiError, ApiResult, AppState, Caller};
use crate::domain::health::Health;
use crate::domain::job::JobSigning;
use crate::domain::license::License;
use crate::domain::signing::{new_secret, parse_grace, SigningKeys};
use crate::domain::target::TargetUrl;
use crate::domain::webhook::{parse_data_types, parse_description, parse_event_type, Webhook};
use crate::domain::{now_ms, rfc3339, secret, Invalid};
use crate::store::WebhookChanges;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/licenses/{license_id}/webhooks", post(create).get(list))
        .route(
            "/v1/licenses/{license_id}/webhooks/{id}",
            get(show).patch(change).delete(remove),
        )
        .route("/v1/licenses/{license_id}/webhooks/{id}/test", post(test))
        .route(
            "/v1/licenses/{license_id}/webhooks/{id}/signing-secret",
            post(rotate_signing_secret),
        )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    pub url: String,
    pub event_type: String,
    #[serde(default)]
    pub data_types: Vec<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    /// Sign every request (Standard Webhooks); the answer shows the new secret once.
    #[serde(default)]
    pub signing: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookPatch {
    url: Option<String>,
    data_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "some")]
    description: Option<Option<String>>,
    enabled: Option<bool>,
    signing: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotationInput {
    grace: Option<String>,
}

/// Tells "absent" (`None`) from "null" (`Some(None)`).
fn some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Answers that may carry a signing secret are not to be kept by any cache on the way.
type NoStore = [(header::HeaderName, &'static str); 1];
const NO_STORE: NoStore = [(header::CACHE_CONTROL, "no-store")];

/// Loads the license the path names, after checking the caller may see it.
pub async fn license_for(
    state: &AppState,
    caller: &Caller,
    license_id: &str,
) -> ApiResult<License> {
    caller.may_access(license_id)?;
    if let Caller::License(l) = caller {
        return Ok((**l).clone());
    }
    state
        .store
        .license(license_id)
        .await?
        .ok_or(ApiError::NotFound("license"))
}

/// Parses a target URL and refuses IP literals the target policy forbids, so the user hears of it
/// now rather than at the first delivery. Host names are checked when they are resolved.
pub fn checked_target(state: &AppState, url: &str) -> Result<TargetUrl, Invalid> {
    let target = TargetUrl::parse(url)?;
    let literal = match target.request_url().host() {
        Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
        _ => None,
    };
    if let Some(ip) = literal {
        state
            .sender
            .policy()
            .check(ip)
            .map_err(|e| Invalid::new("url", e.to_string()))?;
    }
    Ok(target)
}

/// Builds and stores a webhook; shared with the LiveChat v2 API.
pub async fn create_webhook(
    state: &AppState,
    license: &License,
    input: WebhookInput,
) -> ApiResult<Webhook> {
    let url = checked_target(state, &input.url)?;
    let event_type = parse_event_type(&input.event_type)?;
    let data_types = parse_data_types(event_type, &input.data_types)?;
    let now = now_ms();
    let webhook = Webhook {
        id: secret::random_hex(16),
        license_id: license.license_id.clone(),
        url,
        event_type,
        data_types,
        description: parse_description(input.description)?,
        enabled: input.enabled.unwrap_or(true),
        created_at: now,
        updated_at: now,
        health: Health::default(),
        signing: input.signing.then(|| SigningKeys::new(&new_secret())),
        disabled_reason: None,
        disabled_at: None,
        session: None,
    };
    state.store.create_webhook(webhook.clone()).await?;
    Ok(webhook)
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(license_id): PathParams<String>,
    JsonBody(input): JsonBody<WebhookInput>,
) -> ApiResult<(StatusCode, NoStore, Json<Value>)> {
    let license = license_for(&state, &caller, &license_id).await?;
    let webhook = create_webhook(&state, &license, input).await?;
    let mut answer = view(&webhook);
    if let Some(secret) = webhook.signing.as_ref().and_then(|k| k.current()) {
        answer["signing_secret"] = json!(secret.to_whsec());
    }
    Ok((StatusCode::CREATED, NO_STORE, Json(answer)))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(license_id): PathParams<String>,
) -> ApiResult<Json<Value>> {
    let license = license_for(&state, &caller, &license_id).await?;
    let webhooks = state.store.webhooks(&license.license_id).await?;
    Ok(Json(
        json!({"webhooks": webhooks.iter().map(view).collect::<Vec<_>>() }),
    ))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((license_id, id)): PathParams<(String, String)>,
) -> ApiResult<Json<Value>> {
    let license = license_for(&state, &caller, &license_id).await?;
    let webhook = find(&state, &license, &id).await?;
    Ok(Json(view(&webhook)))
}

async fn find(state: &AppState, license: &License, id: &str) -> ApiResult<Webhook> {
    state
        .store
        .webhook(&license.license_id, id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))
}

/// A listen session's webhook is the command's: it cannot be changed, only removed.
fn changeable(w: Webhook) -> ApiResult<Webhook> {
    if w.url.session_id().is_some() {
        return Err(ApiError::Conflict(
            "this is a session webhook of `hookrelay listen --server` (\"kind\": \"cli\"): it \
             cannot be changed; restart the command with other options, or delete it"
                .into(),
        ));
    }
    Ok(w)
}

async fn change(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((license_id, id)): PathParams<(String, String)>,
    JsonBody(patch): JsonBody<WebhookPatch>,
) -> ApiResult<(NoStore, Json<Value>)> {
    let license = license_for(&state, &caller, &license_id).await?;
    let current = changeable(find(&state, &license, &id).await?)?;
    let url = patch
        .url
        .map(|u| checked_target(&state, &u))
        .transpose()?
        .map(|t| (t.as_stored().to_string(), t.key()));
    let data_types = match patch.data_types {
        Some(names) => Some(patched_data_types(&current, &names)?.bits()),
        None => None,
    };
    let description = match patch.description {
        Some(d) => Some(parse_description(d)?),
        None => None,
    };
    // Turning signing on makes a secret, shown in this answer only; turning it off drops them.
    let new_keys = match (patch.signing, &current.signing) {
        (Some(true), None) => Some(SigningKeys::new(&new_secret())),
        _ => None,
    };
    let (signing, signing_was) = match (patch.signing, &current.signing) {
        (Some(true), None) => (Some(new_keys.clone()), Some(None)),
        (Some(false), Some(_)) => (Some(None), None),
        _ => (None, None),
    };
    // A new URL may answer where the old one did not, and re-enabling lets held deliveries go;
    // disabling must stop what is held in memory from being sent, and jobs held with old signing
    // keys go back to be read again.
    // (An `enabled` that does not change is not a change: the console sends it with every save.)
    let toggled = patch.enabled.is_some_and(|e| e != current.enabled);
    let retarget = url.is_some() || toggled || signing.is_some();
    let changes = WebhookChanges {
        url,
        data_types,
        description,
        enabled: patch.enabled,
        signing,
        signing_was,
        auto_disabled: None,
    };
    let webhook = state
        .store
        .update_webhook(&license.license_id, &id, changes, now_ms())
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    if retarget {
        // The store made its parked deliveries due; jobs held in memory go back too.
        state.engine.webhook_changed(&webhook.id);
    }
    let mut answer = view(&webhook);
    if let Some(secret) = new_keys.as_ref().and_then(|k| k.current()) {
        answer["signing_secret"] = json!(secret.to_whsec());
    }
    Ok((NO_STORE, Json(answer)))
}

/// The data types a PATCH asks for. A known data type the webhook's event type does not carry
/// conflicts with the webhook as it is (its event type cannot change): 409, where creation, whose
/// body names the event type, answers 422. An unknown name is a 422 either way.
fn patched_data_types(current: &Webhook, names: &[String]) -> ApiResult<DataTypes> {
    parse_data_types(current.event_type, names).map_err(|e| {
        if names.iter().all(|n| n.trim().parse::<DataType>().is_ok()) {
            ApiError::Conflict(format!("{}: {}", e.field, e.message))
        } else {
            e.into()
        }
    })
}

/// Rotates a signing webhook's secret: the answer shows the new one once; the previous ones stay
/// valid for the grace period (`{"grace": "24h"}` by default, at most 7 days), and every attempt
/// meanwhile carries a signature for each.
async fn rotate_signing_secret(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((license_id, id)): PathParams<(String, String)>,
    request: axum::extract::Request,
) -> ApiResult<(NoStore, Json<Value>)> {
    let license = license_for(&state, &caller, &license_id).await?;
    let bytes = read_bytes(request, &state).await?;
    let input: RotationInput = if bytes.iter().all(u8::is_ascii_whitespace) {
        RotationInput::default()
    } else {
        parse_json(&bytes)?
    };
    let grace = parse_grace(input.grace.as_deref())?;
    let current = changeable(find(&state, &license, &id).await?)?;
    let Some(keys) = &current.signing else {
        return Err(ApiError::Conflict(
            "this webhook does not sign its requests; turn signing on with PATCH {\"signing\": true}"
                .into(),
        ));
    };
    let now = now_ms();
    let secret = new_secret();
    let rotated = keys.rotate(&secret, now, grace);
    let changes = WebhookChanges {
        signing: Some(Some(rotated.clone())),
        // Unreadable stored keys cannot be compared: a rotation simply replaces them.
        signing_was: keys.can_sign().then(|| Some(keys.clone())),
        ..WebhookChanges::default()
    };
    let webhook = state
        .store
        .update_webhook(&license.license_id, &id, changes, now)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    state.engine.webhook_changed(&webhook.id);
    let mut answer = view(&webhook);
    answer["signing_secret"] = json!(secret.to_whsec());
    answer["previous_secrets_valid_until"] = json!(rotated
        .previous_expiries(now)
        .into_iter()
        .map(rfc3339)
        .collect::<Vec<_>>());
    Ok((NO_STORE, Json(answer)))
}

async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((license_id, id)): PathParams<(String, String)>,
) -> ApiResult<StatusCode> {
    let license = license_for(&state, &caller, &license_id).await?;
    if state
        .store
        .delete_webhook(&license.license_id, &id, now_ms())
        .await?
    {
        // Jobs held in memory for it are not sent (its deliveries are failed in the store).
        state.engine.webhook_changed(&id);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("webhook"))
    }
}

/// Sends a realistic sample of this webhook's payload now, without storing a delivery.
async fn test(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((license_id, id)): PathParams<(String, String)>,
) -> ApiResult<Json<Value>> {
    let license = license_for(&state, &caller, &license_id).await?;
    let webhook = find(&state, &license, &id).await?;
    let message_id = secret::random_hex(16);
    let body = livechat_webhooks::compose_body(
        webhook.event_type,
        &license.token,
        &license.license_id,
        &message_id,
        &livechat_webhooks::sample::sections(webhook.event_type),
        webhook.data_types,
    );
    let signing = webhook.signing.clone().map(|keys| JobSigning {
        keys: Arc::new(keys),
        message_id: message_id.clone(),
    });
    let (sent, succeeded) = state
        .engine
        .send_test(&webhook.url, body.clone().into(), signing.as_ref())
        .await;
    let a = &sent.attempt;
    Ok(Json(json!({
        "succeeded": succeeded,
        "status_code": a.status_code,
        "duration_ms": a.duration_ms,
        "error": a.error,
        "response_body": a.response_body,
        "request_body": serde_json::from_str::<Value>(&body).unwrap_or(Value::Null),
    })))
}
