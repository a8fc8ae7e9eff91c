//! Retention: removing what finished long ago, in small batches, and remembering up to which
//! delivery id each license's history was removed.

use std::collections::HashMap;

use rusqlite::{params, Connection};

use crate::domain::Millis;
use crate::store::Purged;

/// One purge batch (see [`crate::store::Store::purge`]).
pub fn purge(conn: &Connection, cutoff: Millis, limit: usize) -> rusqlite::Result<Purged> {
    // A delivery whose `delivery_failed` event is still owed stays until it is produced.
    let finished: Vec<(i64, String, i64)> = conn
        .prepare_cached(
            "SELECT id, license_id, event_id FROM deliveries
             WHERE status <> 0 AND updated_at < ?1 AND failure_notice = 0
             ORDER BY updated_at LIMIT ?2",
        )?
        .query_map(params![cutoff, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut purged = Purged::default();
    let mut marks: HashMap<&str, i64> = HashMap::new();
    {
        let mut attempts = conn.prepare_cached("DELETE FROM attempts WHERE delivery_id = ?1")?;
        let mut delivery = conn.prepare_cached("DELETE FROM deliveries WHERE id = ?1")?;
        for (id, license_id, _) in &finished {
            purged.attempts += attempts.execute([id])? as u64;
            purged.deliveries += delivery.execute([id])? as u64;
            let mark = marks.entry(license_id).or_default();
            *mark = (*mark).max(*id);
        }
    }
    let mut mark = conn.prepare_cached(
        "INSERT INTO retention_marks (license_id, purged_through) VALUES (?1, ?2)
         ON CONFLICT (license_id)
         DO UPDATE SET purged_through = max(purged_through, excluded.purged_through)",
    )?;
    for (license_id, through) in marks {
        mark.execute(params![license_id, through])?;
    }
    // The events of the deliveries just removed, once none of theirs remain (found from the
    // deliveries, so old events still waiting on a pending delivery are never scanned again) ...
    let mut event = conn.prepare_cached(
        "DELETE FROM events WHERE id = ?1
         AND NOT EXISTS (SELECT 1 FROM deliveries WHERE event_id = ?1)",
    )?;
    let mut events: Vec<i64> = finished.iter().map(|f| f.2).collect();
    events.sort_unstable();
    events.dedup();
    for id in events {
        purged.events += event.execute([id])? as u64;
    }
    // ... and events that never had a delivery (a chat_changed with unchanged tags, no webhook).
    purged.events += conn
        .prepare_cached(
            "DELETE FROM events WHERE id IN (
                 SELECT id FROM events WHERE deliveries = 0 AND received_at < ?1
                 ORDER BY received_at LIMIT ?2)",
        )?
        .execute(params![cutoff, limit as i64])? as u64;
    purged.chat_tags = conn
        .prepare_cached(
            "DELETE FROM chat_tags WHERE (license_id, chat_id) IN (
                 SELECT license_id, chat_id FROM chat_tags WHERE seen_at < ?1
                 ORDER BY seen_at LIMIT ?2)",
        )?
        .execute(params![cutoff, limit as i64])? as u64;
    Ok(purged)
}

/// The highest delivery id of `license_id` removed by retention (0: none yet).
pub fn purged_through(conn: &Connection, license_id: &str) -> rusqlite::Result<i64> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached("SELECT purged_through FROM retention_marks WHERE license_id = ?1")?
        .query_row([license_id], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}
