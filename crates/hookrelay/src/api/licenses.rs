//! `/v1/licenses`: creating and listing tenants (admin only) and reading them.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::JsonBody;
use super::paging;
use super::path::PathParams;
use super::{ApiError, ApiResult, AppState, Caller};
use crate::domain::license::{
    new_license_id, parse_license_id, parse_login, parse_new_license_id, License,
};
use crate::domain::Invalid;
use crate::domain::{now_ms, rfc3339, secret};

/// Page size of the license list when none is asked for, and the most allowed.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/licenses", post(create).get(list))
        .route("/v1/licenses/{license_id}", get(show))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLicenseInput {
    pub license_id: Option<String>,
    pub login: Option<String>,
}

/// A new license with its secrets, shown this once.
pub struct Created {
    pub license: License,
    pub api_key: String,
}

/// Creates a license; used by the API and by the first start of the server.
pub async fn create_license(state: &AppState, input: NewLicenseInput) -> ApiResult<Created> {
    let license_id = match input.license_id {
        Some(id) => parse_new_license_id(id.trim())?,
        None => new_license_id(),
    };
    let login = match input.login {
        Some(login) => parse_login(&login)?,
        None => format!("license-{license_id}"),
    };
    let api_key = secret::new_api_key();
    let license = License {
        license_id,
        login,
        token: secret::random_hex(16),
        api_key_hash: secret::hash(&api_key),
        created_at: now_ms(),
    };
    state
        .store
        .create_license(license.clone())
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => {
                ApiError::Conflict("a license with this license_id or login already exists".into())
            }
            other => other.into(),
        })?;
    Ok(Created { license, api_key })
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<NewLicenseInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require_admin()?;
    let created = create_license(&state, input).await?;
    let mut body = view(&created.license);
    body["api_key"] = json!(created.api_key);
    body["token"] = json!(created.license.token);
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// The `next_cursor` of the previous page: a license id.
    cursor: Option<String>,
    limit: Option<String>,
}

/// Lists licenses for the admin (the console's license picker), in `license_id` order.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Value>> {
    caller.require_admin()?;
    let q = paging::query(query)?;
    let limit = paging::limit(q.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let cursor = q
        .cursor
        .map(|c| {
            parse_license_id(&c)
                .map_err(|_| Invalid::new("cursor", "is not a cursor from a previous page"))
        })
        .transpose()?;
    let page = state.store.licenses(cursor.as_deref(), limit).await?;
    let next_cursor = (page.len() == limit)
        .then(|| page.last().map(|l| l.license_id.clone()))
        .flatten();
    Ok(Json(json!({
        "licenses": page.iter().map(view).collect::<Vec<_>>(),
        "next_cursor": next_cursor,
    })))
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(license_id): PathParams<String>,
) -> ApiResult<Json<Value>> {
    caller.may_access(&license_id)?;
    let license = state
        .store
        .license(&license_id)
        .await?
        .ok_or(ApiError::NotFound("license"))?;
    Ok(Json(view(&license)))
}

/// The license as shown: no API key (only its holder has it), no token.
fn view(license: &License) -> Value {
    json!({
        "license_id": license.license_id,
        "login": license.login,
        "created_at": rfc3339(license.created_at),
    })
}
