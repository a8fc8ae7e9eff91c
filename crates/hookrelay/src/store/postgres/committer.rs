//! Group commit for ingest on PostgreSQL.
//!
//! An ingest is answered only after its commit is durable, and every commit costs a WAL flush, so
//! a commit per request would cap a node at a few hundred events per second. Instead requests
//! queue here; a worker takes everything waiting, stores it all in one transaction
//! ([`super::ingest::ingest_batch`]), commits once, and answers every caller. Two workers run, so
//! one batch gathers and executes while the other's commit is being flushed.
//!
//! A batch that fails because it raced another transaction (deadlock, serialization) is retried
//! whole; one that fails for any other reason is retried request by request, so one bad request
//! cannot fail its neighbours. An unreachable database fails the batch at once with
//! [`StoreError::Unavailable`]: the API answers 503 and nothing was accepted.

use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::JoinHandle;

use super::error;
use super::ingest::{ingest_batch, IngestRequest};
use crate::store::{Ingested, StoreError, StoreResult};

/// Requests shared by one commit at most.
const MAX_BATCH: usize = 512;
/// Workers committing in parallel.
const WORKERS: usize = 2;
/// Tries for a batch that lost a race with another transaction.
const RACE_TRIES: usize = 3;

type Reply = oneshot::Sender<StoreResult<Vec<Ingested>>>;

/// A handle to the commit workers; they stop once every handle is gone and the queue is empty.
#[derive(Clone)]
pub struct Committer {
    queue: mpsc::UnboundedSender<(IngestRequest, Reply)>,
}

impl Committer {
    pub fn start(pool: Pool, channel: String, node: String) -> (Committer, Vec<JoinHandle<()>>) {
        let (queue, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..WORKERS)
            .map(|_| {
                let (channel, node) = (channel.clone(), node.clone());
                tokio::spawn(work(pool.clone(), channel, node, rx.clone()))
            })
            .collect();
        (Committer { queue }, workers)
    }

    /// Stores one request in the next group commit; returns once that commit is durable.
    pub async fn ingest(&self, request: IngestRequest) -> StoreResult<Vec<Ingested>> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .send((request, tx))
            .map_err(|_| StoreError::Unavailable("the store is closed".into()))?;
        rx.await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the commit was abandoned".into())))
    }
}

type Queue = Arc<Mutex<mpsc::UnboundedReceiver<(IngestRequest, Reply)>>>;

async fn work(pool: Pool, channel: String, node: String, queue: Queue) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        // Only one worker gathers at a time; the other is committing meanwhile.
        let n = queue.lock().await.recv_many(&mut batch, MAX_BATCH).await;
        if n == 0 {
            return;
        }
        let (requests, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        match commit(&pool, &requests, &channel, &node).await {
            Ok(results) => answer(replies, results.into_iter().map(Ok)),
            Err(e) if requests.len() > 1 && matches!(e, StoreError::Internal(_)) => {
                tracing::warn!(error = %e, "a group commit failed; committing its requests one by one");
                for (request, reply) in requests.into_iter().zip(replies) {
                    let one = commit(&pool, std::slice::from_ref(&request), &channel, &node).await;
                    let _ = reply.send(one.map(|mut r| r.pop().unwrap_or_default()));
                }
            }
            Err(e) => {
                let message = e.to_string();
                let unavailable = matches!(e, StoreError::Unavailable(_));
                answer(
                    replies,
                    (0..requests.len()).map(|_| {
                        Err(if unavailable {
                            StoreError::Unavailable(message.clone())
                        } else {
                            StoreError::Internal(anyhow::anyhow!("{message}"))
                        })
                    }),
                );
            }
        }
    }
}

fn answer(replies: Vec<Reply>, results: impl Iterator<Item = StoreResult<Vec<Ingested>>>) {
    for (reply, result) in replies.into_iter().zip(results) {
        let _ = reply.send(result);
    }
}

/// Stores `requests` in one transaction, retrying a batch that lost a race.
async fn commit(
    pool: &Pool,
    requests: &[IngestRequest],
    channel: &str,
    node: &str,
) -> StoreResult<Vec<Vec<Ingested>>> {
    let mut tries = 0;
    loop {
        tries += 1;
        let mut client = pool.get().await.map_err(error::pool)?;
        let attempt = async {
            let tx = client.transaction().await?;
            let results = ingest_batch(&tx, requests, channel, node).await?;
            tx.commit().await?;
            Ok::<_, tokio_postgres::Error>(results)
        };
        match attempt.await {
            Ok(results) => return Ok(results),
            Err(e) if error::is_race(&e) && tries < RACE_TRIES => {
                tracing::debug!(error = %e, "a group commit raced another transaction; retrying");
            }
            Err(e) => return Err(error::db(e)),
        }
    }
}
