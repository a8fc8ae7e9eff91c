//! Opening the store (the lock file, the writer thread, the readers) and running a closure on
//! the writer (inside its group commit) or on a reader connection: the two ways every method of
//! [`super::SqliteStore`] reaches the database.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::connection::{
    connect, create_private, lock_file, migrate, sql_error, READERS, READER_CACHE_KIB,
    WRITER_CACHE_KIB,
};
use super::writer::Writer;
use super::{queries, SqliteStore};
use crate::store::{StoreError, StoreResult};

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
            create_private(&p)?;
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
            node: crate::domain::listen_session::new_node_id().into(),
        })
    }

    pub(super) async fn write<T, F>(&self, f: F) -> StoreResult<T>
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

    pub(super) async fn read<T, F>(&self, f: F) -> StoreResult<T>
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
