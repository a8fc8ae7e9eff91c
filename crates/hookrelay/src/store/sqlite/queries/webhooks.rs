//! Webhooks: create, list, change, delete.

use rusqlite::{params, Connection, OptionalExtension};

use super::super::rows;
use crate::domain::webhook::Webhook;
use crate::domain::Millis;
use crate::store::WebhookChanges;

pub fn insert_webhook(conn: &Connection, w: &Webhook) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO webhooks (id, license_id, url, event_type, data_types, description, enabled,
                               created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            w.id,
            w.license_id,
            w.url.as_stored(),
            w.event_type.as_str(),
            w.data_types.bits(),
            w.description,
            w.enabled,
            w.created_at,
            w.updated_at
        ],
    )
    .map(drop)
}

pub fn webhooks_of(conn: &Connection, license_id: &str) -> rusqlite::Result<Vec<Webhook>> {
    let sql = format!(
        "SELECT {} FROM webhooks WHERE license_id = ?1 ORDER BY created_at, id",
        rows::WEBHOOK_COLUMNS
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([license_id], rows::webhook)?;
    rows.collect()
}

pub fn webhook(conn: &Connection, license_id: &str, id: &str) -> rusqlite::Result<Option<Webhook>> {
    let sql = format!(
        "SELECT {} FROM webhooks WHERE license_id = ?1 AND id = ?2",
        rows::WEBHOOK_COLUMNS
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
    let changed = conn.execute(
        "UPDATE webhooks SET
            url = coalesce(?3, url),
            data_types = coalesce(?4, data_types),
            description = CASE WHEN ?5 THEN ?6 ELSE description END,
            enabled = coalesce(?7, enabled),
            updated_at = ?8
         WHERE license_id = ?1 AND id = ?2",
        params![
            license_id,
            id,
            c.url,
            c.data_types,
            c.description.is_some(),
            c.description.clone().flatten(),
            c.enabled,
            now
        ],
    )?;
    if changed == 0 {
        return Ok(None);
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
    let deleted = conn.execute(
        "DELETE FROM webhooks WHERE license_id = ?1 AND id = ?2",
        [license_id, id],
    )?;
    if deleted > 0 {
        conn.execute(
            "UPDATE deliveries SET status = 2, next_attempt_at = NULL, lease_until = NULL,
                    last_error = 'the webhook was deleted', updated_at = ?2
             WHERE webhook_id = ?1 AND status = 0",
            params![id, now],
        )?;
    }
    Ok(deleted > 0)
}
