//! The single writer thread and its group commit.
//!
//! SQLite allows one writer at a time and every durable commit costs an fsync (about 3 ms here),
//! so one commit per request would cap hookrelay at a few hundred writes per second. Instead one
//! thread owns the write connection: it takes every write waiting in its queue, runs each inside
//! its own savepoint (so one failing write does not undo the others), commits them all at once,
//! and only then answers each caller. While one commit is being fsynced the next batch gathers.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::store::{StoreError, StoreResult};

/// The most writes shared by one commit.
const MAX_BATCH: usize = 4096;

type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;
type Op = Box<dyn FnOnce(&Connection) -> (bool, Reply) + Send>;

/// A handle to the writer thread. Cloning shares the thread.
#[derive(Clone)]
pub struct Writer {
    ops: mpsc::UnboundedSender<Op>,
}

impl Writer {
    /// Starts the thread that owns `conn`. It stops when every handle is dropped.
    pub fn start(conn: Connection) -> (Writer, thread::JoinHandle<()>) {
        let (ops, rx) = mpsc::unbounded_channel();
        let handle = thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, rx))
            .expect("spawning the writer thread");
        (Writer { ops }, handle)
    }

    /// Runs `f` in the next group commit and returns its result once that commit is durable.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let op: Op = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let reply: Reply = Box::new(move |commit| {
                let _ = tx.send(match commit {
                    Ok(()) => result,
                    Err(e) => Err(StoreError::Unavailable(e)),
                });
            });
            (ok, reply)
        });
        self.ops
            .send(op)
            .map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
        rx.await.unwrap_or_else(|_| {
            Err(StoreError::Internal(anyhow::anyhow!(
                "a write was dropped by the writer thread"
            )))
        })
    }
}

fn run(conn: Connection, mut rx: mpsc::UnboundedReceiver<Op>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        commit_batch(&conn, &mut batch);
    }
}

/// Runs a statement from the connection's statement cache: savepoints are taken once per write,
/// so parsing them each time would cost more than the write itself.
fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

fn commit_batch(conn: &Connection, batch: &mut Vec<Op>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %e, "could not begin a write transaction");
        for op in batch.drain(..) {
            drop(op); // the caller's oneshot closes: it sees an error
        }
        return;
    }
    let mut replies = Vec::with_capacity(batch.len());
    for op in batch.drain(..) {
        let savepoint = exec_cached(conn, "SAVEPOINT op");
        let outcome = catch_unwind(AssertUnwindSafe(|| op(conn)));
        let ok = matches!(outcome, Ok((true, _)));
        if savepoint.is_ok() {
            let end = if ok {
                exec_cached(conn, "RELEASE op")
            } else {
                exec_cached(conn, "ROLLBACK TO op").and_then(|()| exec_cached(conn, "RELEASE op"))
            };
            if let Err(e) = end {
                tracing::error!(error = %e, "could not end a savepoint");
            }
        }
        match outcome {
            Ok((_, reply)) => replies.push(reply),
            Err(_) => tracing::error!("a write panicked; it was rolled back"),
        }
    }
    let commit = conn.execute_batch("COMMIT").map_err(|e| {
        tracing::error!(error = %e, "a group commit failed");
        let _ = conn.execute_batch("ROLLBACK");
        e.to_string()
    });
    for reply in replies {
        reply(commit.clone());
    }
}
