//! Storage: everything hookrelay keeps, behind one trait. Each backend is a module that owns its
//! SQL and migrations; [`open`] picks one by the URL scheme.
//!
//! The trait speaks in intents (`ingest`, `claim_due`, `record_attempts`), not in tables, so the
//! delivery engine and the HTTP API never see SQL. Writes that must be durable before the API
//! answers (`ingest`) only return after the commit; backends group concurrent writes into shared
//! commits so that durability does not cost one fsync per request.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::auto_disable::Failing;
use crate::domain::dashboard::MinuteCount;
use crate::domain::delivery::{Attempt, Delivery, DeliveryFilter, DeliveryId};
use crate::domain::event::NewEvent;
use crate::domain::ingest_plan::Placement;
use crate::domain::job::{AttemptRecord, DeliveryJob};
use crate::domain::license::License;
use crate::domain::recovery::Recovery;
use crate::domain::visitor_details::VisitorDetails;
use crate::domain::webhook::Webhook;
use crate::domain::Millis;

mod columns;
pub mod postgres;
mod recovery_steps;
mod sessions;
pub mod sqlite;
mod webhook_changes;

use recovery_steps::in_recovery_steps;
pub use recovery_steps::{RecoveryStep, RECOVER_BATCH};
pub use sessions::SessionStore;
pub use webhook_changes::{stored_signing, AutoDisabled, WebhookChanges, SIGNING_RACE};

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

/// The result of ingesting one event.
#[derive(Debug, Clone)]
pub struct Ingested {
    pub event_id: String,
    /// How many deliveries the event produced (0 for a `chat_changed` with unchanged tags).
    pub deliveries: usize,
    /// True when the `Idempotency-Key` was seen before: nothing new was stored.
    pub duplicate: bool,
    /// The new deliveries leased to this node (see [`Placement::lease_until`]).
    pub jobs: Vec<DeliveryJob>,
    /// How many new deliveries were left due for any node's claimer (neither leased nor parked).
    pub left_due: usize,
}

/// When the claimer has work next.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NextDue {
    /// The earliest due time of an unparked pending delivery of an enabled webhook.
    pub delivery: Option<Millis>,
    /// The earliest next probe of a silent target.
    pub probe: Option<Millis>,
}

/// A change made elsewhere (by another node) that this node's engine must follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum News {
    /// A webhook's URL or state changed, or it was deleted.
    WebhookChanged(String),
    /// A target fell silent and its deliveries were parked.
    TargetParked(String),
}

/// What recording a batch of attempts changed in the health of their targets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthChanges {
    /// Targets whose deliveries were parked (they are silent): jobs held in memory for them are
    /// to be handed back.
    pub parked: Vec<String>,
    /// Whether some target answered again and its parked deliveries are due now.
    pub unparked: bool,
}

/// What one purge batch removed, by kind (the `kind` label of `hookrelay_purged_total`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub deliveries: u64,
    pub attempts: u64,
    pub events: u64,
    pub chat_tags: u64,
}

impl Purged {
    /// Whether some kind filled its batch: there may be more to remove right away.
    pub fn full(&self, limit: usize) -> bool {
        let limit = limit as u64;
        self.deliveries >= limit || self.events >= limit || self.chat_tags >= limit
    }
}

/// What hookrelay still owes operational events for: webhooks it disabled and deliveries that
/// failed for good, each until [`Store::clear_notices`] says its event was ingested.
#[derive(Debug, Clone, Default)]
pub struct Notices {
    /// Webhooks disabled by hookrelay whose `webhook_disabled` event is still to be produced.
    pub disabled: Vec<Webhook>,
    /// Deliveries (with their license) whose `delivery_failed` event is still to be produced.
    pub failed: Vec<(String, Delivery)>,
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

/// Everything hookrelay stores. Implemented by [`sqlite::SqliteStore`] and
/// [`postgres::PostgresStore`]. The trait holds no rules: the rules it applies are the domain's
/// pure functions, called with what the backend looked up.
#[async_trait]
pub trait Store: SessionStore + Send + Sync + 'static {
    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> StoreResult<()>;

    /// A server-wide setting (the admin token's hash).
    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Sets a setting unless it is already set; returns the value now stored.
    async fn init_setting(&self, key: &str, value: &str) -> StoreResult<String>;

    async fn create_license(&self, license: License) -> StoreResult<()>;
    async fn license(&self, license_id: &str) -> StoreResult<Option<License>>;
    async fn license_by_key_hash(&self, hash: [u8; 32]) -> StoreResult<Option<License>>;
    async fn license_count(&self) -> StoreResult<i64>;
    /// Up to `limit` licenses ordered by `license_id`, starting after `after` (keyset paging, so
    /// an admin's console stays fast however many tenants there are).
    async fn licenses(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<License>>;

    async fn create_webhook(&self, webhook: Webhook) -> StoreResult<()>;
    async fn webhooks(&self, license_id: &str) -> StoreResult<Vec<Webhook>>;
    async fn webhook(&self, license_id: &str, id: &str) -> StoreResult<Option<Webhook>>;
    /// Applies `changes`; returns the webhook as it is now, or `None` if it does not exist. A new
    /// URL or a change of `enabled` makes its parked deliveries due now (the new target may
    /// answer; a re-enabled webhook starts afresh), with a wake-up for every node. An
    /// [`AutoDisabled`] change whose failure streak is over by now changes nothing.
    async fn update_webhook(
        &self,
        license_id: &str,
        id: &str,
        changes: WebhookChanges,
        now: Millis,
    ) -> StoreResult<Option<Webhook>>;
    /// Removes a webhook; its pending deliveries become `failed`. False if it did not exist.
    async fn delete_webhook(&self, license_id: &str, id: &str, now: Millis) -> StoreResult<bool>;

    /// Durably stores events and their deliveries as [`crate::domain::ingest_plan::plan`]
    /// decides (idempotency keys, the `chat_changed` tag rule, parked / leased / due). The leased
    /// deliveries are returned as jobs; the others wait for [`Store::claim_due`].
    async fn ingest(
        &self,
        license: &License,
        events: Vec<NewEvent>,
        placement: Placement,
    ) -> StoreResult<Vec<Ingested>>;

    /// Leases up to `limit` pending, unparked deliveries of enabled webhooks that are due, the
    /// earliest first.
    async fn claim_due(
        &self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
    ) -> StoreResult<Vec<DeliveryJob>>;
    /// When the claimer has work next.
    async fn next_due_at(&self) -> StoreResult<NextDue>;
    /// Records finished attempts, moves their deliveries on and releases their leases (a delivery
    /// that failed for good gets a notice for its `delivery_failed` event); adds them to the
    /// dashboard's counters ([`crate::domain::dashboard::count_attempts`]); keeps each webhook's
    /// failure streak as [`crate::domain::auto_disable::track`] says; then, in
    /// the same transaction, updates each target's stored health as
    /// [`crate::domain::health::Health::after_attempts`] says and applies its effect: parking the
    /// target's never-answered deliveries (to be given up `window` after its silence began) or
    /// making its parked deliveries due now (with a wake-up for every node).
    async fn record_attempts(
        &self,
        records: Arc<[AttemptRecord]>,
        now: Millis,
        window: Duration,
    ) -> StoreResult<HealthChanges>;
    /// Gives back leased deliveries without an attempt (held in memory for a silent target, or
    /// at shutdown), each only if it still holds the lease given (so a delivery another node has
    /// taken over meanwhile is left alone): those whose target is silent and that never got an
    /// answer are parked (for `window`), the others due at `due_at`. A probe given back makes its
    /// target probe again at `due_at`.
    async fn release(
        &self,
        leases: Vec<(DeliveryId, Millis)>,
        due_at: Millis,
        window: Duration,
    ) -> StoreResult<()>;
    /// For every silent target whose `probe_at` has come: marks a probe as out (until
    /// `now + watchdog`) and makes its least-tried parked delivery due now, to be that probe.
    /// Returns how many probes were armed.
    async fn arm_probes(&self, now: Millis, watchdog: Duration) -> StoreResult<usize>;
    /// Fails (with a `not sent` attempt saying why, ending with the target's last error, a
    /// notice for its `delivery_failed` event, and a `failed` in the dashboard's counters) up to
    /// `limit` parked deliveries whose wait is over, of enabled webhooks whose target's silence
    /// was confirmed at or after `confirmed_since`. Returns how many.
    async fn give_up_parked(
        &self,
        now: Millis,
        confirmed_since: Millis,
        message: &str,
        limit: usize,
    ) -> StoreResult<u64>;
    /// Enabled webhooks failing since `since_before` or earlier, with their failure streak: the
    /// candidates for [`crate::domain::auto_disable::should_disable`]. Not a listen session's
    /// (it is its command's: it ends with the session, and could not be enabled again).
    async fn failing_webhooks(&self, since_before: Millis) -> StoreResult<Vec<(Webhook, Failing)>>;
    /// Up to `limit` of each kind of notice still owed (oldest first).
    async fn notices(&self, limit: usize) -> StoreResult<Notices>;
    /// Marks notices as done: webhooks `(id, disabled_at)` (a later disable keeps its own) and
    /// deliveries.
    async fn clear_notices(
        &self,
        webhooks: Vec<(String, Millis)>,
        deliveries: Vec<DeliveryId>,
    ) -> StoreResult<()>;
    /// Makes due the parked deliveries whose webhook's target is not silent: a safety net for
    /// races that park a delivery just as its target recovers or its webhook moves elsewhere.
    /// Returns how many.
    async fn unpark_stranded(&self, now: Millis) -> StoreResult<u64>;
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
    /// Bulk recovery: every failed delivery `which` selects (its failure time, `updated_at`
    /// while failed, in the window; its webhook still there) becomes pending and due at `now`,
    /// unparked and unleased, keeping its attempts; returns how many. With `dry_run`, counts
    /// the same deliveries and changes nothing.
    ///
    /// Done in steps of at most [`RECOVER_BATCH`] deliveries, each its own short transaction
    /// (SQLite: one write in the writer's group commit), walking the license's failed
    /// deliveries in id order; a delivery that fails again meanwhile is behind the walk and is
    /// not taken twice. PostgreSQL wakes every node's claimer (`NOTIFY`) after each step.
    async fn recover_failed(
        &self,
        which: &Recovery,
        dry_run: bool,
        now: Millis,
    ) -> StoreResult<u64>;

    /// One retention batch, in one short transaction: removes up to `limit` deliveries that
    /// finished (succeeded or failed) before `cutoff`, oldest first, with their attempts; up to
    /// `limit` events received before `cutoff` none of whose deliveries remain; and the
    /// remembered tags of up to `limit` chats not seen since `cutoff`. Pending deliveries are
    /// never removed, whatever their age, nor licenses, webhooks or visitor details.
    async fn purge(&self, cutoff: Millis, limit: usize) -> StoreResult<Purged>;
    /// Removes up to `limit` dashboard counter rows of minutes before `before` (see
    /// [`crate::domain::dashboard::counters_cutoff`]), in one short transaction; returns how many.
    async fn purge_minutes(&self, before: Millis, limit: usize) -> StoreResult<u64>;
    /// The license's dashboard counter rows from the minute `since` on (what
    /// [`Store::record_attempts`] and [`Store::give_up_parked`] added with the attempts).
    async fn delivery_minutes(
        &self,
        license_id: &str,
        since: Millis,
    ) -> StoreResult<Vec<MinuteCount>>;
    /// When the last attempt counted for each of `webhook_ids` ended, as far as counters are
    /// kept (`None`: none is), in the order given. One index lookup each.
    async fn last_attempts(
        &self,
        license_id: &str,
        webhook_ids: Vec<String>,
    ) -> StoreResult<Vec<Option<Millis>>>;
    /// The highest delivery id of the license that retention removed (0: none), so that a
    /// missing delivery at or below it can be told apart from one that never existed.
    async fn purged_through(&self, license_id: &str) -> StoreResult<i64>;
    /// The database's size on disk in bytes (SQLite: the file and its WAL; PostgreSQL:
    /// `pg_database_size`).
    async fn database_bytes(&self) -> StoreResult<u64>;

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

    /// The next [`News`] from another node (PostgreSQL's `NOTIFY` payloads). A backend with a
    /// single node never has any: the default waits forever.
    async fn next_news(&self) -> News {
        std::future::pending().await
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
