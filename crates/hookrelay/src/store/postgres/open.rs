//! Opening the PostgreSQL store: the pool, migrations (and the one-off fill of webhooks' target
//! keys), the notification listener and the group-commit workers.

use std::sync::{Arc, Mutex};

use deadpool_postgres::Object;
use tokio::sync::Notify;

use super::committer::Committer;
use super::{error, health, listener, migrate, pool, PostgresStore};
use crate::store::StoreResult;

impl PostgresStore {
    /// Connects, brings the schema up to date and starts the commit and notification tasks.
    pub async fn open(url: &str) -> anyhow::Result<PostgresStore> {
        let (config, pool) = pool::connect(url)?;
        let schema: String = {
            let mut client = pool.get().await.map_err(|e| {
                anyhow::anyhow!("cannot connect to {}: {e}", crate::config::redact_url(url))
            })?;
            migrate::run(&mut client).await?;
            health::backfill_target_keys(&client).await?;
            client
                .query_one("SELECT current_schema()", &[])
                .await?
                .get(0)
        };
        let channel = format!("hookrelay_work.{schema}");
        let wake = Arc::new(Notify::new());
        let (news_tx, news_rx) = tokio::sync::mpsc::unbounded_channel();
        let to = listener::Listeners {
            wake: wake.clone(),
            news: news_tx,
        };
        let listener = listener::start(config, channel.clone(), to);
        let node = crate::domain::listen_session::new_node_id();
        let (committer, workers) = Committer::start(pool.clone(), channel.clone(), node.clone());
        Ok(PostgresStore {
            pool,
            committer: Mutex::new(Some(committer)),
            workers: Mutex::new(workers),
            listener,
            wake,
            news: tokio::sync::Mutex::new(news_rx),
            channel,
            node,
        })
    }

    pub(super) async fn client(&self) -> StoreResult<Object> {
        self.pool.get().await.map_err(error::pool)
    }
}
