//! The dashboard's per-minute counters (`delivery_minutes`): adding to them with the attempts,
//! reading a license's window, the last attempt of each webhook, and purging old ones.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

use super::{execute, query};
use crate::domain::dashboard::{MinuteCount, BUCKETS};
use crate::domain::Millis;
use crate::store::columns::{MINUTE_COLUMNS, MINUTE_SUMS};

/// Adds `rows` to the stored counters in one statement, in the caller's transaction (the
/// attempts' own) and in key order: [`crate::domain::dashboard`] folds them one row per key, and
/// this is the last write of the transactions that take these locks, so recorders on two nodes
/// take turns on a row instead of deadlocking.
pub async fn add_minutes<C: GenericClient>(c: &C, rows: &[MinuteCount]) -> Result<(), Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let column = |pick: &dyn Fn(&MinuteCount) -> i64| rows.iter().map(pick).collect::<Vec<i64>>();
    let licenses: Vec<&str> = rows.iter().map(|r| r.license_id.as_str()).collect();
    let webhooks: Vec<&str> = rows.iter().map(|r| r.webhook_id.as_str()).collect();
    let mut numbers: Vec<Vec<i64>> = vec![
        column(&|r| r.minute),
        column(&|r| r.succeeded),
        column(&|r| r.retried),
        column(&|r| r.failed),
    ];
    numbers.extend((0..BUCKETS).map(|b| column(&|r| r.buckets[b])));
    numbers.push(column(&|r| r.last_at));
    let arrays = (3..=numbers.len() + 2)
        .map(|i| format!("${i}::bigint[]"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO delivery_minutes ({MINUTE_COLUMNS})
         SELECT * FROM unnest($1::text[], $2::text[], {arrays}) ORDER BY 1, 2, 3
         ON CONFLICT (license_id, webhook_id, minute)
         DO UPDATE SET {MINUTE_SUMS}, last_at = greatest(delivery_minutes.last_at, excluded.last_at)"
    );
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&licenses, &webhooks];
    params.extend(numbers.iter().map(|n| n as &(dyn ToSql + Sync)));
    execute(c, &sql, &params).await.map(drop)
}

/// One counter row as [`MINUTE_COLUMNS`] selects it.
pub fn minute_count(row: &Row) -> MinuteCount {
    let mut buckets = [0; BUCKETS];
    for (i, b) in buckets.iter_mut().enumerate() {
        *b = row.get(6 + i);
    }
    MinuteCount {
        license_id: row.get(0),
        webhook_id: row.get(1),
        minute: row.get(2),
        succeeded: row.get(3),
        retried: row.get(4),
        failed: row.get(5),
        buckets,
        last_at: row.get(6 + BUCKETS),
    }
}

/// The license's counter rows from the minute `since` on.
pub async fn minutes_since<C: GenericClient>(
    c: &C,
    license_id: &str,
    since: Millis,
) -> Result<Vec<Row>, Error> {
    let sql = format!(
        "SELECT {MINUTE_COLUMNS} FROM delivery_minutes WHERE license_id = $1 AND minute >= $2"
    );
    query(c, &sql, &[&license_id, &since]).await
}

/// For each of `webhook_ids`, in order, when its last counted attempt ended (one primary-key
/// lookup each).
pub async fn last_attempts<C: GenericClient>(
    c: &C,
    license_id: &str,
    webhook_ids: &[String],
) -> Result<Vec<Option<Millis>>, Error> {
    let rows = query(
        c,
        "SELECT (SELECT m.last_at FROM delivery_minutes m
                 WHERE m.license_id = $1 AND m.webhook_id = w.id ORDER BY m.minute DESC LIMIT 1)
         FROM unnest($2::text[]) WITH ORDINALITY AS w(id, n) ORDER BY w.n",
        &[&license_id, &webhook_ids],
    )
    .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Removes up to `limit` counter rows of minutes before `before`; rows another node is removing
/// are skipped.
pub async fn purge_minutes<C: GenericClient>(
    c: &C,
    before: Millis,
    limit: usize,
) -> Result<u64, Error> {
    execute(
        c,
        "DELETE FROM delivery_minutes WHERE ctid IN (
             SELECT ctid FROM delivery_minutes WHERE minute < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        &[&before, &(limit as i64)],
    )
    .await
}
