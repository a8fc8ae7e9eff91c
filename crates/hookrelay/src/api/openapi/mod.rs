//! `/openapi.json`: the OpenAPI 3.1 document of every route, both the native `/v1` API and the
//! LiveChat v2-compatible one, built here from code.
//!
//! The operations are listed in [`operations`] and their shapes in [`schemas`]; event and data
//! type names come from `livechat_webhooks`, so they cannot disagree with what the API accepts.
//! The story suite compares this document with the `.route(...)` calls of `src/api` and probes
//! every documented operation on a running server, so a route added without documentation (or
//! documentation for a route that does not exist) fails the build.

mod builder;
mod dashboard;
mod operations;
mod rules;
pub use rules::target_url_pattern;
mod schemas;
mod sections;

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(serve))
}

async fn serve() -> impl IntoResponse {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(|| {
        serde_json::to_string_pretty(&document()).expect("the document is plain JSON")
    });
    ([(header::CONTENT_TYPE, "application/json")], text.as_str())
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in operations::all() {
        let item = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        item[op.method] = op.value;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "hookrelay",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "A self-hosted, LiveChat-compatible webhook relay.",
            "description": "The native API lives under `/v1` and takes `Authorization: Bearer <admin token or license API key>`. \
                The LiveChat v2-compatible API (`/webhooks`, `/visitors/{visitor_id}/details`) takes `X-API-Version: 2` \
                and the credentials LiveChat v2 used, so code written for LiveChat works unchanged apart from the host. \
                Errors of the native API are `{\"error\": {\"code\", \"message\"}}`.",
            "license": {"name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "licenses", "description": "Tenants: one LiveChat account each."},
            {"name": "webhooks", "description": "Subscriptions: one event type to one URL."},
            {"name": "events", "description": "The producer's door: events to deliver."},
            {"name": "deliveries", "description": "What was sent, what came back, and resending."},
            {"name": "listen", "description": "`hookrelay listen --server`: a license's webhooks pushed to a developer's command over a WebSocket."},
            {"name": "visitors", "description": "Details that integrations push about a visitor."},
            {"name": "livechat-v2", "description": "The LiveChat v2-compatible API."},
            {"name": "operations", "description": "Health, readiness, metrics and this document."},
            {"name": "console", "description": "The web console's pages and files (HTML, not JSON)."},
        ],
        "paths": paths,
        "components": schemas::components(),
    })
}
