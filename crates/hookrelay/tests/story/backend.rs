//! Which store a story runs on. `#[story]` (the `hookrelay-story` attribute) runs each story once
//! per backend inside [`on_backend`]; [`database_url`] then gives the server a fresh SQLite file
//! or a fresh PostgreSQL schema, so stories run in parallel without seeing each other.
//!
//! PostgreSQL is the one at `HOOKRELAY_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`, which `.ci/run` starts). Each server gets the schema
//! `story_<hex of its temp dir's name>` through the URL's `search_path` option; schemas whose temp
//! dir is gone (earlier runs) are dropped when a test process first needs one.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    static BACKEND: Backend;
}

/// Runs one story with `backend` as the store of every server it starts.
pub async fn on_backend(backend: Backend, story: impl Future<Output = ()>) {
    BACKEND.scope(backend, story).await
}

/// The backend of the running story (SQLite for tests outside `#[story]`).
pub fn current() -> Backend {
    BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite)
}

/// The PostgreSQL server the tests use.
pub fn postgres_base_url() -> String {
    std::env::var("HOOKRELAY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The database a server started in `dir` uses on the current backend. The same `dir` gives the
/// same database, so a story can stop and restart its server.
pub fn database_url(dir: &Path) -> String {
    match current() {
        Backend::Sqlite => format!("sqlite://{}/hookrelay.db", dir.display()),
        Backend::Postgres => postgres_url(dir),
    }
}

/// A PostgreSQL URL whose schema belongs to `dir`.
pub fn postgres_url(dir: &Path) -> String {
    let base = postgres_base_url();
    let joiner = if base.contains('?') { '&' } else { '?' };
    format!(
        "{base}{joiner}options=-c%20search_path%3D{}",
        schema_of(dir)
    )
}

fn schema_of(dir: &Path) -> String {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    format!("story_{}", hex::encode(name.unwrap_or_default()))
}

/// Makes sure the schema of a PostgreSQL `url` exists (nothing to do for SQLite).
pub async fn prepare(url: &str, dir: &Path) {
    if !url.starts_with("postgres") {
        return;
    }
    let base = postgres_base_url();
    let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {base} ({e}): start it with \
                 scripts/setup-postgres.sh or point HOOKRELAY_TEST_POSTGRES_URL at one"
            )
        });
    tokio::spawn(connection);
    static CLEANED: AtomicBool = AtomicBool::new(false);
    if !CLEANED.swap(true, Ordering::SeqCst) {
        drop_abandoned_schemas(&client, dir.parent().unwrap_or(Path::new("/tmp"))).await;
    }
    client
        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {}", schema_of(dir)))
        .await
        .unwrap();
}

/// Drops the schemas of earlier runs: those whose temp dir no longer exists.
async fn drop_abandoned_schemas(client: &tokio_postgres::Client, tmp: &Path) {
    let rows = client
        .query(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'story\\_%'",
            &[],
        )
        .await
        .unwrap_or_default();
    for row in rows {
        let schema: String = row.get(0);
        let dir = hex::decode(&schema["story_".len()..])
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        if dir.is_some_and(|d| !tmp.join(d).exists()) {
            let _ = client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await;
        }
    }
}
