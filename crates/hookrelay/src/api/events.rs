//! `/v1/licenses/{license_id}/events`: the producer's door. An event is answered 202 only once
//! it and its deliveries are durably stored.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::body::{parse_json_value, read_bytes};
use super::webhooks::license_for;
use super::{ApiError, ApiResult, AppState, Caller};
use crate::domain::event::{parse_batch, parse_idempotency_key, NewEvent};
use crate::domain::license::License;
use crate::domain::now_ms;
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
    Path(license_id): Path<String>,
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
    let ingested = store_events(&state, &license, vec![event]).await?;
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
    Path(license_id): Path<String>,
    request: Request,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let license = license_for(&state, &caller, &license_id).await?;
    let bytes = read_bytes(request, &state).await?;
    let events = parse_batch(parse_json_value(&bytes)?, MAX_BATCH)?;
    let ingested = store_events(&state, &license, events).await?;
    let deliveries: usize = ingested.iter().map(|i| i.deliveries).sum();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "events": ingested.iter().map(view).collect::<Vec<_>>(),
            "deliveries": deliveries,
        })),
    ))
}

/// Stores events (one durable commit) and hands their deliveries to the engine.
pub async fn store_events(
    state: &AppState,
    license: &License,
    events: Vec<NewEvent>,
) -> ApiResult<Vec<Ingested>> {
    let now = now_ms();
    let placement = state.engine.placement(now);
    // Deliveries left unleased are due now only when there was no room to lease them; the ones
    // put off for a silent target are due later, and the claimer finds them by their due time.
    let due_unleased = placement.lease_until.is_none();
    let types: Vec<&'static str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let mut ingested = state.store.ingest(license, events, now, placement).await?;
    let mut unleased = false;
    for (i, event) in ingested.iter_mut().enumerate() {
        if !event.duplicate {
            crate::metrics::events_accepted(types[i], event.deliveries);
        }
        unleased |= due_unleased && event.deliveries > 0 && !event.duplicate;
        state.engine.submit(std::mem::take(&mut event.jobs));
    }
    if unleased {
        state.engine.wake();
    }
    Ok(ingested)
}

fn view(ingested: &Ingested) -> Value {
    json!({
        "event_id": ingested.event_id,
        "deliveries": ingested.deliveries,
        "duplicate": ingested.duplicate,
    })
}
