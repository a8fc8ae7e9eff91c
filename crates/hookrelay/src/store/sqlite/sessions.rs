//! The listen sessions on SQLite: each change one write in the writer's group commit.

use async_trait::async_trait;

use super::{queries, SqliteStore};
use crate::domain::webhook::Webhook;
use crate::domain::Millis;
use crate::store::{SessionStore, StoreResult};

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, webhooks: Vec<Webhook>, _now: Millis) -> StoreResult<()> {
        let node = self.node.clone();
        self.write(move |c| {
            webhooks
                .iter()
                .try_for_each(|w| queries::insert_webhook(c, w, &node))
        })
        .await
    }

    async fn hold_session(
        &self,
        license_id: &str,
        session_id: &str,
        now: Millis,
        stale_before: Millis,
        take_over: bool,
    ) -> StoreResult<Vec<String>> {
        let (license_id, session_id) = (license_id.to_string(), session_id.to_string());
        let node = self.node.clone();
        self.write(move |c| {
            queries::hold_session(
                c,
                &license_id,
                &session_id,
                &node,
                now,
                stale_before,
                take_over,
            )
        })
        .await
    }

    async fn touch_sessions(
        &self,
        session_ids: Vec<String>,
        now: Millis,
    ) -> StoreResult<Vec<String>> {
        let node = self.node.clone();
        self.write(move |c| queries::touch_sessions(c, &session_ids, &node, now))
            .await
    }

    async fn release_session(&self, session_id: &str, now: Millis) -> StoreResult<()> {
        let (session_id, node) = (session_id.to_string(), self.node.clone());
        self.write(move |c| queries::release_session(c, &session_id, &node, now))
            .await
    }

    async fn remove_expired_sessions(
        &self,
        before: Millis,
        now: Millis,
    ) -> StoreResult<Vec<Webhook>> {
        self.write(move |c| queries::remove_expired_sessions(c, before, now))
            .await
    }
}
