//! Listen sessions on PostgreSQL: creating a session's webhooks, holding a session for this
//! node (with the notices that make other nodes follow), refreshing and letting go of holds, and
//! removing sessions nobody held for their grace. Each change is one transaction.

use super::listener::webhook_changed_payload;
use super::sql::{accounts, deliveries, sessions, targets};
use super::{error, internal, rows, PostgresStore};
use crate::domain::listen_session::UNHELD_WAIT;
use crate::domain::target::TargetUrl;
use crate::domain::webhook::Webhook;
use crate::domain::Millis;
use crate::store::{SessionStore, StoreResult};

#[async_trait::async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(&self, webhooks: Vec<Webhook>, _now: Millis) -> StoreResult<()> {
        create(self, &webhooks).await
    }

    async fn hold_session(
        &self,
        license_id: &str,
        session_id: &str,
        now: Millis,
        stale_before: Millis,
        take_over: bool,
    ) -> StoreResult<Vec<String>> {
        hold(self, license_id, session_id, now, stale_before, take_over).await
    }

    async fn touch_sessions(&self, ids: Vec<String>, now: Millis) -> StoreResult<Vec<String>> {
        touch(self, &ids, now).await
    }

    async fn release_session(&self, session_id: &str, now: Millis) -> StoreResult<()> {
        release(self, session_id, now).await
    }

    async fn remove_expired_sessions(
        &self,
        before: Millis,
        now: Millis,
    ) -> StoreResult<Vec<Webhook>> {
        remove_expired(self, before, now).await
    }
}

/// Inserts the session's webhooks, held by this node.
pub async fn create(store: &PostgresStore, webhooks: &[Webhook]) -> StoreResult<()> {
    let mut c = store.client().await?;
    let tx = c.transaction().await.map_err(error::db)?;
    for w in webhooks {
        accounts::insert_webhook(&tx, w, &store.node)
            .await
            .map_err(error::db)?;
    }
    tx.commit().await.map_err(error::db)
}

/// See [`crate::store::Store::hold_session`].
pub async fn hold(
    store: &PostgresStore,
    license_id: &str,
    session_id: &str,
    now: Millis,
    stale_before: Millis,
    take_over: bool,
) -> StoreResult<Vec<String>> {
    let url = TargetUrl::session(session_id);
    let mut c = store.client().await?;
    let run = async {
        let tx = c.transaction().await?;
        // The webhooks first, then their target, as a webhook change locks them.
        let ids = sessions::hold(
            &tx,
            license_id,
            url.as_stored(),
            &store.node,
            now,
            stale_before,
            take_over,
        )
        .await?;
        if !ids.is_empty() {
            targets::lock_targets(&tx, &[url.key().as_str()]).await?;
            sessions::make_due(&tx, &ids, now).await?;
            for id in &ids {
                deliveries::notify_with(&tx, &store.channel, &webhook_changed_payload(id)).await?;
            }
            deliveries::notify(&tx, &store.channel).await?;
        }
        tx.commit().await?;
        Ok::<_, tokio_postgres::Error>(ids)
    };
    run.await.map_err(error::db)
}

/// See [`crate::store::Store::touch_sessions`].
pub async fn touch(store: &PostgresStore, ids: &[String], now: Millis) -> StoreResult<Vec<String>> {
    let urls: Vec<String> = ids
        .iter()
        .map(|id| TargetUrl::session(id).as_stored().to_string())
        .collect();
    let held = sessions::touch(&store.client().await?, &urls, &store.node, now)
        .await
        .map_err(error::db)?;
    Ok(held
        .iter()
        .filter_map(|url| Some(TargetUrl::stored(url).ok()?.session_id()?.to_string()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect())
}

/// See [`crate::store::Store::release_session`].
pub async fn release(store: &PostgresStore, session_id: &str, now: Millis) -> StoreResult<()> {
    let url = TargetUrl::session(session_id);
    let mut c = store.client().await?;
    let run = async {
        let tx = c.transaction().await?;
        let ids = sessions::release(&tx, url.as_stored(), &store.node, now).await?;
        let away = now + UNHELD_WAIT.as_millis() as Millis;
        sessions::wait_until(&tx, &ids, now, away).await?;
        tx.commit().await
    };
    run.await.map_err(error::db)
}

/// See [`crate::store::Store::remove_expired_sessions`].
pub async fn remove_expired(
    store: &PostgresStore,
    before: Millis,
    now: Millis,
) -> StoreResult<Vec<Webhook>> {
    let mut c = store.client().await?;
    let found = sessions::expired(&c, before).await.map_err(error::db)?;
    let expired: Vec<Webhook> = found
        .iter()
        .map(rows::webhook)
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    let mut removed = Vec::with_capacity(expired.len());
    for w in expired {
        let run = async {
            let tx = c.transaction().await?;
            let deleted = sessions::delete_expired(&tx, &w.license_id, &w.id, before).await?;
            if deleted {
                targets::forget_probe_of(&tx, &w.id, now).await?;
                accounts::fail_deliveries_of_webhook(&tx, &w.id, now).await?;
                deliveries::notify_with(&tx, &store.channel, &webhook_changed_payload(&w.id))
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, tokio_postgres::Error>(deleted)
        };
        if run.await.map_err(error::db)? {
            removed.push(w);
        }
    }
    Ok(removed)
}
