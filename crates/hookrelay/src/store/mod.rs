//! Storage: everything hookrelay keeps, behind one trait. Each backend is a module that owns its
//! SQL and migrations; [`open`] picks one by the URL scheme.
//!
//! The trait speaks in intents (`ingest`, `claim_due`, `record_attempts`), not in tables, so the
//! delivery engine and the HTTP API never see SQL. Writes that must be durable before the API
//! answers (`ingest`) only return after the commit; backends group concurrent writes into shared
//! commits so that durability does not cost one fsync per request.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use livechat_webhooks::EventType;

use crate::domain::delivery::{Attempt, Delivery, DeliveryFilter, DeliveryId};
use crate::domain::event::NewEvent;
use crate::domain::license::License;
use crate::domain::visitor_details::VisitorDetails;
use crate::domain::webhook::Webhook;
use crate::domain::Millis;

pub mod postgres;
pub mod sqlite;

/// What can go wrong in a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the text names what already exists.
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached right now; the caller may retry later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One attempt to make: everything the sender needs, with the body already composed.
#[derive(Debug, Clone)]
pub struct DeliveryJob {
    pub id: DeliveryId,
    /// The number this attempt will have (1 for the first).
    pub attempt_no: i64,
    pub license_id: String,
    pub webhook_id: String,
    pub event_type: EventType,
    /// The target URL as stored, credentials included.
    pub url: String,
    pub body: Bytes,
    /// When the delivery was created, last attempted or resent: a delivery put off (never tried)
    /// since longer than the retry window fails instead of waiting for its target forever.
    pub idle_since: Millis,
}

/// The result of ingesting one event.
#[derive(Debug, Clone)]
pub struct Ingested {
    pub event_id: String,
    /// How many deliveries the event produced (0 for a `chat_changed` with unchanged tags).
    pub deliveries: usize,
    /// True when the `Idempotency-Key` was seen before: nothing new was stored.
    pub duplicate: bool,
    /// The new deliveries, already leased to this node, when the caller asked for that.
    pub jobs: Vec<DeliveryJob>,
}

/// Where the deliveries an ingest creates go: leased to this node and returned as jobs (the happy
/// path, no claim round-trip), left for [`Store::claim_due`], or put off when their target is held
/// back (saturated or not answering), so that they are not leased only to be handed back.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// Lease new deliveries to the caller until then; `None` leaves them to `claim_due`.
    pub lease_until: Option<Millis>,
    /// Webhooks whose target is held back, with when their new deliveries fall due.
    pub held: Arc<HashMap<String, Millis>>,
}

impl Placement {
    /// Leases every new delivery until `until`.
    pub fn leased(until: Millis) -> Placement {
        Placement {
            lease_until: Some(until),
            held: Arc::default(),
        }
    }

    /// `(next_attempt_at, lease_until)` of a new delivery to `webhook_id` created at `now`.
    pub fn place(&self, webhook_id: &str, now: Millis) -> (Millis, Option<Millis>) {
        match self.held.get(webhook_id) {
            Some(&due) if due > now => (due, None),
            _ => (self.lease_until.unwrap_or(now), self.lease_until),
        }
    }
}

/// What happened to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    RetryAt(Millis),
    Failed,
}

/// One finished attempt, to be recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: DeliveryId,
    pub attempt: Attempt,
    pub outcome: Outcome,
}

/// A delivery with everything needed to show it: the exact body and every attempt.
#[derive(Debug, Clone)]
pub struct DeliveryDetail {
    pub delivery: Delivery,
    pub license_id: String,
    pub body: String,
    pub attempts: Vec<Attempt>,
}

/// The answer to a resend request.
#[derive(Debug)]
pub enum Resend {
    NotFound,
    /// An attempt is under way right now; resending would send it twice at once.
    InFlight,
    /// Its webhook is gone, so there is nowhere to send it.
    WebhookDeleted,
    Job(DeliveryJob),
}

/// Changes to a webhook (`None`: keep).
#[derive(Debug, Clone, Default)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub data_types: Option<u8>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

/// Everything hookrelay stores. Implemented by [`sqlite::SqliteStore`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;

    /// A server-wide setting (the admin token's hash).
    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Sets a setting unless it is already set; returns the value now stored.
    async fn init_setting(&self, key: &str, value: &str) -> StoreResult<String>;

    async fn create_license(&self, license: License) -> StoreResult<()>;
    async fn license(&self, license_id: &str) -> StoreResult<Option<License>>;
    async fn license_by_key_hash(&self, hash: [u8; 32]) -> StoreResult<Option<License>>;
    async fn license_by_login(&self, login: &str) -> StoreResult<Option<License>>;
    async fn license_count(&self) -> StoreResult<i64>;
    /// Up to `limit` licenses ordered by `license_id`, starting after `after` (keyset paging, so
    /// an admin's console stays fast however many tenants there are).
    async fn licenses(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<License>>;

    async fn create_webhook(&self, webhook: Webhook) -> StoreResult<()>;
    async fn webhooks(&self, license_id: &str) -> StoreResult<Vec<Webhook>>;
    async fn webhook(&self, license_id: &str, id: &str) -> StoreResult<Option<Webhook>>;
    /// Applies `changes`; returns the webhook as it is now, or `None` if it does not exist.
    async fn update_webhook(
        &self,
        license_id: &str,
        id: &str,
        changes: WebhookChanges,
        now: Millis,
    ) -> StoreResult<Option<Webhook>>;
    /// Removes a webhook; its pending deliveries become `failed`. False if it did not exist.
    async fn delete_webhook(&self, license_id: &str, id: &str, now: Millis) -> StoreResult<bool>;

    /// Durably stores events and one delivery per matching enabled webhook, applying the
    /// `chat_changed` tag rule and idempotency keys. Each new delivery is placed as
    /// [`Placement::place`] says: the leased ones are returned as jobs, the others wait for
    /// [`Store::claim_due`].
    async fn ingest(
        &self,
        license: &License,
        events: Vec<NewEvent>,
        now: Millis,
        placement: Placement,
    ) -> StoreResult<Vec<Ingested>>;

    /// Leases up to `limit` pending deliveries that are due and not leased, earliest first.
    async fn claim_due(
        &self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
    ) -> StoreResult<Vec<DeliveryJob>>;
    /// When the earliest pending, unleased delivery is due (`None` if there is none).
    async fn next_due_at(&self) -> StoreResult<Option<Millis>>;
    /// Records finished attempts and moves their deliveries on; releases their leases.
    async fn record_attempts(&self, records: Vec<AttemptRecord>) -> StoreResult<()>;
    /// Gives back leased deliveries without an attempt (e.g. at shutdown), due at `due_at`.
    async fn release(&self, ids: Vec<DeliveryId>, due_at: Millis) -> StoreResult<()>;
    /// Makes pending, unleased deliveries of these webhooks that are due after `at` due at `at`
    /// (their target answers again), the earliest first, at most `limit` of them; returns how
    /// many. Only deliveries whose last attempt got no answer at all (or that were never tried)
    /// are moved: a retry after an HTTP error keeps its backoff and its `Retry-After`.
    async fn bring_forward(
        &self,
        webhook_ids: Vec<String>,
        at: Millis,
        limit: Option<usize>,
    ) -> StoreResult<u64>;
    /// Releases every lease. Only for a single node at start: nothing can be in flight.
    async fn release_all_leases(&self) -> StoreResult<u64>;

    async fn deliveries(
        &self,
        license_id: &str,
        filter: &DeliveryFilter,
    ) -> StoreResult<Vec<Delivery>>;
    async fn delivery(
        &self,
        license_id: &str,
        id: DeliveryId,
    ) -> StoreResult<Option<DeliveryDetail>>;
    /// Makes a delivery pending and due now, leased to the caller.
    async fn resend(
        &self,
        license_id: &str,
        id: DeliveryId,
        now: Millis,
        lease_until: Millis,
    ) -> StoreResult<Resend>;
    /// Pending deliveries (for the queue-depth gauge).
    async fn pending_count(&self) -> StoreResult<i64>;

    /// Stores one set of visitor details (Visitors API). A set is identified by
    /// `(license_id, visitor_id, id)`: pushing the same `id` again for the same visitor replaces
    /// its `icon`, `fields` and `updated_at` but keeps the first `created_at`; sets with other
    /// ids are left alone. Durable when it returns, like every write.
    async fn put_visitor_details(&self, details: VisitorDetails) -> StoreResult<()>;
    /// Every set of details stored for one visitor of one license, oldest set first (by
    /// `created_at`, then `id`); empty when there are none.
    async fn visitor_details(
        &self,
        license_id: &str,
        visitor_id: &str,
    ) -> StoreResult<Vec<VisitorDetails>>;

    /// Completes when another node may have stored due work for this one (PostgreSQL's
    /// `LISTEN/NOTIFY`), so an idle engine looks at once instead of at its next poll. A backend
    /// with a single node never has such news: the default waits forever.
    async fn wait_for_new_work(&self) {
        std::future::pending::<()>().await
    }

    /// Waits until everything accepted so far is written, then stops the backend's workers.
    async fn close(&self);
}

/// Opens the store a database URL names, running migrations.
pub async fn open(database_url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        Ok(Arc::new(sqlite::SqliteStore::open(path).await?))
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::open(database_url).await?))
    } else {
        anyhow::bail!(
            "database_url: unsupported scheme in `{}`; use sqlite://PATH or postgres://...",
            crate::config::redact_url(database_url)
        )
    }
}
