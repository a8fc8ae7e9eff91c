//! The web console: a few static files compiled into the binary (`include_str!`, so there is no
//! JavaScript build step and nothing to install next to the binary) that talk to the `/v1` JSON
//! API with the bearer token the user signs in with.
//!
//! Every answer carries a strict Content-Security-Policy: scripts and styles only from this
//! origin, no inline code, no framing. The scripts build the page with `textContent`, never with
//! HTML strings, so stored data (URLs, descriptions, response bodies) cannot run as code.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use livechat_webhooks::{DataType, EventType};
use serde_json::{json, Value};

use super::AppState;

/// The embedded files under `/console/`, by name; the content type follows the extension.
const ASSETS: &[(&str, &str)] = &[
    ("console.css", include_str!("assets/console.css")),
    ("app.js", include_str!("assets/app.js")),
    ("api.js", include_str!("assets/api.js")),
    ("dom.js", include_str!("assets/dom.js")),
    ("webhooks.js", include_str!("assets/webhooks.js")),
    ("recovery.js", include_str!("assets/recovery.js")),
    ("deliveries.js", include_str!("assets/deliveries.js")),
    ("visitors.js", include_str!("assets/visitors.js")),
    ("dashboard.js", include_str!("assets/dashboard.js")),
    ("tail.js", include_str!("assets/tail.js")),
];

const INDEX: &str = include_str!("assets/index.html");

/// Scripts, styles and API calls from this origin only; images from here or `data:`; nothing may
/// frame the console or receive its forms.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(index))
        .route("/console/support-matrix.json", get(support_matrix))
        .route("/console/{asset}", get(asset))
}

async fn index() -> Response {
    secured(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response())
}

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let Some((_, body)) = ASSETS.iter().find(|(file, _)| *file == name) else {
        return super::ApiError::NotFound("console file").into_response();
    };
    let content_type = if name.ends_with(".css") {
        "text/css; charset=utf-8"
    } else {
        "text/javascript; charset=utf-8"
    };
    secured(([(header::CONTENT_TYPE, content_type)], *body).into_response())
}

/// Which data types each event type may carry, from the same table the API enforces, so the
/// console's checkboxes cannot disagree with the server.
async fn support_matrix() -> Response {
    secured(Json(matrix()).into_response())
}

/// `{"event_types": [{"name", "data_types": [...]}], "data_types": [...]}`.
pub fn matrix() -> Value {
    json!({
        "event_types": EventType::ALL.iter().map(|e| json!({
            "name": e.as_str(),
            "data_types": e.supported_data_types().iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "data_types": DataType::ALL.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
    })
}

/// Adds the security headers every console answer carries.
fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // The files change with the binary; revalidating costs little on a console.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
