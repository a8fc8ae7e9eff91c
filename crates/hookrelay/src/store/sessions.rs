//! The listen sessions' part of the store (`hookrelay listen --server`): which node holds each
//! session, kept on its webhooks (`session_node`, `session_seen_at`). A part of [`super::Store`].

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::webhook::Webhook;
use crate::domain::Millis;

#[async_trait]
pub trait SessionStore {
    /// Creates a listen session's webhooks (URL `cli://SESSION_ID`) in one transaction, held by
    /// this node from `now`.
    async fn create_session(&self, webhooks: Vec<Webhook>, now: Millis) -> StoreResult<()>;
    /// Takes up a listen session of the license for this node, if nobody holds it (no node, or
    /// a hold last refreshed before `stale_before`) or `take_over` says to take it anyway: its
    /// webhooks are held by this node from `now`, and their pending deliveries that no node is
    /// attempting are unparked and due now (with a wake-up, and on PostgreSQL a `webhook:<id>`
    /// notice for each webhook, so a node that held it hands back what it had in memory).
    /// Returns the session's webhook ids (empty: not taken).
    async fn hold_session(
        &self,
        license_id: &str,
        session_id: &str,
        now: Millis,
        stale_before: Millis,
        take_over: bool,
    ) -> StoreResult<Vec<String>>;
    /// Refreshes this node's hold of these sessions; returns those it still holds (another node
    /// may have taken one over).
    async fn touch_sessions(
        &self,
        session_ids: Vec<String>,
        now: Millis,
    ) -> StoreResult<Vec<String>>;
    /// This node lets go of a session (its socket closed): nobody holds it from `now`, its
    /// webhooks wait for the grace to pass or a reconnection, and their pending deliveries that
    /// no node is attempting are moved out of the due range
    /// ([`crate::domain::listen_session::UNHELD_WAIT`]) until then.
    async fn release_session(&self, session_id: &str, now: Millis) -> StoreResult<()>;
    /// Removes the webhooks of sessions nobody has held since `before` (as
    /// [`Store::delete_webhook`](super::Store::delete_webhook) does: their pending deliveries fail), each only if it is still
    /// so when removed; returns them.
    async fn remove_expired_sessions(
        &self,
        before: Millis,
        now: Millis,
    ) -> StoreResult<Vec<Webhook>>;
}
