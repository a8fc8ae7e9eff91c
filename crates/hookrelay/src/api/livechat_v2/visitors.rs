//! The Visitors API: `POST /visitors/{visitor_id}/details`. An integration that received a
//! webhook pushes a set of details about its visitor back, authenticated by the webhook's
//! `license_id` and `token` (no API key), and agents see the sets side by side.

use axum::extract::{Request, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::body::V2Body;
use super::error::V2Result;
use crate::api::path::PathParams;
use crate::api::{ApiError, AppState};
use crate::domain::license::License;
use crate::domain::visitor_details::{text, VisitorDetails, MAX_BODY_BYTES};
use crate::domain::{now_ms, secret};

pub fn routes() -> Router<AppState> {
    Router::new().route("/visitors/{visitor_id}/details", post(add_details))
}

const WRONG: &str = "license_id and token do not match: use the ones from the webhook body";

async fn add_details(
    State(state): State<AppState>,
    // A malformed path parameter is refused v2's way, not axum's (text/plain).
    path: Result<PathParams<String>, ApiError>,
    request: Request,
) -> V2Result<Json<Value>> {
    let PathParams(visitor_id) = path?;
    let V2Body(body) = V2Body::read(request, &state, MAX_BODY_BYTES).await?;
    let license_id = text(body.get("license_id"), "license_id")?;
    let token = text(body.get("token"), "token")?;
    let (Some(license_id), Some(token)) = (license_id, token) else {
        return Err(ApiError::Unauthorized(
            "send license_id and token (from the webhook body) with the details",
        )
        .into());
    };
    let license = licensed(&state, license_id.trim(), &token).await?;
    let details = VisitorDetails::parse(&license.license_id, &visitor_id, &body, now_ms())?;
    state.store.put_visitor_details(details).await?;
    Ok(Json(json!({"result": "Visitor details added"})))
}

/// The license whose webhook token this is. Whatever is wrong (a malformed or unknown
/// `license_id`, a token of another length or value), the work is the same: one lookup, and one
/// constant-time comparison of digests (against nothing when no license was found).
async fn licensed(state: &AppState, license_id: &str, token: &str) -> V2Result<License> {
    // A malformed id is looked up as "", which no license has, so it costs a lookup too.
    let id = crate::domain::license::parse_license_id(license_id).unwrap_or_default();
    let license = state.store.license(&id).await?;
    let expected = license.as_ref().map_or("", |l| l.token.as_str());
    let matches = secret::same(expected, token);
    match license {
        Some(license) if matches => Ok(license),
        _ => Err(ApiError::Unauthorized(WRONG).into()),
    }
}
