//! `/v1/licenses/{license_id}/visitors/{visitor_id}/details`: reading back the detail sets
//! integrations pushed through the Visitors API.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::path::PathParams;
use super::webhooks::license_for;
use super::{ApiResult, AppState, Caller};
use crate::domain::rfc3339;
use crate::domain::visitor_details::{parse_visitor_id, VisitorDetails};

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/v1/licenses/{license_id}/visitors/{visitor_id}/details",
        get(show),
    )
}

/// `{"visitor_id", "details": [...]}`, oldest set first; a visitor nobody pushed details for
/// has an empty list (hookrelay does not track visitors themselves).
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((license_id, visitor_id)): PathParams<(String, String)>,
) -> ApiResult<Json<Value>> {
    let license = license_for(&state, &caller, &license_id).await?;
    let visitor_id = parse_visitor_id(&visitor_id)?;
    let sets = state
        .store
        .visitor_details(&license.license_id, &visitor_id)
        .await?;
    Ok(Json(json!({
        "visitor_id": visitor_id,
        "details": sets.iter().map(view).collect::<Vec<_>>(),
    })))
}

fn view(d: &VisitorDetails) -> Value {
    json!({
        "id": d.id,
        "icon": d.icon,
        "fields": d.fields,
        "created_at": rfc3339(d.created_at),
        "updated_at": rfc3339(d.updated_at),
    })
}
