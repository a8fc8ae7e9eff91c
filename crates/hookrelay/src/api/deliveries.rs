//! `/v1/licenses/{license_id}/deliveries`: what was sent, what came back, resending one, and
//! recovering the failed ones of a time window in bulk.

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::JsonBody;
use super::paging;
use super::path::PathParams;
use super::webhooks::license_for;
use super::{ApiError, ApiResult, AppState, Caller};
use crate::domain::delivery::{
    parse_event_unique_id, parse_find_id, Attempt, Delivery, DeliveryFilter, DeliveryId,
};
use crate::domain::recovery::{Recovery, Window};
use crate::domain::webhook::parse_event_type;
use crate::domain::{now_ms, rfc3339, Invalid};
use crate::store::Resend;

/// Page size when none is asked for, and the most allowed.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/licenses/{license_id}/deliveries", get(list))
        .route(
            "/v1/licenses/{license_id}/deliveries/recover",
            post(recover),
        )
        .route("/v1/licenses/{license_id}/deliveries/{id}", get(show))
        .route(
            "/v1/licenses/{license_id}/deliveries/{id}/resend",
            post(resend),
        )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    webhook_id: Option<String>,
    event_type: Option<String>,
    event_unique_id: Option<String>,
    chat_id: Option<String>,
    visitor_id: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(license_id): PathParams<String>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let license = license_for(&state, &caller, &license_id).await?;
    let q = paging::query(query)?;
    let limit = paging::limit(q.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let filter = DeliveryFilter {
        status: q.status.map(|s| s.parse()).transpose()?,
        webhook_id: q.webhook_id,
        event_type: q.event_type.map(|e| parse_event_type(&e)).transpose()?,
        event_unique_id: q.event_unique_id.map(parse_event_unique_id).transpose()?,
        chat_id: q.chat_id.map(|c| parse_find_id("chat_id", c)).transpose()?,
        visitor_id: q
            .visitor_id
            .map(|v| parse_find_id("visitor_id", v))
            .transpose()?,
        after: None,
        before: q
            .cursor
            .map(|c| {
                c.parse()
                    .map_err(|_| Invalid::new("cursor", "is not a cursor from a previous page"))
            })
            .transpose()?,
        limit,
    };
    let page = state.store.deliveries(&license.license_id, &filter).await?;
    let next_cursor = (page.len() == limit)
        .then(|| page.last().map(|d| d.id.to_string()))
        .flatten();
    Ok(Json(json!({
        "deliveries": page.iter().map(view).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    })))
}

/// The 404 for a delivery that is not there, saying so when retention removed it (its id is at or
/// below the highest id retention removed for the license).
async fn missing(state: &AppState, license_id: &str, id: DeliveryId) -> ApiError {
    match state.store.purged_through(license_id).await {
        Ok(through) if id.0 <= through => ApiError::Purged(format!(
            "delivery {id} was removed by retention: deliveries that finished more than {} ago \
             are deleted with their attempts (setting `retention`)",
            humantime::format_duration(state.config.retention)
        )),
        _ => ApiError::NotFound("delivery"),
    }
}

fn parse_id(id: &str) -> ApiResult<DeliveryId> {
    id.parse::<DeliveryId>()
        .map_err(|_| ApiError::NotFound("delivery"))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((license_id, id)): PathParams<(String, String)>,
) -> ApiResult<Json<Value>> {
    let license = license_for(&state, &caller, &license_id).await?;
    let id = parse_id(&id)?;
    let Some(detail) = state.store.delivery(&license.license_id, id).await? else {
        return Err(missing(&state, &license.license_id, id).await);
    };
    let mut body = view(&detail.delivery);
    body["request_body"] = serde_json::from_str(&detail.body).unwrap_or(Value::Null);
    body["attempts"] = detail.attempts.iter().map(attempt_view).collect();
    Ok(Json(body))
}

async fn resend(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((license_id, id)): PathParams<(String, String)>,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    let license = license_for(&state, &caller, &license_id).await?;
    let id = parse_id(&id)?;
    match state.engine.resend(&license.license_id, id).await? {
        Resend::NotFound => Err(missing(&state, &license.license_id, id).await),
        Resend::InFlight => Err(ApiError::Conflict(
            "an attempt of this delivery is under way; try again when it has finished".into(),
        )),
        Resend::WebhookDeleted => Err(ApiError::Conflict(
            "the webhook of this delivery was deleted; there is nowhere to send it".into(),
        )),
        Resend::Job(_) => {
            tracing::info!(delivery_id = %id, license_id = %license.license_id, "redelivery requested");
            Ok((
                axum::http::StatusCode::ACCEPTED,
                Json(json!({"id": id, "status": "pending"})),
            ))
        }
    }
}

/// `POST …/deliveries/recover`: RFC 3339 times; `until` defaults to now.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecoverInput {
    webhook_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    dry_run: Option<bool>,
}

/// Makes the failed deliveries of a window due again (202), or counts them (`dry_run`, 200).
async fn recover(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(license_id): PathParams<String>,
    JsonBody(input): JsonBody<RecoverInput>,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    let license = license_for(&state, &caller, &license_id).await?;
    let window = Window::parse(input.since.as_deref(), input.until.as_deref(), now_ms())?;
    let which = Recovery {
        license_id: license.license_id,
        webhook_id: input.webhook_id,
        window,
    };
    let dry_run = input.dry_run.unwrap_or(false);
    let count = state
        .engine
        .recover(&which, dry_run)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    if dry_run {
        return Ok((axum::http::StatusCode::OK, Json(json!({ "count": count }))));
    }
    tracing::info!(
        license_id = %which.license_id,
        webhook_id = which.webhook_id.as_deref().unwrap_or("any"),
        since = %rfc3339(window.since),
        until = %rfc3339(window.until),
        count,
        "failed deliveries recovered"
    );
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(json!({ "count": count })),
    ))
}

pub fn view(d: &Delivery) -> Value {
    json!({
        "id": d.id,
        "event_id": d.event_id,
        "webhook_id": d.webhook_id,
        "event_type": d.event_type,
        "status": d.status,
        "attempt_count": d.attempts,
        "next_attempt_at": d.next_attempt_at.map(rfc3339),
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "created_at": rfc3339(d.created_at),
        "updated_at": rfc3339(d.updated_at),
    })
}

pub fn attempt_view(a: &Attempt) -> Value {
    json!({
        "attempt": a.attempt_no,
        "started_at": rfc3339(a.started_at),
        "duration_ms": a.duration_ms,
        "status_code": a.status_code,
        "error": a.error,
        "response_body": a.response_body,
    })
}
