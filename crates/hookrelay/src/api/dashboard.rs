//! `GET /v1/licenses/{license_id}/dashboard`: a license at a glance. Deliveries per step of the
//! last hour (per minute) or day (per 15 minutes), and per webhook its success rate, p50/p99
//! attempt duration, last attempt and target health: all from the per-minute counters the
//! recorder keeps with the attempts ([`crate::domain::dashboard`]), never from the history.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::path::PathParams;
use super::webhooks::{health_view, license_for};
use super::{paging, ApiResult, AppState, Caller};
use crate::domain::dashboard::{self, Window};
use crate::domain::{now_ms, rfc3339};

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/licenses/{license_id}/dashboard", get(show))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DashboardQuery {
    window: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(license_id): PathParams<String>,
    query: Result<Query<DashboardQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    let license = license_for(&state, &caller, &license_id).await?;
    let window = Window::parse(paging::query(query)?.window.as_deref())?;
    let now = now_ms();
    let (from, until) = window.range(now);
    let id = &license.license_id;
    let rows = state.store.delivery_minutes(id, from).await?;
    let webhooks = state.store.webhooks(id).await?;
    let ids = webhooks.iter().map(|w| w.id.clone()).collect();
    let last_attempts = state.store.last_attempts(id, ids).await?;
    let points = dashboard::chart(&rows, window, now);
    let stats = dashboard::webhook_stats(&rows, window, now);
    let total = |pick: fn(&dashboard::Point) -> i64| points.iter().map(pick).sum::<i64>();
    let webhooks: Vec<Value> = webhooks
        .iter()
        .zip(last_attempts)
        .map(|(w, last)| {
            let s = stats.get(&w.id);
            json!({
                "webhook_id": w.id,
                "event_type": w.event_type,
                "url": w.url.redacted(),
                "enabled": w.enabled,
                "succeeded": s.map_or(0, |s| s.succeeded),
                "retried": s.map_or(0, |s| s.retried),
                "failed": s.map_or(0, |s| s.failed),
                "success_rate": s.and_then(|s| s.success_rate()),
                "p50_ms": s.and_then(|s| s.p50_ms()),
                "p99_ms": s.and_then(|s| s.p99_ms()),
                "last_attempt_at": last.map(rfc3339),
                "target_health": health_view(&w.health),
            })
        })
        .collect();
    Ok(Json(json!({
        "window": window.as_str(),
        "from": rfc3339(from),
        "until": rfc3339(until),
        "step_seconds": window.step() / 1000,
        "totals": {
            "succeeded": total(|p| p.succeeded),
            "retried": total(|p| p.retried),
            "failed": total(|p| p.failed),
        },
        "points": points.iter().map(|p| json!({
            "start": rfc3339(p.start),
            "succeeded": p.succeeded,
            "retried": p.retried,
            "failed": p.failed,
        })).collect::<Vec<_>>(),
        "webhooks": webhooks,
    })))
}
