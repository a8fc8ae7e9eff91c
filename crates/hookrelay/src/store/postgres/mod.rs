//! The PostgreSQL backend: several hookrelay nodes sharing one database.
//!
//! - Migrations ([`migrate`]) run at start under an advisory lock, so nodes may start together.
//! - Ingest is group-committed ([`committer`]): concurrent requests share one transaction.
//! - Deliveries are claimed in batches with `FOR UPDATE SKIP LOCKED` and a lease; a node that
//!   dies leaves leases that expire, and then any node takes that work. Leases are therefore
//!   never released wholesale at start (unlike SQLite, which has one node by nature).
//! - Idle nodes are woken by `LISTEN/NOTIFY` ([`listener`]); the engine's polling is the fallback.
//! - An unreachable database yields [`StoreError::Unavailable`] (ingest answers 503; the engine
//!   keeps attempt outcomes and retries); the pool opens fresh connections once it is back.
//!
//! Statements live in [`sql`], one named function each; rows become domain values in [`rows`].

mod committer;
mod dashboard;
mod error;
mod health;
mod ingest;
mod listener;
mod migrate;
mod open;
mod pool;
mod recovery;
mod resend;
mod rows;
mod sessions;
mod sql;
mod upkeep;
mod visitor_details;
mod webhooks;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::domain::auto_disable::Failing;
use crate::domain::dashboard::MinuteCount;
use crate::domain::delivery::{Delivery, DeliveryFilter, DeliveryId};
use crate::domain::event::NewEvent;
use crate::domain::ingest_plan::Placement;
use crate::domain::job::{AttemptRecord, DeliveryJob};
use crate::domain::license::License;
use crate::domain::recovery::Recovery;
use crate::domain::visitor_details::VisitorDetails;
use crate::domain::webhook::Webhook;
use crate::domain::{now_ms, Millis};
use crate::store::{
    DeliveryDetail, HealthChanges, Ingested, News, NextDue, Notices, Purged, Resend, Store,
    StoreError, StoreResult, WebhookChanges,
};
use committer::Committer;
use ingest::IngestRequest;
use rows::internal;
use sql::{accounts, deliveries};

pub struct PostgresStore {
    pool: Pool,
    committer: Mutex<Option<Committer>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    listener: JoinHandle<()>,
    wake: Arc<Notify>,
    news: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<News>>,
    /// The `NOTIFY` channel of this database schema.
    channel: String,
    /// This node's id (random per process), for the listen sessions its sockets hold.
    node: String,
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        let c = self.client().await?;
        c.simple_query("SELECT 1").await.map_err(error::db)?;
        Ok(())
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        accounts::setting(&self.client().await?, key)
            .await
            .map_err(error::db)
    }

    async fn init_setting(&self, key: &str, value: &str) -> StoreResult<String> {
        accounts::init_setting(&self.client().await?, key, value)
            .await
            .map_err(error::db)
    }

    async fn create_license(&self, license: License) -> StoreResult<()> {
        accounts::insert_license(&self.client().await?, &license)
            .await
            .map_err(error::db)
    }

    async fn license(&self, license_id: &str) -> StoreResult<Option<License>> {
        let row = accounts::license_by_id(&self.client().await?, license_id).await;
        Ok(row.map_err(error::db)?.as_ref().map(rows::license))
    }

    async fn license_by_key_hash(&self, hash: [u8; 32]) -> StoreResult<Option<License>> {
        let row = accounts::license_by_key_hash(&self.client().await?, &hash).await;
        Ok(row.map_err(error::db)?.as_ref().map(rows::license))
    }

    async fn license_count(&self) -> StoreResult<i64> {
        accounts::license_count(&self.client().await?)
            .await
            .map_err(error::db)
    }

    async fn licenses(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<License>> {
        let found = accounts::licenses_after(&self.client().await?, after, limit).await;
        Ok(found
            .map_err(error::db)?
            .iter()
            .map(rows::license)
            .collect())
    }

    async fn create_webhook(&self, webhook: Webhook) -> StoreResult<()> {
        accounts::insert_webhook(&self.client().await?, &webhook, &self.node)
            .await
            .map_err(error::db)
    }

    async fn webhooks(&self, license_id: &str) -> StoreResult<Vec<Webhook>> {
        let found = accounts::webhooks_of(&self.client().await?, license_id).await;
        let found = found.map_err(error::db)?;
        found
            .iter()
            .map(rows::webhook)
            .collect::<Result<_, _>>()
            .map_err(internal)
    }

    async fn webhook(&self, license_id: &str, id: &str) -> StoreResult<Option<Webhook>> {
        let found = accounts::webhook(&self.client().await?, license_id, id).await;
        found
            .map_err(error::db)?
            .as_ref()
            .map(rows::webhook)
            .transpose()
            .map_err(internal)
    }

    async fn update_webhook(
        &self,
        license_id: &str,
        id: &str,
        changes: WebhookChanges,
        now: Millis,
    ) -> StoreResult<Option<Webhook>> {
        let mut c = self.client().await?;
        let updated = webhooks::update(&mut c, license_id, id, &changes, now, &self.channel)
            .await
            .map_err(error::db)?;
        drop(c);
        match updated {
            webhooks::Updated::Missing => Ok(None),
            webhooks::Updated::Stale => {
                Err(StoreError::Conflict(crate::store::SIGNING_RACE.into()))
            }
            webhooks::Updated::Done => self.webhook(license_id, id).await,
        }
    }

    async fn delete_webhook(&self, license_id: &str, id: &str, now: Millis) -> StoreResult<bool> {
        let mut c = self.client().await?;
        webhooks::delete(&mut c, license_id, id, now, &self.channel)
            .await
            .map_err(error::db)
    }

    async fn ingest(
        &self,
        license: &License,
        events: Vec<NewEvent>,
        placement: Placement,
    ) -> StoreResult<Vec<Ingested>> {
        let committer = self.committer.lock().expect("committer lock").clone();
        let Some(committer) = committer else {
            return Err(StoreError::Unavailable("the store is closed".into()));
        };
        committer
            .ingest(IngestRequest {
                license: license.clone(),
                events,
                placement,
            })
            .await
    }

    async fn claim_due(
        &self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
    ) -> StoreResult<Vec<DeliveryJob>> {
        let c = self.client().await?;
        let claimed = deliveries::claim_due(&c, now, limit, lease_until, &self.node).await;
        claimed
            .map_err(error::db)?
            .iter()
            .map(|r| rows::job(r, 0))
            .collect::<Result<_, _>>()
            .map_err(internal)
    }

    async fn next_due_at(&self) -> StoreResult<NextDue> {
        deliveries::next_due_at(&self.client().await?, &self.node)
            .await
            .map_err(error::db)
    }

    async fn record_attempts(
        &self,
        records: Arc<[AttemptRecord]>,
        now: Millis,
        window: Duration,
    ) -> StoreResult<HealthChanges> {
        if records.is_empty() {
            return Ok(HealthChanges::default());
        }
        let mut c = self.client().await?;
        health::record_attempts(&mut c, &records, now, window, &self.channel)
            .await
            .map_err(error::db)
    }

    async fn release(
        &self,
        leases: Vec<(DeliveryId, Millis)>,
        due_at: Millis,
        window: Duration,
    ) -> StoreResult<()> {
        let c = self.client().await?;
        health::release(&c, leases, due_at, window, &self.channel)
            .await
            .map_err(error::db)
    }

    async fn arm_probes(&self, now: Millis, watchdog: Duration) -> StoreResult<usize> {
        let mut c = self.client().await?;
        health::arm_probes(&mut c, now, watchdog, &self.channel)
            .await
            .map_err(error::db)
    }

    async fn give_up_parked(
        &self,
        now: Millis,
        confirmed_since: Millis,
        message: &str,
        limit: usize,
    ) -> StoreResult<u64> {
        let mut c = self.client().await?;
        health::give_up_parked(&mut c, now, confirmed_since, message, limit)
            .await
            .map_err(error::db)
    }

    async fn failing_webhooks(&self, since_before: Millis) -> StoreResult<Vec<(Webhook, Failing)>> {
        upkeep::failing_webhooks(&self.client().await?, since_before).await
    }

    async fn notices(&self, limit: usize) -> StoreResult<Notices> {
        upkeep::notices(&self.client().await?, limit).await
    }

    async fn clear_notices(
        &self,
        webhooks: Vec<(String, Millis)>,
        deliveries: Vec<DeliveryId>,
    ) -> StoreResult<()> {
        upkeep::clear_notices(&self.client().await?, webhooks, deliveries).await
    }

    async fn unpark_stranded(&self, now: Millis) -> StoreResult<u64> {
        let c = self.client().await?;
        health::unpark_stranded(&c, now, &self.channel)
            .await
            .map_err(error::db)
    }

    async fn release_all_leases(&self) -> StoreResult<u64> {
        // Never called for PostgreSQL at start: other nodes may hold those leases right now.
        deliveries::release_all(&self.client().await?, now_ms())
            .await
            .map_err(error::db)
    }

    async fn deliveries(&self, license_id: &str, f: &DeliveryFilter) -> StoreResult<Vec<Delivery>> {
        resend::list(&self.client().await?, license_id, f).await
    }

    async fn delivery(
        &self,
        license_id: &str,
        id: DeliveryId,
    ) -> StoreResult<Option<DeliveryDetail>> {
        resend::detail(&self.client().await?, license_id, id).await
    }

    async fn resend(
        &self,
        license_id: &str,
        id: DeliveryId,
        now: Millis,
        lease_until: Millis,
    ) -> StoreResult<Resend> {
        resend::resend(&mut self.client().await?, license_id, id, now, lease_until).await
    }

    async fn pending_count(&self) -> StoreResult<i64> {
        deliveries::pending_count(&self.client().await?)
            .await
            .map_err(error::db)
    }

    async fn recover_failed(
        &self,
        which: &Recovery,
        dry_run: bool,
        now: Millis,
    ) -> StoreResult<u64> {
        recovery::recover(self, which, dry_run, now).await
    }

    async fn purge(&self, cutoff: Millis, limit: usize) -> StoreResult<Purged> {
        upkeep::purge(&mut self.client().await?, cutoff, limit).await
    }

    async fn purge_minutes(&self, before: Millis, limit: usize) -> StoreResult<u64> {
        dashboard::purge_minutes(&self.client().await?, before, limit).await
    }

    async fn delivery_minutes(
        &self,
        license: &str,
        since: Millis,
    ) -> StoreResult<Vec<MinuteCount>> {
        dashboard::delivery_minutes(&self.client().await?, license, since).await
    }

    async fn last_attempts(
        &self,
        license: &str,
        ids: Vec<String>,
    ) -> StoreResult<Vec<Option<Millis>>> {
        dashboard::last_attempts(&self.client().await?, license, &ids).await
    }

    async fn purged_through(&self, license_id: &str) -> StoreResult<i64> {
        upkeep::purged_through(&self.client().await?, license_id).await
    }

    async fn database_bytes(&self) -> StoreResult<u64> {
        upkeep::database_bytes(&self.client().await?).await
    }

    async fn put_visitor_details(&self, details: VisitorDetails) -> StoreResult<()> {
        visitor_details::put(&self.client().await?, &details).await
    }

    async fn visitor_details(
        &self,
        license: &str,
        visitor: &str,
    ) -> StoreResult<Vec<VisitorDetails>> {
        visitor_details::of(&self.client().await?, license, visitor).await
    }

    async fn wait_for_new_work(&self) {
        self.wake.notified().await;
    }

    async fn next_news(&self) -> News {
        match self.news.lock().await.recv().await {
            Some(news) => news,
            None => std::future::pending().await,
        }
    }

    async fn close(&self) {
        // Dropping the last handle lets the workers finish what is queued and stop.
        self.committer.lock().expect("committer lock").take();
        let workers = std::mem::take(&mut *self.workers.lock().expect("workers lock"));
        for w in workers {
            let _ = w.await;
        }
        self.listener.abort();
        self.pool.close();
    }
}
