//! Opening the SQLite file: the lock that keeps a second process off it, connections with
//! their pragmas, schema migrations, and how SQLite's errors map onto the store's.

use std::fs::{File, TryLockError};

use rusqlite::Connection;

use crate::store::StoreError;

/// The schema steps, in order: step N brings a database from version N-1 to N.
pub(super) const MIGRATIONS: [&str; 8] = [
    include_str!("schema.sql"),
    include_str!("schema_v2.sql"),
    include_str!("schema_v3.sql"),
    include_str!("schema_v4.sql"),
    include_str!("schema_v5.sql"),
    include_str!("schema_v6.sql"),
    include_str!("schema_v7.sql"),
    include_str!("schema_v8.sql"),
];
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
/// Reader connections kept open; more are opened on demand under load.
pub(super) const READERS: usize = 4;
/// Page caches: the writer's holds the hot end of the tables; readers need little. Together they
/// bound what SQLite adds to the process's memory, whatever the size of the backlog. The file's
/// pages stay in the OS page cache anyway, so a miss here costs a read call, not a disk read:
/// 4 MiB for the writer delivered as fast as 16 MiB in hookrelay-bench and cut the peak memory
/// with a million deliveries pending by about 20 MiB.
pub(super) const WRITER_CACHE_KIB: u32 = 4 * 1024;
pub(super) const READER_CACHE_KIB: u32 = 2 * 1024;
/// The WAL is truncated back to this many bytes after a checkpoint, so that under steady load
/// with retention on, the file and its WAL stop growing (SQLite reuses freed pages by itself).
const WAL_LIMIT: u64 = 64 * 1024 * 1024;

/// Creates the database file readable and writable by its owner only (0600), unless it exists:
/// it holds target passwords and license tokens. SQLite gives the `-wal` and `-shm` files it
/// creates later the mode of the database file, so they are 0600 too. An existing file keeps its
/// mode (the operator may have chosen it), with a warning when others can read it.
pub(super) fn create_private(path: &str) -> anyhow::Result<()> {
    if path == ":memory:" {
        return Ok(());
    }
    private_file(path).map_err(|e| anyhow::anyhow!("cannot create {path}: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                "{path} can be read by other users (mode {mode:o}); it holds target passwords \
                 and license tokens: `chmod 600` it and its -wal and -shm files"
            );
        }
    }
    Ok(())
}

/// Opens `path` for writing, creating it with mode 0600 if it does not exist (whatever the umask).
fn private_file(path: &str) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Takes the exclusive lock on `PATH.lock` (none for an in-memory database).
pub(super) fn lock_file(path: &str) -> anyhow::Result<Option<File>> {
    if path == ":memory:" {
        return Ok(None);
    }
    let lock_path = format!("{path}.lock");
    let file = private_file(&lock_path)
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

pub(super) fn connect(path: &str, cache_kib: u32) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA journal_size_limit = {WAL_LIMIT};
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = OFF;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{cache_kib};"
    ))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

pub(super) fn migrate(conn: &Connection) -> anyhow::Result<()> {
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

pub(super) fn sql_error(e: rusqlite::Error) -> StoreError {
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
