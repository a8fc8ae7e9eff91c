//! The embedded SQLite backend: one file, WAL mode, `synchronous=FULL` so a commit survives a
//! power cut, one writer thread with group commit ([`writer`]) and a few reader connections.
//! Single node only: several processes on one file would fight over the write lock and the
//! leases (that is what the PostgreSQL backend is for), so the store holds an exclusive lock on
//! `PATH.lock` while it is open and a second process is refused with a clear error.

mod queries;
mod rows;
mod writer;

use std::fs::{File, TryLockError};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::Connection;

use crate::domain::delivery::{Delivery, DeliveryFilter, DeliveryId};
use crate::domain::event::NewEvent;
use crate::domain::health::window_ms;
use crate::domain::ingest_plan::Placement;
use crate::domain::job::{AttemptRecord, DeliveryJob};
use crate::domain::license::License;
use crate::domain::visitor_details::VisitorDetails;
use crate::domain::webhook::Webhook;
use crate::domain::Millis;
use crate::store::{
    DeliveryDetail, HealthChanges, Ingested, Resend, Store, StoreError, StoreResult, WebhookChanges,
};
use writer::Writer;

/// The schema steps, in order: step N brings a database from version N-1 to N.
const MIGRATIONS: [&str; 3] = [
    include_str!("schema.sql"),
    include_str!("schema_v2.sql"),
    include_str!("schema_v3.sql"),
];
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
/// Reader connections kept open; more are opened on demand under load.
const READERS: usize = 4;
/// Page caches: the writer's holds the hot end of the tables; readers need little. Together they
/// bound what SQLite adds to the process's memory, whatever the size of the backlog. The file's
/// pages stay in the OS page cache anyway, so a miss here costs a read call, not a disk read:
/// 4 MiB for the writer delivered as fast as 16 MiB in hookrelay-bench and cut the peak memory
/// with a million deliveries pending by about 20 MiB.
const WRITER_CACHE_KIB: u32 = 4 * 1024;
const READER_CACHE_KIB: u32 = 2 * 1024;

pub struct SqliteStore {
    /// The lock on `PATH.lock`, held until [`Store::close`] (or the process ends).
    lock: Mutex<Option<File>>,
    writer: Mutex<Option<Writer>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: String,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &str) -> anyhow::Result<SqliteStore> {
        let path = path.to_string();
        let p = path.clone();
        let (lock, conn, readers) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            if let Some(dir) = Path::new(&p).parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let lock = lock_file(&p)?;
            let conn = connect(&p, WRITER_CACHE_KIB)?;
            migrate(&conn)?;
            queries::backfill_target_keys(&conn)?;
            // One node owns a SQLite file, so at start nothing can be in flight: leases left by a
            // crash are released at once instead of waiting for them to expire.
            let released = queries::release_all_leases(&conn, crate::domain::now_ms())?;
            if released > 0 {
                tracing::info!(
                    released,
                    "took back deliveries that were in flight at the last stop"
                );
            }
            let readers = (0..READERS)
                .map(|_| connect(&p, READER_CACHE_KIB))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((lock, conn, readers))
        })
        .await??;
        let (writer, thread) = Writer::start(conn);
        Ok(SqliteStore {
            lock: Mutex::new(lock),
            writer: Mutex::new(Some(writer)),
            writer_thread: Mutex::new(Some(thread)),
            readers: Arc::new(Mutex::new(readers)),
            path,
        })
    }

    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let writer = self.writer.lock().expect("writer lock").clone();
        match writer {
            Some(w) => w.write(move |conn| f(conn).map_err(sql_error)).await,
            None => Err(StoreError::Unavailable("the store is closed".into())),
        }
    }

    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let conn = readers.lock().expect("reader pool").pop();
            let conn = match conn {
                Some(c) => c,
                None => connect(&path, READER_CACHE_KIB).map_err(sql_error)?,
            };
            let result = f(&conn).map_err(sql_error);
            let mut pool = readers.lock().expect("reader pool");
            if pool.len() < READERS {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Internal(e.into()))?
    }
}

/// Takes the exclusive lock on `PATH.lock` (none for an in-memory database).
fn lock_file(path: &str) -> anyhow::Result<Option<File>> {
    if path == ":memory:" {
        return Ok(None);
    }
    let lock_path = format!("{path}.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| anyhow::anyhow!("cannot open the lock file {lock_path}: {e}"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => anyhow::bail!(
            "another hookrelay process is using {path} (it holds {lock_path}); SQLite serves one \
             process: stop the other one, or use PostgreSQL (HOOKRELAY_DATABASE_URL=postgres://...) \
             to run several nodes"
        ),
        Err(TryLockError::Error(e)) => Err(anyhow::anyhow!("cannot lock {lock_path}: {e}")),
    }
}

fn connect(path: &str, cache_kib: u32) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = OFF;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{cache_kib};"
    ))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn migrate(conn: &Connection) -> anyhow::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        anyhow::bail!(
            "the database was written by a newer hookrelay (schema {version}, this one knows {SCHEMA_VERSION})"
        );
    }
    // Each step runs in its own transaction together with the version bump, so a crash
    // between steps leaves a database the next start continues from.
    for (step, sql) in (1..).zip(MIGRATIONS) {
        if version < step {
            conn.execute_batch(&format!(
                "BEGIN; {sql}; PRAGMA user_version = {step}; COMMIT;"
            ))?;
        }
    }
    Ok(())
}

fn sql_error(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict(msg.clone().unwrap_or_else(|| "already exists".into()))
        }
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::CannotOpen
            ) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.into()),
    }
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

    async fn license_by_login(&self, login: &str) -> StoreResult<Option<License>> {
        let login = login.to_string();
        self.read(move |c| queries::license_where(c, "login", &login))
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
        self.write(move |c| queries::insert_webhook(c, &webhook))
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
        self.write(move |c| queries::ingest_events(c, &license, &events, placement))
            .await
    }

    async fn claim_due(
        &self,
        now: Millis,
        limit: usize,
        lease_until: Millis,
    ) -> StoreResult<Vec<DeliveryJob>> {
        self.write(move |c| queries::claim_due(c, now, limit, lease_until))
            .await
    }

    async fn next_due_at(&self) -> StoreResult<Option<Millis>> {
        self.read(queries::next_due_at).await
    }

    async fn record_attempts(
        &self,
        records: Vec<AttemptRecord>,
        now: Millis,
        window: Duration,
    ) -> StoreResult<HealthChanges> {
        self.write(move |c| {
            records
                .iter()
                .try_for_each(|r| queries::record_attempt(c, r))?;
            queries::apply_health(c, &records, now, window_ms(window))
        })
        .await
    }

    async fn release(
        &self,
        ids: Vec<DeliveryId>,
        due_at: Millis,
        window: Duration,
    ) -> StoreResult<()> {
        self.write(move |c| {
            ids.iter()
                .try_for_each(|id| queries::release(c, *id, due_at, window_ms(window)))
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
mod tests {
    use super::*;

    #[test]
    fn a_version_1_database_is_migrated_to_the_current_version_keeping_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        let conn = connect(path.to_str().unwrap(), READER_CACHE_KIB).unwrap();
        conn.execute_batch(&format!(
            "BEGIN; {}; PRAGMA user_version = 1; COMMIT;",
            MIGRATIONS[0]
        ))
        .unwrap();
        conn.execute("INSERT INTO settings (key, value) VALUES ('k', 'v')", [])
            .unwrap();
        migrate(&conn).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(queries::setting(&conn, "k").unwrap().as_deref(), Some("v"));
        assert!(queries::visitor_details_of(&conn, "1", "S1")
            .unwrap()
            .is_empty());
        migrate(&conn).unwrap(); // running again changes nothing
    }

    #[tokio::test]
    async fn a_second_store_on_the_same_file_is_refused_until_the_first_closes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one.db");
        let path = path.to_str().unwrap();
        let first = SqliteStore::open(path).await.unwrap();
        let err = match SqliteStore::open(path).await {
            Ok(_) => panic!("a second store opened the same file"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains("another hookrelay process") && err.contains("PostgreSQL"),
            "{err}"
        );
        first.close().await;
        let again = SqliteStore::open(path).await.unwrap();
        again.close().await;
    }

    #[test]
    fn a_database_from_a_newer_hookrelay_is_refused() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        let err = migrate(&conn).unwrap_err().to_string();
        assert!(err.contains("newer hookrelay"), "{err}");
    }
}
