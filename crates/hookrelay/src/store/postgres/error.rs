//! Turning PostgreSQL and pool errors into [`StoreError`]s.
//!
//! What matters to callers is the split between "the database is not there right now"
//! ([`StoreError::Unavailable`]: ingest answers 503, the engine keeps outcomes and retries) and
//! everything else. A broken or refused connection, a server shutting down or refusing
//! connections, and a pool that cannot hand out a connection in time are all "unavailable".

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

use crate::store::StoreError;

pub fn db(e: tokio_postgres::Error) -> StoreError {
    if let Some(server) = e.as_db_error() {
        let code = server.code();
        if *code == SqlState::UNIQUE_VIOLATION {
            let what = server.detail().unwrap_or("it already exists").to_string();
            return StoreError::Conflict(what);
        }
        // 08: connection exception, 57: operator intervention (shutdown), 53: out of resources.
        if matches!(&code.code()[..2], "08" | "57" | "53") {
            return StoreError::Unavailable(server.message().to_string());
        }
        return StoreError::Internal(e.into());
    }
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if e.is_closed() || io {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Internal(e.into())
    }
}

pub fn pool(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => db(e),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Whether a transaction failed only because it raced another one (retrying it will work).
pub fn is_race(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    })
}
