//! Targets' health (the `targets` table) and what it does to their deliveries: parking them while
//! the target is silent, unparking them when it answers, arming probes, giving up on deliveries
//! that waited the whole retry window.

use deadpool_postgres::GenericClient;
use tokio_postgres::{Error, Row};

use super::{execute, query, query_opt};
use crate::domain::health::Health;
use crate::domain::Millis;
use crate::store::postgres::rows::HEALTH_COLUMNS;

/// The webhooks of a target, as a subquery bound to `$1`.
const OF_TARGET: &str = "webhook_id IN (SELECT id FROM webhooks WHERE target_key = $1)";
/// The enabled webhooks of a target (a disabled webhook's deliveries wait for it, not for the
/// target), as a subquery bound to `$1`.
const OF_TARGET_ENABLED: &str =
    "webhook_id IN (SELECT id FROM webhooks WHERE target_key = $1 AND enabled)";

/// Makes sure `keys` (sorted) have a row, so that [`lock_health`] can lock one even for a target
/// two nodes see miss for the first time at once.
pub async fn ensure_targets<C: GenericClient>(c: &C, keys: &[&str]) -> Result<u64, Error> {
    execute(
        c,
        "INSERT INTO targets (key, misses, probing, probe_level)
         SELECT k, 0, false, 0 FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n) ORDER BY u.n
         ON CONFLICT (key) DO NOTHING",
        &[&keys],
    )
    .await
}

/// Locks the rows of `keys` until the commit; returns `(key, health columns…)` rows.
pub async fn lock_health<C: GenericClient>(c: &C, keys: &[&str]) -> Result<Vec<Row>, Error> {
    let sql = format!(
        "SELECT t.key, {HEALTH_COLUMNS} FROM targets t WHERE t.key = ANY($1)
         ORDER BY t.key FOR UPDATE"
    );
    query(c, &sql, &[&keys]).await
}

/// Stores `h` as the health of `key`; an answering target with no misses keeps no row.
pub async fn save_health<C: GenericClient>(c: &C, key: &str, h: &Health) -> Result<u64, Error> {
    if *h == Health::default() {
        return execute(c, "DELETE FROM targets WHERE key = $1", &[&key]).await;
    }
    execute(
        c,
        "INSERT INTO targets (key, misses, silent_since, probe_at, probing, probe_level,
                              last_miss_at, last_error, probe_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (key) DO UPDATE SET misses = excluded.misses,
             silent_since = excluded.silent_since, probe_at = excluded.probe_at,
             probing = excluded.probing, probe_level = excluded.probe_level,
             last_miss_at = excluded.last_miss_at, last_error = excluded.last_error,
             probe_id = excluded.probe_id",
        &[
            &key,
            &(h.misses as i32),
            &h.silent_since,
            &h.probe_at,
            &h.probing,
            &(h.probe_level as i32),
            &h.last_miss_at,
            &h.last_error,
            &h.probe_id,
        ],
    )
    .await
}

/// Parks the never-answered pending deliveries of `key` that are not under way (nor its probe,
/// armed and not yet claimed), until
/// `max(their last try, silent_since) + window_ms`.
pub async fn park_target<C: GenericClient>(
    c: &C,
    key: &str,
    silent_since: Millis,
    window_ms: Millis,
    now: Millis,
) -> Result<u64, Error> {
    let sql = format!(
        "UPDATE deliveries SET parked = true, next_attempt_at = greatest(updated_at, $2) + $3
         WHERE {OF_TARGET_ENABLED} AND status = 0 AND NOT parked AND last_status_code IS NULL
           AND (lease_until IS NULL OR lease_until <= $4)
           AND id <> coalesce((SELECT probe_id FROM targets WHERE key = $1 AND probing), -1)"
    );
    execute(c, &sql, &[&key, &silent_since, &window_ms, &now]).await
}

/// Makes every parked delivery of `key` due at `now`.
pub async fn unpark_target<C: GenericClient>(c: &C, key: &str, now: Millis) -> Result<u64, Error> {
    let sql = format!(
        "UPDATE deliveries SET parked = false, next_attempt_at = $2
         WHERE {OF_TARGET} AND status = 0 AND parked"
    );
    execute(c, &sql, &[&key, &now]).await
}

/// Makes every parked delivery of one webhook due at `now`.
pub async fn unpark_webhook<C: GenericClient>(
    c: &C,
    webhook_id: &str,
    now: Millis,
) -> Result<u64, Error> {
    execute(
        c,
        "UPDATE deliveries SET parked = false, next_attempt_at = $2
         WHERE webhook_id = $1 AND status = 0 AND parked",
        &[&webhook_id, &now],
    )
    .await
}

/// Locks the silent targets whose probe is due (rows another node is taking are skipped);
/// returns their keys.
pub async fn lock_due_probes<C: GenericClient>(c: &C, now: Millis) -> Result<Vec<String>, Error> {
    let rows = query(
        c,
        "SELECT key FROM targets WHERE silent_since IS NOT NULL AND probe_at <= $1
         ORDER BY key FOR NO KEY UPDATE SKIP LOCKED",
        &[&now],
    )
    .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Makes the least-tried parked delivery of an enabled webhook of `key` (the oldest of those)
/// due at once, before any backlog, to be its probe; returns its id.
pub async fn unpark_probe<C: GenericClient>(c: &C, key: &str) -> Result<Option<i64>, Error> {
    let row = query_opt(
        c,
        "UPDATE deliveries SET parked = false, next_attempt_at = 0
         WHERE id = (SELECT d.id FROM webhooks w
                     CROSS JOIN LATERAL (
                         SELECT id, attempts FROM deliveries
                         WHERE webhook_id = w.id AND status = 0 AND parked
                         ORDER BY attempts, id LIMIT 1
                         FOR UPDATE SKIP LOCKED) d
                     WHERE w.target_key = $1 AND w.enabled
                     ORDER BY d.attempts, d.id LIMIT 1)
           AND status = 0 AND parked
         RETURNING id",
        &[&key],
    )
    .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Marks `key`'s probe as out (delivery `probe_id`, `None`: nothing to probe with) until
/// `probe_at`.
pub async fn set_probe<C: GenericClient>(
    c: &C,
    key: &str,
    probe_id: Option<i64>,
    probe_at: Millis,
) -> Result<u64, Error> {
    execute(
        c,
        "UPDATE targets SET probing = $2::bigint IS NOT NULL, probe_id = $2, probe_at = $3
         WHERE key = $1",
        &[&key, &probe_id, &probe_at],
    )
    .await
}

/// Forgets `key` if no webhook points at it any more; returns whether it did.
pub async fn forget_orphan<C: GenericClient>(c: &C, key: &str) -> Result<bool, Error> {
    let n = execute(
        c,
        "DELETE FROM targets WHERE key = $1
           AND NOT EXISTS (SELECT 1 FROM webhooks WHERE target_key = $1)",
        &[&key],
    )
    .await?;
    Ok(n > 0)
}

/// Makes due the parked deliveries whose webhook's target is not silent (any more).
pub async fn unpark_stranded<C: GenericClient>(c: &C, now: Millis) -> Result<u64, Error> {
    execute(
        c,
        "UPDATE deliveries SET parked = false, next_attempt_at = $1
         WHERE status = 0 AND parked AND webhook_id IN (
             SELECT w.id FROM webhooks w LEFT JOIN targets t ON t.key = w.target_key
             WHERE t.silent_since IS NULL)",
        &[&now],
    )
    .await
}

/// A webhook changed or went away: if one of its deliveries is out as a target's probe, the
/// target gets a new probe at `now` instead of waiting for the watchdog.
pub async fn forget_probe_of<C: GenericClient>(
    c: &C,
    webhook_id: &str,
    now: Millis,
) -> Result<u64, Error> {
    execute(
        c,
        "UPDATE targets t SET probing = false, probe_id = NULL, probe_at = $2
         WHERE t.probing AND (SELECT webhook_id FROM deliveries WHERE id = t.probe_id) = $1",
        &[&webhook_id, &now],
    )
    .await
}

/// Locks the targets rows of `keys` (sorted) that exist, until the commit.
pub async fn lock_targets<C: GenericClient>(c: &C, keys: &[&str]) -> Result<u64, Error> {
    let rows = query(
        c,
        "SELECT key FROM targets WHERE key = ANY($1) ORDER BY key FOR UPDATE",
        &[&keys],
    )
    .await?;
    Ok(rows.len() as u64)
}

/// Locks up to `limit` parked deliveries whose wait is over, of enabled webhooks whose target's
/// silence was confirmed since `confirmed_since`: `(id, attempts, the target's last error)`.
pub async fn lock_given_up<C: GenericClient>(
    c: &C,
    now: Millis,
    confirmed_since: Millis,
    limit: usize,
) -> Result<Vec<Row>, Error> {
    query(
        c,
        "SELECT d.id, d.attempts, t.last_error, d.license_id, d.webhook_id FROM targets t
         JOIN webhooks w ON w.target_key = t.key AND w.enabled
         JOIN deliveries d ON d.webhook_id = w.id AND d.status = 0 AND d.parked
                          AND d.next_attempt_at <= $1
         WHERE t.silent_since IS NOT NULL AND t.last_miss_at >= $2
         LIMIT $3
         FOR UPDATE OF d SKIP LOCKED",
        &[&now, &confirmed_since, &(limit as i64)],
    )
    .await
}

/// Fails given-up deliveries: one `not sent` attempt each, carrying `errors[i]`.
pub async fn fail_given_up<C: GenericClient>(
    c: &C,
    ids: &[i64],
    attempt_nos: &[i32],
    errors: &[String],
    now: Millis,
) -> Result<u64, Error> {
    execute(
        c,
        "INSERT INTO attempts (delivery_id, attempt_no, started_at, duration_ms, error)
         SELECT u.id, u.n, $4, 0, u.error FROM unnest($1::bigint[], $2::int[], $3::text[])
              AS u(id, n, error)",
        &[&ids, &attempt_nos, &errors, &now],
    )
    .await?;
    execute(
        c,
        "UPDATE deliveries d SET status = 2, parked = false, next_attempt_at = NULL,
                attempts = u.n, last_status_code = NULL, last_error = u.error, updated_at = $4,
                failure_notice = true
         FROM unnest($1::bigint[], $2::int[], $3::text[]) AS u(id, n, error) WHERE d.id = u.id",
        &[&ids, &attempt_nos, &errors, &now],
    )
    .await
}

/// Webhooks stored before target keys existed: `(id, url)`.
pub async fn webhooks_without_key<C: GenericClient>(c: &C) -> Result<Vec<Row>, Error> {
    query(c, "SELECT id, url FROM webhooks WHERE target_key = ''", &[]).await
}

pub async fn set_target_key<C: GenericClient>(c: &C, id: &str, key: &str) -> Result<u64, Error> {
    execute(
        c,
        "UPDATE webhooks SET target_key = $2 WHERE id = $1",
        &[&id, &key],
    )
    .await
}
