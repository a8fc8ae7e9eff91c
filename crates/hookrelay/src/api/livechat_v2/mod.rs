//! The LiveChat v2-compatible API, so that integrations written for LiveChat's v2 APIs work
//! against hookrelay with only the host changed:
//!
//! - [`webhooks`]: `GET`/`POST /webhooks`, `DELETE /webhooks/{id}` (management, HTTP Basic
//!   `login:api_key`), answering in v2's `{"events": [...]}` shapes;
//! - [`visitors`]: `POST /visitors/{visitor_id}/details` (the Visitors API, authenticated by the
//!   webhook's `license_id` + `token`).
//!
//! Every route requires `X-API-Version: 2`; bodies are PHP-style forms ([`php_form`]) or JSON
//! ([`body`]); errors keep [`ApiError`](super::ApiError) but are written v2's way ([`error`]).

mod auth;
mod body;
mod error;
pub mod php_form;
mod visitors;
mod webhooks;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;

use super::{ApiError, AppState};
pub use error::V2Error;

/// The v2 routes, each behind the `X-API-Version: 2` check.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(webhooks::routes())
        .merge(visitors::routes())
        .route_layer(middleware::from_fn(require_version_2))
}

/// Whether `path` is one of the v2 API's (so its errors are written v2's way).
pub fn owns(path: &str) -> bool {
    ["/webhooks", "/visitors"].iter().any(|root| {
        path.strip_prefix(root)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Refuses requests without `X-API-Version: 2`, before anything else is looked at.
async fn require_version_2(request: Request, next: Next) -> Result<Response, V2Error> {
    let version = request
        .headers()
        .get("x-api-version")
        .map(|v| v.to_str().unwrap_or("").trim().to_string());
    match version.as_deref() {
        Some("2") => Ok(next.run(request).await),
        None => Err(ApiError::Malformed(
            "send the header `X-API-Version: 2`: this is hookrelay's LiveChat v2-compatible API"
                .into(),
        )
        .into()),
        Some(other) => Err(ApiError::Malformed(format!(
            "X-API-Version `{other}` is not supported here; this API speaks version 2 \
             (hookrelay's own API is under /v1)"
        ))
        .into()),
    }
}
