//! `/v1/licenses/{license_id}/events`: the producer's door. An event is answered 202 only once
//! it and its deliveries are durably stored.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::body::{parse_json_value, read_bytes};
use super::path::PathParams;
use super::webhooks::license_for;
use super::{ApiError, ApiResult, AppState, Caller};
use crate::domain::event::{parse_batch, parse_idempotency_key, NewEvent};
use crate::store::Ingested;

/// Most events in one batch.
pub const MAX_BATCH: usize = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/licenses/{license_id}/events", post(ingest_one))
        .route("/v1/licenses/{license_id}/events/batch", post(ingest_batch))
}

async fn ingest_one(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(license_id): PathParams<String>,
    headers: HeaderMap,
    request: Request,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let license = license_for(&state, &caller, &license_id).await?;
    let bytes = read_bytes(request, &state).await?;
    let mut event = NewEvent::parse(parse_json_value(&bytes)?, "")?;
    if let Some(key) = headers.get("idempotency-key") {
        let key = key.to_str().map_err(|_| {
            ApiError::Invalid(crate::domain::Invalid::new(
                "Idempotency-Key",
                "must be ASCII",
            ))
        })?;
        event.idempotency_key = Some(parse_idempotency_key(key)?);
    }
    let ingested = state.engine.ingest(&license, vec![event]).await?;
    let first = &ingested[0];
    let status = if first.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(view(first))))
}

async fn ingest_batch(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(license_id): PathParams<String>,
    request: Request,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let license = license_for(&state, &caller, &license_id).await?;
    let bytes = read_bytes(request, &state).await?;
    let events = parse_batch(parse_json_value(&bytes)?, MAX_BATCH)?;
    let ingested = state.engine.ingest(&license, events).await?;
    let deliveries: usize = ingested.iter().map(|i| i.deliveries).sum();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "events": ingested.iter().map(view).collect::<Vec<_>>(),
            "deliveries": deliveries,
        })),
    ))
}

fn view(ingested: &Ingested) -> Value {
    json!({
        "event_id": ingested.event_id,
        "deliveries": ingested.deliveries,
        "duplicate": ingested.duplicate,
    })
}
