//! The HTTP API: one router per resource, all sharing [`AppState`].

mod auth;
mod body;
mod console;
mod dashboard;
mod deliveries;
mod error;
mod events;
mod fallback;
mod health;
mod licenses;
mod listen;
mod livechat_v2;
pub mod openapi;
mod paging;
mod path;
mod tail;
mod tail_slots;
mod visitors;
mod webhook_view;
mod webhooks;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::DefaultBodyLimit;
use axum::Router;
use tokio::sync::watch;

use crate::config::Config;
use crate::dispatch::sender::Sender;
use crate::dispatch::Engine;
use crate::domain::license::License;
use crate::store::Store;

pub use auth::Caller;
pub use error::{ApiError, ApiResult};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub engine: Engine,
    pub sender: Sender,
    pub config: Arc<Config>,
    /// The hash of the admin token.
    pub admin_hash: [u8; 32],
    /// API key hash → license, so authenticating a busy producer costs no query.
    pub key_cache: Arc<RwLock<HashMap<[u8; 32], License>>>,
    /// The live tails open on this node, 32 in all and 8 per license (`tail_slots.rs`).
    pub tails: Arc<tail_slots::TailSlots>,
    /// Turns true when the server starts stopping: live tails end then, so that the stop does
    /// not wait for them.
    pub stopping: watch::Receiver<bool>,
}

impl AppState {
    /// The permits of [`AppState::tails`].
    pub fn tail_permits() -> Arc<tail_slots::TailSlots> {
        Arc::default()
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.max_body_bytes;
    Router::new()
        .merge(health::routes())
        .merge(licenses::routes())
        .merge(webhooks::routes())
        .merge(events::routes())
        .merge(deliveries::routes())
        .merge(tail::routes())
        .merge(dashboard::routes())
        .merge(visitors::routes())
        .merge(listen::routes())
        .merge(livechat_v2::routes())
        .merge(console::routes())
        .merge(openapi::routes())
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state)
}
