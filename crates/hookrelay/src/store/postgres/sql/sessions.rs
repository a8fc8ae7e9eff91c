//! Listen sessions: which node holds each (its webhooks' `session_node` and `session_seen_at`).

use deadpool_postgres::GenericClient;
use tokio_postgres::{Error, Row};

use super::{execute, query};
use crate::domain::Millis;
use crate::store::postgres::rows::{WEBHOOK_COLUMNS, WEBHOOK_FROM};

/// Holds the session (webhooks with URL `url`) for `node` if nobody holds it or `take_over`;
/// returns the ids of its webhooks, locked.
pub async fn hold<C: GenericClient>(
    c: &C,
    license_id: &str,
    url: &str,
    node: &str,
    now: Millis,
    stale_before: Millis,
    take_over: bool,
) -> Result<Vec<String>, Error> {
    let rows = query(
        c,
        "UPDATE webhooks SET session_node = $3, session_seen_at = $4
         WHERE license_id = $1 AND url = $2 AND kind = 1
           AND ($6 OR session_node IS NULL OR session_seen_at < $5)
         RETURNING id",
        &[&license_id, &url, &node, &now, &stale_before, &take_over],
    )
    .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Makes the pending deliveries of these webhooks that no node is attempting due now.
pub async fn make_due<C: GenericClient>(c: &C, ids: &[String], now: Millis) -> Result<u64, Error> {
    execute(
        c,
        "UPDATE deliveries SET parked = false, next_attempt_at = $2
         WHERE webhook_id = ANY($1) AND status = 0 AND (lease_until IS NULL OR lease_until <= $2)",
        &[&ids, &now],
    )
    .await
}

/// Refreshes `node`'s hold of the sessions with these URLs; returns the URLs it still holds.
pub async fn touch<C: GenericClient>(
    c: &C,
    urls: &[String],
    node: &str,
    now: Millis,
) -> Result<Vec<String>, Error> {
    let rows = query(
        c,
        "UPDATE webhooks SET session_seen_at = $3
         WHERE url = ANY($1) AND kind = 1 AND session_node = $2
         RETURNING url",
        &[&urls, &node, &now],
    )
    .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// `node` lets go of the session with this URL; returns its webhook ids.
pub async fn release<C: GenericClient>(
    c: &C,
    url: &str,
    node: &str,
    now: Millis,
) -> Result<Vec<String>, Error> {
    let rows = query(
        c,
        "UPDATE webhooks SET session_node = NULL, session_seen_at = $3
         WHERE url = $1 AND kind = 1 AND session_node = $2
         RETURNING id",
        &[&url, &node, &now],
    )
    .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Moves the pending deliveries of these webhooks that no node is attempting to `at`.
pub async fn wait_until<C: GenericClient>(
    c: &C,
    ids: &[String],
    now: Millis,
    at: Millis,
) -> Result<u64, Error> {
    execute(
        c,
        "UPDATE deliveries SET next_attempt_at = $3
         WHERE webhook_id = ANY($1) AND status = 0 AND NOT parked
           AND (lease_until IS NULL OR lease_until <= $2)",
        &[&ids, &now, &at],
    )
    .await
}

/// Up to 100 webhooks of sessions nobody has held since `before`.
pub async fn expired<C: GenericClient>(c: &C, before: Millis) -> Result<Vec<Row>, Error> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM {WEBHOOK_FROM}
         WHERE w.kind = 1 AND w.session_seen_at < $1 LIMIT 100"
    );
    query(c, &sql, &[&before]).await
}

/// Deletes the webhook if it is still a session's that nobody has held since `before`.
pub async fn delete_expired<C: GenericClient>(
    c: &C,
    license_id: &str,
    id: &str,
    before: Millis,
) -> Result<bool, Error> {
    let n = execute(
        c,
        "DELETE FROM webhooks
         WHERE license_id = $1 AND id = $2 AND kind = 1 AND session_seen_at < $3",
        &[&license_id, &id, &before],
    )
    .await?;
    Ok(n > 0)
}
