//! The embedded SQLite backend: one file, WAL mode, `synchronous=FULL` so a commit survives a
//! power cut, one writer thread with group commit ([`writer`]) and a few reader connections.
//! Single node only: several processes on one file would fight over the write lock and the
//! leases (that is what the PostgreSQL backend is for), so the store holds an exclusive lock on
//! `PATH.lock` while it is open and a second process is refused with a clear error.

mod connection;
mod open;
mod queries;
mod rows;
mod sessions;
mod writer;

use std::fs::File;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::Connection;

use crate::domain::auto_disable::{self, Failing};
use crate::domain::dashboard::{self, MinuteCount};
use crate::domain::delivery::{Delivery, DeliveryFilter, DeliveryId};
use crate::domain::event::NewEvent;
use crate::domain::health::window_ms;
use crate::domain::ingest_plan::Placement;
use crate::domain::job::{AttemptRecord, DeliveryJob};
use crate::domain::license::License;
use crate::domain::recovery::Recovery;
use crate::domain::visitor_details::VisitorDetails;
use crate::domain::webhook::Webhook;
use crate::domain::Millis;
use crate::store::{
    DeliveryDetail, HealthChanges, Ingested, NextDue, Notices, Purged, Resend, Store, StoreResult,
    WebhookChanges, RECOVER_BATCH,
};
use writer::Writer;

pub struct SqliteStore {
    /// The lock on `PATH.lock`, held until [`Store::close`] (or the process ends).
    lock: Mutex<Option<File>>,
    writer: Mutex<Option<Writer>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: String,
    /// This process's node id, for the listen sessions its sockets hold (a restarted process
    /// holds none until their commands reconnect).
    node: Arc<str>,
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_string();
        self.read(move |c| queries::setting(c, &key)).await
    }

    async fn init_setting(&self, key: &str, value: &str) -> StoreResult<String> {
        let (key, value) = (key.to_string(), value.to_string());
        self.write(move |c| queries::init_setting(c, &key, &value))
            .await
    }

    async fn create_license(&self, license: License) -> StoreResult<()> {
        self.write(move |c| queries::insert_license(c, &license))
            .await
    }

    async fn license(&self, license_id: &str) -> StoreResult<Option<License>> {
        let id = license_id.to_string();
        self.read(move |c| queries::license_where(c, "license_id", &id))
            .await
    }

    async fn license_by_key_hash(&self, hash: [u8; 32]) -> StoreResult<Option<License>> {
        self.read(move |c| queries::license_where(c, "api_key_hash", &hash.to_vec()))
            .await
    }

    async fn license_count(&self) -> StoreResult<i64> {
        self.read(queries::license_count).await
    }

    async fn licenses(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<License>> {
        let after = after.map(str::to_string);
        self.read(move |c| queries::licenses_after(c, after.as_deref(), limit))
            .await
    }

    async fn create_webhook(&self, webhook: Webhook) -> StoreResult<()> {
        let node = self.node.clone();
        self.write(move |c| queries::insert_webhook(c, &webhook, &node))
            .await
    }

    async fn webhooks(&self, license_id: &str) -> StoreResult<Vec<Webhook>> {
        let id = license_id.to_string();
        self.read(move |c| queries::webhooks_of(c, &id)).await
    }

    async fn webhook(&self, license_id: &str, id: &str) -> StoreResult<Option<Webhook>> {
        let (license_id, id) = (license_id.to_string(), id.to_string());
        self.read(move |c| queries::webhook(c, &license_id, &id))
            .await
    }

    async fn update_webhook(
        &self,
        license_id: &str,
        id: &str,
        changes: WebhookChanges,
        now: Millis,
    ) -> StoreResult<Option<Webhook>> {
        let (license_id, id) = (license_id.to_string(), id.to_string());
        self.write(move |c| queries::update_webhook(c, &license_id, &id, &changes, now))
            .await
    }

    async fn delete_webhook(&self, license_id: &str, id: &str, now: Millis) -> StoreResult<bool> {
        let (license_id, id) = (license_id.to_string(), id.to_string());
        self.write(move |c| queries::delete_webhook(c, &license_id, &id, now))
            .await
    }

    async fn ingest(
        &self,
        license: &License,
        events: Vec<NewEvent>,
        placement: Placement,
    ) -> StoreResult<Vec<Ingested>> {
        let license = license.clone();
        let node = self.node.clone();
        self.write(move |c| queries::ingest_events(c, &license, &events, placement, &node))
            .await
    }

    async fn claim_due(
        &self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
    ) -> StoreResult<Vec<DeliveryJob>> {
        let node = self.node.clone();
        self.write(move |c| queries::claim_due(c, now, limit, lease_until, &node))
            .await
    }

    async fn next_due_at(&self) -> StoreResult<NextDue> {
        let node = self.node.clone();
        self.read(move |c| queries::next_due_at(c, &node)).await
    }

    async fn record_attempts(
        &self,
        records: Arc<[AttemptRecord]>,
        now: Millis,
        window: Duration,
    ) -> StoreResult<HealthChanges> {
        self.write(move |c| {
            records
                .iter()
                .try_for_each(|r| queries::record_attempt(c, r))?;
            queries::track_failures(c, &auto_disable::track(&records))?;
            queries::add_minutes(c, &dashboard::count_attempts(&records))?;
            queries::apply_health(c, &records, now, window_ms(window))
        })
        .await
    }

    async fn release(
        &self,
        leases: Vec<(DeliveryId, Millis)>,
        due_at: Millis,
        window: Duration,
    ) -> StoreResult<()> {
        self.write(move |c| {
            leases.iter().try_for_each(|(id, lease)| {
                queries::release(c, *id, *lease, due_at, window_ms(window))
            })
        })
        .await
    }

    async fn arm_probes(&self, now: Millis, watchdog: Duration) -> StoreResult<usize> {
        let watchdog = watchdog.as_millis() as Millis;
        let idle = crate::domain::health::MAX_PROBE_GAP.as_millis() as Millis;
        self.write(move |c| queries::arm_probes(c, now, watchdog, idle))
            .await
    }

    async fn give_up_parked(
        &self,
        now: Millis,
        confirmed_since: Millis,
        message: &str,
        limit: usize,
    ) -> StoreResult<u64> {
        let message = message.to_string();
        self.write(move |c| queries::give_up_parked(c, now, confirmed_since, &message, limit))
            .await
    }

    async fn failing_webhooks(&self, since_before: Millis) -> StoreResult<Vec<(Webhook, Failing)>> {
        self.read(move |c| queries::failing_webhooks(c, since_before))
            .await
    }

    async fn notices(&self, limit: usize) -> StoreResult<Notices> {
        self.read(move |c| {
            Ok(Notices {
                disabled: queries::disable_notices(c, limit)?,
                failed: queries::failure_notices(c, limit)?,
            })
        })
        .await
    }

    async fn clear_notices(
        &self,
        webhooks: Vec<(String, Millis)>,
        deliveries: Vec<DeliveryId>,
    ) -> StoreResult<()> {
        self.write(move |c| queries::clear_notices(c, &webhooks, &deliveries))
            .await
    }

    async fn unpark_stranded(&self, now: Millis) -> StoreResult<u64> {
        self.write(move |c| queries::unpark_stranded(c, now).map(|n| n as u64))
            .await
    }

    async fn release_all_leases(&self) -> StoreResult<u64> {
        self.write(|c| queries::release_all_leases(c, crate::domain::now_ms()))
            .await
    }

    async fn deliveries(
        &self,
        license_id: &str,
        filter: &DeliveryFilter,
    ) -> StoreResult<Vec<Delivery>> {
        let (license_id, filter) = (license_id.to_string(), filter.clone());
        self.read(move |c| queries::deliveries(c, &license_id, &filter))
            .await
    }

    async fn delivery(
        &self,
        license_id: &str,
        id: DeliveryId,
    ) -> StoreResult<Option<DeliveryDetail>> {
        let license_id = license_id.to_string();
        self.read(move |c| {
            let Some((delivery, body)) = queries::delivery(c, &license_id, id)? else {
                return Ok(None);
            };
            let attempts = queries::attempts(c, id)?;
            Ok(Some(DeliveryDetail {
                delivery,
                license_id,
                body,
                attempts,
            }))
        })
        .await
    }

    async fn resend(
        &self,
        license_id: &str,
        id: DeliveryId,
        now: Millis,
        lease_until: Millis,
    ) -> StoreResult<Resend> {
        let license_id = license_id.to_string();
        self.write(move |c| queries::lease_for_resend(c, &license_id, id, now, lease_until))
            .await
    }

    async fn pending_count(&self) -> StoreResult<i64> {
        self.read(queries::pending_count).await
    }

    async fn recover_failed(
        &self,
        which: &Recovery,
        dry_run: bool,
        now: Millis,
    ) -> StoreResult<u64> {
        super::in_recovery_steps(|after| {
            let which = which.clone();
            let step = move |c: &Connection| {
                queries::recover_failed_step(c, &which, after, RECOVER_BATCH, dry_run, now)
            };
            async move {
                if dry_run {
                    self.read(step).await
                } else {
                    self.write(step).await
                }
            }
        })
        .await
    }

    async fn purge(&self, cutoff: Millis, limit: usize) -> StoreResult<Purged> {
        self.write(move |c| queries::purge(c, cutoff, limit)).await
    }

    async fn purge_minutes(&self, before: Millis, limit: usize) -> StoreResult<u64> {
        self.write(move |c| queries::purge_minutes(c, before, limit))
            .await
    }

    async fn delivery_minutes(
        &self,
        license_id: &str,
        since: Millis,
    ) -> StoreResult<Vec<MinuteCount>> {
        let license_id = license_id.to_string();
        self.read(move |c| queries::minutes_since(c, &license_id, since))
            .await
    }

    async fn last_attempts(
        &self,
        license_id: &str,
        webhook_ids: Vec<String>,
    ) -> StoreResult<Vec<Option<Millis>>> {
        let license_id = license_id.to_string();
        self.read(move |c| {
            webhook_ids
                .iter()
                .map(|w| queries::last_attempt_at(c, &license_id, w))
                .collect()
        })
        .await
    }

    async fn purged_through(&self, license_id: &str) -> StoreResult<i64> {
        let license_id = license_id.to_string();
        self.read(move |c| queries::purged_through(c, &license_id))
            .await
    }

    async fn database_bytes(&self) -> StoreResult<u64> {
        let size = |suffix: &str| {
            std::fs::metadata(format!("{}{suffix}", self.path)).map_or(0, |m| m.len())
        };
        Ok(size("") + size("-wal"))
    }

    async fn put_visitor_details(&self, details: VisitorDetails) -> StoreResult<()> {
        self.write(move |c| queries::upsert_visitor_details(c, &details))
            .await
    }

    async fn visitor_details(
        &self,
        license_id: &str,
        visitor_id: &str,
    ) -> StoreResult<Vec<VisitorDetails>> {
        let (license_id, visitor_id) = (license_id.to_string(), visitor_id.to_string());
        self.read(move |c| queries::visitor_details_of(c, &license_id, &visitor_id))
            .await
    }

    async fn close(&self) {
        // Dropping the last handle ends the writer thread after it commits what it holds.
        self.writer.lock().expect("writer lock").take();
        let thread = self.writer_thread.lock().expect("writer thread").take();
        if let Some(t) = thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        // Everything is written: another process may have the file now.
        self.lock.lock().expect("lock file").take();
    }
}

#[cfg(test)]
mod tests;
