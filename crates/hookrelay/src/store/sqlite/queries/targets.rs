//! Targets' health (the `targets` table) and what it does to their deliveries: parking them while
//! the target is silent, unparking them when it answers, arming probes, giving up on deliveries
//! that waited the whole retry window.

use crate::domain::dashboard::count_given_up;
use rusqlite::{params, Connection, OptionalExtension};

use super::super::rows;
use crate::domain::health::{attempts_by_target, Health};
use crate::domain::job::AttemptRecord;
use crate::domain::Millis;
use crate::store::HealthChanges;

/// The webhooks of a target, as a subquery bound to `?1`.
const OF_TARGET: &str = "webhook_id IN (SELECT id FROM webhooks WHERE target_key = ?1)";
/// The enabled webhooks of a target (a disabled webhook's deliveries wait for it, not for the
/// target), as a subquery bound to `?1`.
const OF_TARGET_ENABLED: &str =
    "webhook_id IN (SELECT id FROM webhooks WHERE target_key = ?1 AND enabled = 1)";

/// Updates the stored health of the records' targets and applies what it says (see
/// [`crate::store::Store::record_attempts`]).
pub fn apply_health(
    conn: &Connection,
    records: &[AttemptRecord],
    now: Millis,
    window_ms: Millis,
) -> rusqlite::Result<HealthChanges> {
    let mut changes = HealthChanges::default();
    for (key, attempts) in attempts_by_target(records) {
        let old = health(conn, key)?;
        if old == Health::default() && attempts.iter().all(|o| o.error.is_none()) {
            continue; // the usual case: a healthy target answered
        }
        let (new, effect) = old.after_attempts(attempts);
        if new != old {
            save_health(conn, key, &new)?;
        }
        if effect.unpark {
            unpark_target(conn, key, now)?;
            changes.unparked = true;
        }
        if let Some(since) = new.silent_since.filter(|_| effect.park) {
            park_target(conn, key, since, window_ms, now)?;
            changes.parked.push(key.to_string());
        }
    }
    Ok(changes)
}

/// The stored health of `key` (the default, answering, when it has no row).
pub fn health(conn: &Connection, key: &str) -> rusqlite::Result<Health> {
    let sql = format!(
        "SELECT {} FROM targets t WHERE t.key = ?1",
        rows::HEALTH_COLUMNS
    );
    let found = conn
        .prepare_cached(&sql)?
        .query_row([key], |r| rows::health(r, 0))
        .optional()?;
    Ok(found.unwrap_or_default())
}

/// Stores `h` as the health of `key`; an answering target with no misses keeps no row.
pub fn save_health(conn: &Connection, key: &str, h: &Health) -> rusqlite::Result<()> {
    if *h == Health::default() {
        conn.prepare_cached("DELETE FROM targets WHERE key = ?1")?
            .execute([key])?;
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO targets (key, misses, silent_since, probe_at, probing, probe_level,
                              last_miss_at, last_error, probe_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (key) DO UPDATE SET misses = excluded.misses,
             silent_since = excluded.silent_since, probe_at = excluded.probe_at,
             probing = excluded.probing, probe_level = excluded.probe_level,
             last_miss_at = excluded.last_miss_at, last_error = excluded.last_error,
             probe_id = excluded.probe_id",
    )?
    .execute(params![
        key,
        h.misses,
        h.silent_since,
        h.probe_at,
        h.probing,
        h.probe_level,
        h.last_miss_at,
        h.last_error,
        h.probe_id
    ])
    .map(drop)
}

/// Parks the never-answered pending deliveries of `key` that are not under way (nor its probe,
/// armed and not yet claimed), until
/// `max(their last try, silent_since) + window_ms`.
pub fn park_target(
    conn: &Connection,
    key: &str,
    silent_since: Millis,
    window_ms: Millis,
    now: Millis,
) -> rusqlite::Result<usize> {
    let sql = format!(
        "UPDATE deliveries SET parked = 1, next_attempt_at = max(updated_at, ?2) + ?3
         WHERE {OF_TARGET_ENABLED} AND status = 0 AND parked = 0 AND last_status_code IS NULL
           AND (lease_until IS NULL OR lease_until <= ?4)
           AND id <> coalesce((SELECT probe_id FROM targets WHERE key = ?1 AND probing = 1), -1)"
    );
    conn.prepare_cached(&sql)?
        .execute(params![key, silent_since, window_ms, now])
}

/// Makes every parked delivery of `key` due at `now`.
pub fn unpark_target(conn: &Connection, key: &str, now: Millis) -> rusqlite::Result<usize> {
    let sql = format!(
        "UPDATE deliveries SET parked = 0, next_attempt_at = ?2
         WHERE {OF_TARGET} AND status = 0 AND parked = 1"
    );
    conn.prepare_cached(&sql)?.execute(params![key, now])
}

/// Makes every parked delivery of one webhook due at `now`.
pub fn unpark_webhook(conn: &Connection, webhook_id: &str, now: Millis) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE deliveries SET parked = 0, next_attempt_at = ?2
         WHERE webhook_id = ?1 AND status = 0 AND parked = 1",
    )?
    .execute(params![webhook_id, now])
}

/// Arms the probes that are due (see [`crate::store::Store::arm_probes`]): the probe is due at 0,
/// so that it is claimed before any backlog. A target with nothing parked to probe with waits
/// `idle_ms` and looks again; one with no webhook left is forgotten.
pub fn arm_probes(
    conn: &Connection,
    now: Millis,
    watchdog_ms: Millis,
    idle_ms: Millis,
) -> rusqlite::Result<usize> {
    let due: Vec<String> = conn
        .prepare_cached(
            "SELECT key FROM targets WHERE silent_since IS NOT NULL AND probe_at <= ?1",
        )?
        .query_map([now], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut armed = 0;
    for key in due {
        let Some(probe) = least_tried_parked(conn, &key)? else {
            let orphan: bool = conn
                .prepare_cached("SELECT NOT EXISTS (SELECT 1 FROM webhooks WHERE target_key = ?1)")?
                .query_row([&key], |r| r.get(0))?;
            if orphan {
                conn.prepare_cached("DELETE FROM targets WHERE key = ?1")?
                    .execute([&key])?;
            } else {
                conn.prepare_cached(
                    "UPDATE targets SET probing = 0, probe_id = NULL, probe_at = ?2 WHERE key = ?1",
                )?
                .execute(params![key, now + idle_ms])?;
            }
            continue;
        };
        conn.prepare_cached("UPDATE deliveries SET parked = 0, next_attempt_at = 0 WHERE id = ?1")?
            .execute([probe])?;
        conn.prepare_cached(
            "UPDATE targets SET probing = 1, probe_id = ?2, probe_at = ?3 WHERE key = ?1",
        )?
        .execute(params![key, probe, now + watchdog_ms])?;
        armed += 1;
    }
    Ok(armed)
}

/// Makes due the parked deliveries whose webhook's target is not silent (any more): a safety net
/// for races that park a delivery just as its target recovers or its webhook moves elsewhere.
pub fn unpark_stranded(conn: &Connection, now: Millis) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE deliveries SET parked = 0, next_attempt_at = ?1
         WHERE status = 0 AND parked = 1 AND webhook_id IN (
             SELECT w.id FROM webhooks w LEFT JOIN targets t ON t.key = w.target_key
             WHERE t.silent_since IS NULL)",
    )?
    .execute([now])
}

/// A webhook changed or went away: if one of its deliveries is out as a target's probe, the
/// target gets a new probe at `now` instead of waiting for the watchdog.
pub fn forget_probe_of(
    conn: &Connection,
    webhook_id: &str,
    now: Millis,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE targets SET probing = 0, probe_id = NULL, probe_at = ?2
         WHERE probing = 1
           AND (SELECT webhook_id FROM deliveries WHERE id = targets.probe_id) = ?1",
    )?
    .execute(params![webhook_id, now])
}

/// The parked delivery of an enabled webhook of `key` with the fewest attempts (the oldest of
/// those), so probing spreads over deliveries instead of using up one's retries.
fn least_tried_parked(conn: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
    let webhooks: Vec<String> = conn
        .prepare_cached("SELECT id FROM webhooks WHERE target_key = ?1 AND enabled = 1")?
        .query_map([key], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut best: Option<(i64, i64)> = None;
    for w in webhooks {
        let found: Option<(i64, i64)> = conn
            .prepare_cached(
                "SELECT attempts, id FROM deliveries
                 WHERE webhook_id = ?1 AND status = 0 AND parked = 1
                 ORDER BY attempts, id LIMIT 1",
            )?
            .query_row([w], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        best = best.into_iter().chain(found).min();
    }
    Ok(best.map(|(_, id)| id))
}

/// Fails parked deliveries whose wait is over (see [`crate::store::Store::give_up_parked`]).
pub fn give_up_parked(
    conn: &Connection,
    now: Millis,
    confirmed_since: Millis,
    message: &str,
    limit: usize,
) -> rusqlite::Result<u64> {
    let over: Vec<(i64, i64, Option<String>, String, String)> = conn
        .prepare_cached(
            // From the targets whose silence is current to their enabled webhooks to those
            // webhooks' parked deliveries that are over (CROSS JOIN keeps SQLite to that order):
            // parked rows nobody can give up yet (a disabled webhook's, a stale silence's) are
            // never read.
            "SELECT d.id, d.attempts, t.last_error, d.license_id, d.webhook_id FROM targets t
             CROSS JOIN webhooks w CROSS JOIN deliveries d
             WHERE t.silent_since IS NOT NULL AND t.last_miss_at >= ?2
               AND w.target_key = t.key AND w.enabled = 1
               AND d.webhook_id = w.id AND d.status = 0 AND d.parked = 1
               AND d.next_attempt_at <= ?1
             LIMIT ?3",
        )?
        .query_map(params![now, confirmed_since, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (id, attempts, last_error, _, _) in &over {
        let error = crate::domain::health::given_up_error(message, last_error.as_deref());
        conn.prepare_cached(
            "INSERT INTO attempts (delivery_id, attempt_no, started_at, duration_ms, error)
             VALUES (?1, ?2, ?3, 0, ?4)",
        )?
        .execute(params![id, attempts + 1, now, error])?;
        conn.prepare_cached(
            "UPDATE deliveries SET status = 2, parked = 0, next_attempt_at = NULL,
                    attempts = ?2, last_status_code = NULL, last_error = ?3, updated_at = ?4,
                    failure_notice = 1
             WHERE id = ?1",
        )?
        .execute(params![id, attempts + 1, error, now])?;
    }
    let given_up = over.iter().map(|(_, _, _, l, w)| (l.as_str(), w.as_str()));
    super::add_minutes(conn, &count_given_up(given_up, now))?;
    Ok(over.len() as u64)
}

/// Fills in the target key of webhooks stored before keys existed.
pub fn backfill_target_keys(conn: &Connection) -> rusqlite::Result<usize> {
    let missing: Vec<(String, String)> = conn
        .prepare("SELECT id, url FROM webhooks WHERE target_key = ''")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, url) in &missing {
        let key = crate::domain::target::TargetUrl::stored(url)
            .map(|t| t.key())
            .unwrap_or_default();
        conn.execute(
            "UPDATE webhooks SET target_key = ?2 WHERE id = ?1",
            [id, &key],
        )?;
    }
    Ok(missing.len())
}
