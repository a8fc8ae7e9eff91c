//! The dashboard's per-minute counters (`delivery_minutes`): adding to them with the attempts,
//! reading a license's window, the last attempt of a webhook, and purging old ones.

use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use crate::domain::dashboard::{MinuteCount, BUCKETS};
use crate::domain::Millis;
use crate::store::columns::{MINUTE_COLUMNS, MINUTE_SUMS};

/// Adds `rows` to the stored counters (in the caller's transaction: the attempts' own).
pub fn add_minutes(conn: &Connection, rows: &[MinuteCount]) -> rusqlite::Result<()> {
    let placeholders = (1..=6 + BUCKETS + 1)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO delivery_minutes ({MINUTE_COLUMNS}) VALUES ({placeholders})
         ON CONFLICT (license_id, webhook_id, minute)
         DO UPDATE SET {MINUTE_SUMS}, last_at = max(delivery_minutes.last_at, excluded.last_at)"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    for r in rows {
        let mut values: Vec<rusqlite::types::Value> = vec![
            r.license_id.clone().into(),
            r.webhook_id.clone().into(),
            r.minute.into(),
            r.succeeded.into(),
            r.retried.into(),
            r.failed.into(),
        ];
        values.extend(r.buckets.iter().map(|n| (*n).into()));
        values.push(r.last_at.into());
        stmt.execute(params_from_iter(values))?;
    }
    Ok(())
}

fn minute_count(row: &rusqlite::Row) -> rusqlite::Result<MinuteCount> {
    let mut buckets = [0; BUCKETS];
    for (i, b) in buckets.iter_mut().enumerate() {
        *b = row.get(6 + i)?;
    }
    Ok(MinuteCount {
        license_id: row.get(0)?,
        webhook_id: row.get(1)?,
        minute: row.get(2)?,
        succeeded: row.get(3)?,
        retried: row.get(4)?,
        failed: row.get(5)?,
        buckets,
        last_at: row.get(6 + BUCKETS)?,
    })
}

/// The license's counter rows from the minute `since` on.
pub fn minutes_since(
    conn: &Connection,
    license_id: &str,
    since: Millis,
) -> rusqlite::Result<Vec<MinuteCount>> {
    let sql = format!(
        "SELECT {MINUTE_COLUMNS} FROM delivery_minutes WHERE license_id = ?1 AND minute >= ?2"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params![license_id, since], minute_count)?
        .collect();
    rows
}

/// When the last attempt counted for a webhook ended (its newest counter row, by the primary
/// key), if any is still kept.
pub fn last_attempt_at(
    conn: &Connection,
    license_id: &str,
    webhook_id: &str,
) -> rusqlite::Result<Option<Millis>> {
    conn.prepare_cached(
        "SELECT last_at FROM delivery_minutes WHERE license_id = ?1 AND webhook_id = ?2
         ORDER BY minute DESC LIMIT 1",
    )?
    .query_row(params![license_id, webhook_id], |r| r.get(0))
    .optional()
}

/// Removes up to `limit` counter rows of minutes before `before`; returns how many.
pub fn purge_minutes(conn: &Connection, before: Millis, limit: usize) -> rusqlite::Result<u64> {
    conn.prepare_cached(
        "DELETE FROM delivery_minutes WHERE (license_id, webhook_id, minute) IN (
             SELECT license_id, webhook_id, minute FROM delivery_minutes
             WHERE minute < ?1 LIMIT ?2)",
    )?
    .execute(params![before, limit as i64])
    .map(|n| n as u64)
}
