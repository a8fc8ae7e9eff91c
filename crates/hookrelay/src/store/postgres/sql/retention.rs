//! Retention: removing what finished long ago, in small batches, and remembering up to which
//! delivery id each license's history was removed.

use deadpool_postgres::GenericClient;
use tokio_postgres::Error;

use super::{execute, query, query_opt};
use crate::domain::Millis;

/// Removes up to `limit` deliveries that finished before `cutoff`, oldest first, with their
/// attempts and the events none of whose deliveries remain, and raises each license's retention
/// mark; returns (deliveries, attempts, events). Rows another node is purging right now are
/// skipped. A delivery whose `delivery_failed` event is still owed stays until it is produced.
/// Events are found from the deliveries removed, so old events still waiting on a pending
/// delivery are never scanned again; retention marks are upserted in license order, so nodes
/// purging at once cannot deadlock on them.
pub async fn purge_deliveries<C: GenericClient>(
    c: &C,
    cutoff: Millis,
    limit: usize,
) -> Result<(u64, u64, u64), Error> {
    let rows = query(
        c,
        "WITH gone AS (
             DELETE FROM deliveries WHERE id IN (
                 SELECT id FROM deliveries
                 WHERE status <> 0 AND updated_at < $1 AND NOT failure_notice
                 ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING id, license_id, event_id),
         attempts_gone AS (
             DELETE FROM attempts a USING gone WHERE a.delivery_id = gone.id RETURNING 1),
         marked AS (
             INSERT INTO retention_marks (license_id, purged_through)
             SELECT license_id, max(id) FROM gone GROUP BY license_id ORDER BY license_id
             ON CONFLICT (license_id) DO UPDATE
                SET purged_through = greatest(retention_marks.purged_through,
                                              excluded.purged_through)
             RETURNING 1),
         events_gone AS (
             DELETE FROM events e
             WHERE e.id IN (SELECT event_id FROM gone)
               AND NOT EXISTS (SELECT 1 FROM deliveries d
                               WHERE d.event_id = e.id AND d.id NOT IN (SELECT id FROM gone))
             RETURNING 1)
         SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM attempts_gone),
                (SELECT count(*) FROM events_gone), (SELECT count(*) FROM marked)",
        &[&cutoff, &(limit as i64)],
    )
    .await?;
    let count = |i| rows[0].get::<_, i64>(i) as u64;
    Ok((count(0), count(1), count(2)))
}

/// Removes up to `limit` events received before `cutoff` that never had a delivery (a
/// `chat_changed` with unchanged tags, an event no webhook wanted).
pub async fn purge_events<C: GenericClient>(
    c: &C,
    cutoff: Millis,
    limit: usize,
) -> Result<u64, Error> {
    execute(
        c,
        "DELETE FROM events WHERE id IN (
             SELECT id FROM events WHERE deliveries = 0 AND received_at < $1
             ORDER BY received_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        &[&cutoff, &(limit as i64)],
    )
    .await
}

/// Forgets the tags of up to `limit` chats not seen since `cutoff`.
pub async fn purge_chat_tags<C: GenericClient>(
    c: &C,
    cutoff: Millis,
    limit: usize,
) -> Result<u64, Error> {
    execute(
        c,
        "DELETE FROM chat_tags WHERE (license_id, chat_id) IN (
             SELECT license_id, chat_id FROM chat_tags WHERE seen_at < $1
             ORDER BY seen_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        &[&cutoff, &(limit as i64)],
    )
    .await
}

/// The highest delivery id of `license_id` removed by retention (0: none yet).
pub async fn purged_through<C: GenericClient>(c: &C, license_id: &str) -> Result<i64, Error> {
    let row = query_opt(
        c,
        "SELECT purged_through FROM retention_marks WHERE license_id = $1",
        &[&license_id],
    )
    .await?;
    Ok(row.map_or(0, |r| r.get(0)))
}

/// The database's size on disk.
pub async fn database_bytes<C: GenericClient>(c: &C) -> Result<i64, Error> {
    let rows = query(c, "SELECT pg_database_size(current_database())", &[]).await?;
    Ok(rows[0].get(0))
}
