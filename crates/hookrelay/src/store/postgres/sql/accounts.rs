//! Settings, licenses and webhooks: the low-rate configuration tables.

use deadpool_postgres::GenericClient;
use tokio_postgres::{Error, Row};

use super::{execute, query, query_opt};
use crate::domain::license::License;
use crate::domain::webhook::Webhook;
use crate::domain::Millis;
use crate::store::postgres::rows::{LICENSE_COLUMNS, WEBHOOK_COLUMNS, WEBHOOK_FROM};
use crate::store::{stored_signing, WebhookChanges};

pub async fn setting<C: GenericClient>(c: &C, key: &str) -> Result<Option<String>, Error> {
    let row = query_opt(c, "SELECT value FROM settings WHERE key = $1", &[&key]).await?;
    Ok(row.map(|r| r.get(0)))
}

/// Sets a setting unless it is set; returns the value now stored (the first writer's, if several
/// nodes race).
pub async fn init_setting<C: GenericClient>(
    c: &C,
    key: &str,
    value: &str,
) -> Result<String, Error> {
    let row = query_opt(
        c,
        "INSERT INTO settings (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = settings.value
         RETURNING value",
        &[&key, &value],
    )
    .await?;
    Ok(row.map_or_else(|| value.to_string(), |r| r.get(0)))
}

pub async fn insert_license<C: GenericClient>(c: &C, l: &License) -> Result<(), Error> {
    execute(
        c,
        "INSERT INTO licenses (license_id, login, token, api_key_hash, created_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &l.license_id,
            &l.login,
            &l.token,
            &&l.api_key_hash[..],
            &l.created_at,
        ],
    )
    .await
    .map(drop)
}

pub async fn license_by_id<C: GenericClient>(c: &C, id: &str) -> Result<Option<Row>, Error> {
    let sql = format!("SELECT {LICENSE_COLUMNS} FROM licenses WHERE license_id = $1");
    query_opt(c, &sql, &[&id]).await
}

pub async fn license_by_key_hash<C: GenericClient>(
    c: &C,
    hash: &[u8],
) -> Result<Option<Row>, Error> {
    let sql = format!("SELECT {LICENSE_COLUMNS} FROM licenses WHERE api_key_hash = $1");
    query_opt(c, &sql, &[&hash]).await
}

pub async fn license_count<C: GenericClient>(c: &C) -> Result<i64, Error> {
    let rows = query(c, "SELECT count(*) FROM licenses", &[]).await?;
    Ok(rows[0].get(0))
}

/// A page of licenses in `license_id` order, after `after`.
pub async fn licenses_after<C: GenericClient>(
    c: &C,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<Row>, Error> {
    let sql = format!(
        "SELECT {LICENSE_COLUMNS} FROM licenses
         WHERE $1::text IS NULL OR license_id > $1 ORDER BY license_id LIMIT $2"
    );
    query(c, &sql, &[&after, &(limit as i64)]).await
}

/// Inserts a webhook; a listen session's is held by `node` (from its `session.seen_at`).
pub async fn insert_webhook<C: GenericClient>(c: &C, w: &Webhook, node: &str) -> Result<(), Error> {
    let session = w.session.as_ref().filter(|_| w.url.session_id().is_some());
    execute(
        c,
        "INSERT INTO webhooks (id, license_id, url, event_type, data_types, description, enabled,
                               created_at, updated_at, target_key, signing, kind, session_node,
                               session_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        &[
            &w.id,
            &w.license_id,
            &w.url.as_stored(),
            &w.event_type.as_str(),
            &i32::from(w.data_types.bits()),
            &w.description,
            &w.enabled,
            &w.created_at,
            &w.updated_at,
            &w.url.key(),
            &w.signing.as_ref().map(|k| k.to_stored()),
            &i16::from(session.is_some()),
            &session.map(|_| node),
            &session.map(|s| s.seen_at),
        ],
    )
    .await
    .map(drop)
}

pub async fn webhooks_of<C: GenericClient>(c: &C, license_id: &str) -> Result<Vec<Row>, Error> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM {WEBHOOK_FROM} WHERE w.license_id = $1
         ORDER BY w.created_at, w.id"
    );
    query(c, &sql, &[&license_id]).await
}

pub async fn webhook<C: GenericClient>(
    c: &C,
    license_id: &str,
    id: &str,
) -> Result<Option<Row>, Error> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM {WEBHOOK_FROM} WHERE w.license_id = $1 AND w.id = $2"
    );
    query_opt(c, &sql, &[&license_id, &id]).await
}

/// Locks a webhook's row until the commit; returns `(enabled, target key)`.
pub async fn lock_webhook<C: GenericClient>(
    c: &C,
    license_id: &str,
    id: &str,
) -> Result<Option<(bool, String)>, Error> {
    let row = query_opt(
        c,
        "SELECT enabled, target_key FROM webhooks WHERE license_id = $1 AND id = $2 FOR UPDATE",
        &[&license_id, &id],
    )
    .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Applies `changes`; returns whether a row changed (an auto-disable whose streak is over
/// changes none).
pub async fn update_webhook<C: GenericClient>(
    c: &C,
    license_id: &str,
    id: &str,
    ch: &WebhookChanges,
    now: Millis,
) -> Result<bool, Error> {
    let (url, key) = match &ch.url {
        Some((url, key)) => (Some(url.as_str()), Some(key.as_str())),
        None => (None, None),
    };
    let description = ch.description.clone().flatten();
    let n = execute(
        c,
        "UPDATE webhooks SET
            url = coalesce($3, url),
            target_key = coalesce($9, target_key),
            data_types = coalesce($4, data_types),
            description = CASE WHEN $5 THEN $6 ELSE description END,
            enabled = coalesce($7, enabled),
            signing = CASE WHEN $10 THEN $11 ELSE signing END,
            disabled_reason = CASE WHEN $12::text IS NOT NULL THEN $12 WHEN $7 AND NOT enabled THEN NULL
                                   ELSE disabled_reason END,
            disabled_at = CASE WHEN $12::text IS NOT NULL THEN $13 WHEN $7 AND NOT enabled THEN NULL
                               ELSE disabled_at END,
            disable_notice = CASE WHEN $12::text IS NOT NULL THEN $14 WHEN $7 AND NOT enabled THEN false
                                  ELSE disable_notice END,
            failing_since = CASE WHEN $7 AND NOT enabled THEN NULL ELSE failing_since END,
            last_failure_at = CASE WHEN $7 AND NOT enabled THEN NULL ELSE last_failure_at END,
            last_failure = CASE WHEN $7 AND NOT enabled THEN NULL ELSE last_failure END,
            updated_at = $8
         WHERE license_id = $1 AND id = $2
           AND ($15::bigint IS NULL OR failing_since = $15)
           AND (NOT $16 OR signing IS NOT DISTINCT FROM $17)",
        &[
            &license_id,
            &id,
            &url,
            &ch.data_types.map(i32::from),
            &ch.description.is_some(),
            &description,
            &ch.enabled,
            &now,
            &key,
            &ch.signing.is_some(),
            &ch.signing.as_ref().and_then(stored_signing),
            &ch.auto_disabled.as_ref().map(|d| d.reason.as_str()),
            &ch.auto_disabled.as_ref().map(|d| d.at),
            &ch.auto_disabled.as_ref().is_some_and(|d| d.announce),
            &ch.auto_disabled.as_ref().map(|d| d.failing_since),
            &ch.signing_was.is_some(),
            &ch.signing_was.as_ref().and_then(stored_signing),
        ],
    )
    .await?;
    Ok(n > 0)
}

pub async fn delete_webhook<C: GenericClient>(
    c: &C,
    license_id: &str,
    id: &str,
) -> Result<bool, Error> {
    let n = execute(
        c,
        "DELETE FROM webhooks WHERE license_id = $1 AND id = $2",
        &[&license_id, &id],
    )
    .await?;
    Ok(n > 0)
}

/// Fails the pending deliveries of a deleted webhook (nobody could ever send them).
pub async fn fail_deliveries_of_webhook<C: GenericClient>(
    c: &C,
    webhook_id: &str,
    now: Millis,
) -> Result<u64, Error> {
    execute(
        c,
        "UPDATE deliveries SET status = 2, parked = false, next_attempt_at = NULL,
                lease_until = NULL, last_error = 'the webhook was deleted', updated_at = $2
         WHERE webhook_id = $1 AND status = 0",
        &[&webhook_id, &now],
    )
    .await
}
