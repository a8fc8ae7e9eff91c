//! Webhooks: create, list, change, delete. Each is read with its target's health.

use rusqlite::{params, Connection, OptionalExtension};

use super::super::rows::{self, WEBHOOK_COLUMNS, WEBHOOK_FROM};
use super::targets::{forget_probe_of, unpark_webhook};
use crate::domain::webhook::Webhook;
use crate::domain::Millis;
use crate::store::{stored_signing, WebhookChanges, SIGNING_RACE};

/// Inserts a webhook; a listen session's is held by `node` (from its `session.seen_at`).
pub fn insert_webhook(conn: &Connection, w: &Webhook, node: &str) -> rusqlite::Result<()> {
    let session = w.session.as_ref().filter(|_| w.url.session_id().is_some());
    conn.execute(
        "INSERT INTO webhooks (id, license_id, url, event_type, data_types, description, enabled,
                               created_at, updated_at, target_key, signing, kind, session_node,
                               session_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            w.id,
            w.license_id,
            w.url.as_stored(),
            w.event_type.as_str(),
            w.data_types.bits(),
            w.description,
            w.enabled,
            w.created_at,
            w.updated_at,
            w.url.key(),
            w.signing.as_ref().map(|k| k.to_stored()),
            i64::from(session.is_some()),
            session.map(|_| node),
            session.map(|s| s.seen_at),
        ],
    )
    .map(drop)
}

pub fn webhooks_of(conn: &Connection, license_id: &str) -> rusqlite::Result<Vec<Webhook>> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM {WEBHOOK_FROM} WHERE w.license_id = ?1
         ORDER BY w.created_at, w.id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([license_id], rows::webhook)?;
    rows.collect()
}

pub fn webhook(conn: &Connection, license_id: &str, id: &str) -> rusqlite::Result<Option<Webhook>> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM {WEBHOOK_FROM} WHERE w.license_id = ?1 AND w.id = ?2"
    );
    conn.prepare_cached(&sql)?
        .query_row([license_id, id], rows::webhook)
        .optional()
}

pub fn update_webhook(
    conn: &Connection,
    license_id: &str,
    id: &str,
    c: &WebhookChanges,
    now: Millis,
) -> rusqlite::Result<Option<Webhook>> {
    let (url, key) = match &c.url {
        Some((url, key)) => (Some(url.as_str()), Some(key.as_str())),
        None => (None, None),
    };
    let before: Option<(bool, String)> = conn
        .query_row(
            "SELECT enabled, target_key FROM webhooks WHERE license_id = ?1 AND id = ?2",
            [license_id, id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((was_enabled, old_key)) = before else {
        return Ok(None);
    };
    let changed = conn.execute(
        "UPDATE webhooks SET
            url = coalesce(?3, url),
            target_key = coalesce(?9, target_key),
            data_types = coalesce(?4, data_types),
            description = CASE WHEN ?5 THEN ?6 ELSE description END,
            enabled = coalesce(?7, enabled),
            signing = CASE WHEN ?10 THEN ?11 ELSE signing END,
            disabled_reason = CASE WHEN ?12 IS NOT NULL THEN ?12 WHEN ?7 AND enabled = 0 THEN NULL
                                   ELSE disabled_reason END,
            disabled_at = CASE WHEN ?12 IS NOT NULL THEN ?13 WHEN ?7 AND enabled = 0 THEN NULL ELSE disabled_at END,
            disable_notice = CASE WHEN ?12 IS NOT NULL THEN ?14 WHEN ?7 AND enabled = 0 THEN 0
                                  ELSE disable_notice END,
            failing_since = CASE WHEN ?7 AND enabled = 0 THEN NULL ELSE failing_since END,
            last_failure_at = CASE WHEN ?7 AND enabled = 0 THEN NULL ELSE last_failure_at END,
            last_failure = CASE WHEN ?7 AND enabled = 0 THEN NULL ELSE last_failure END,
            updated_at = ?8
         WHERE license_id = ?1 AND id = ?2 AND (?15 IS NULL OR failing_since = ?15)
           AND (NOT ?16 OR signing IS ?17)",
        params![
            license_id,
            id,
            url,
            c.data_types,
            c.description.is_some(),
            c.description.clone().flatten(),
            c.enabled,
            now,
            key,
            c.signing.is_some(),
            c.signing.as_ref().and_then(stored_signing),
            c.auto_disabled.as_ref().map(|d| d.reason.as_str()),
            c.auto_disabled.as_ref().map(|d| d.at),
            c.auto_disabled.as_ref().is_some_and(|d| d.announce),
            c.auto_disabled.as_ref().map(|d| d.failing_since),
            c.signing_was.is_some(),
            c.signing_was.as_ref().and_then(stored_signing)
        ],
    )?;
    if changed == 0 && c.auto_disabled.is_some() {
        // An auto-disable whose streak a success ended meanwhile: nothing changed.
        return webhook(conn, license_id, id);
    }
    if changed == 0 {
        // It exists (read above, in this transaction): the signing guard did not hold.
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            Some(SIGNING_RACE.into()),
        ));
    }
    let moved = key.is_some_and(|k| k != old_key);
    let enabled = c.enabled.unwrap_or(was_enabled);
    if moved || enabled != was_enabled {
        // Its probe, if one is out, no longer tells anything about its old target.
        forget_probe_of(conn, id, now)?;
    }
    if moved || (enabled && !was_enabled) {
        // The new target may answer; a re-enabled webhook starts afresh.
        unpark_webhook(conn, id, now)?;
    }
    webhook(conn, license_id, id)
}

/// Deletes a webhook and fails its pending deliveries (nobody could ever send them).
pub fn delete_webhook(
    conn: &Connection,
    license_id: &str,
    id: &str,
    now: Millis,
) -> rusqlite::Result<bool> {
    delete_webhook_if(conn, license_id, id, now, None)
}

/// Deletes a webhook (and fails its pending deliveries) if it exists and, with `expired_before`,
/// if it is a listen session's that nobody has held since then.
pub fn delete_webhook_if(
    conn: &Connection,
    license_id: &str,
    id: &str,
    now: Millis,
    expired_before: Option<Millis>,
) -> rusqlite::Result<bool> {
    let deleted = conn.execute(
        "DELETE FROM webhooks WHERE license_id = ?1 AND id = ?2
           AND (?3 IS NULL OR (kind = 1 AND session_seen_at < ?3))",
        params![license_id, id, expired_before],
    )?;
    if deleted > 0 {
        forget_probe_of(conn, id, now)?;
        conn.execute(
            "UPDATE deliveries SET status = 2, parked = 0, next_attempt_at = NULL,
                    lease_until = NULL, last_error = 'the webhook was deleted', updated_at = ?2
             WHERE webhook_id = ?1 AND status = 0",
            params![id, now],
        )?;
    }
    Ok(deleted > 0)
}
