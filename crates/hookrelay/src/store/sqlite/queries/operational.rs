//! Auto-disable and operational events: webhooks' failure streaks, the candidates for disabling,
//! and the notices of events still owed.

use rusqlite::{params, Connection};

use super::super::rows::{self, WEBHOOK_COLUMNS, WEBHOOK_FROM};
use crate::domain::auto_disable::{Failing, Tracking};
use crate::domain::delivery::{Delivery, DeliveryId};
use crate::domain::webhook::Webhook;
use crate::domain::Millis;

/// Writes what a batch of attempts changed in its webhooks' failure streaks. A success costs a
/// primary-key look-up and writes only when a streak was stored.
pub fn track_failures(conn: &Connection, changes: &[Tracking]) -> rusqlite::Result<()> {
    for change in changes {
        match change {
            Tracking::Answered { webhook_id } => conn
                .prepare_cached(
                    "UPDATE webhooks SET failing_since = NULL, last_failure_at = NULL,
                            last_failure = NULL
                     WHERE id = ?1 AND failing_since IS NOT NULL",
                )?
                .execute([webhook_id])?,
            Tracking::Failed {
                webhook_id,
                first_at,
                last_at,
                last,
                restart,
            } => conn
                .prepare_cached(
                    "UPDATE webhooks SET
                        failing_since = CASE WHEN ?5 THEN ?2 ELSE coalesce(failing_since, ?2) END,
                        last_failure_at = max(coalesce(last_failure_at, 0), ?3),
                        last_failure = ?4
                     WHERE id = ?1",
                )?
                .execute(params![webhook_id, first_at, last_at, last, restart])?,
        };
    }
    Ok(())
}

/// Enabled webhooks failing since `since_before` or earlier, with their streak.
pub fn failing_webhooks(
    conn: &Connection,
    since_before: Millis,
) -> rusqlite::Result<Vec<(Webhook, Failing)>> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS}, w.failing_since, w.last_failure_at, w.last_failure
         FROM {WEBHOOK_FROM} WHERE w.enabled = 1 AND w.kind = 0 AND w.failing_since <= ?1"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([since_before], |row| {
        const N: usize = crate::store::columns::WEBHOOK_COLUMN_COUNT;
        let failing = Failing {
            since: row.get(N)?,
            last_at: row.get::<_, Option<Millis>>(N + 1)?.unwrap_or(0),
            last: row.get::<_, Option<String>>(N + 2)?.unwrap_or_default(),
        };
        Ok((rows::webhook(row)?, failing))
    })?;
    rows.collect()
}

/// Disabled webhooks whose `webhook_disabled` event is owed, oldest disable first.
pub fn disable_notices(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<Webhook>> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM {WEBHOOK_FROM} WHERE w.disable_notice = 1
         ORDER BY w.disabled_at LIMIT ?1"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([limit as i64], rows::webhook)?;
    rows.collect()
}

/// Failed deliveries whose `delivery_failed` event is owed, with their license, oldest first.
pub fn failure_notices(
    conn: &Connection,
    limit: usize,
) -> rusqlite::Result<Vec<(String, Delivery)>> {
    let sql = format!(
        "SELECT {}, d.license_id FROM deliveries d JOIN events e ON e.id = d.event_id
         WHERE d.failure_notice = 1 ORDER BY d.id LIMIT ?1",
        rows::DELIVERY_COLUMNS
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([limit as i64], |row| {
        Ok((row.get(11)?, rows::delivery(row)?))
    })?;
    rows.collect()
}

/// Marks notices as done (see [`crate::store::Store::clear_notices`]).
pub fn clear_notices(
    conn: &Connection,
    webhooks: &[(String, Millis)],
    deliveries: &[DeliveryId],
) -> rusqlite::Result<()> {
    let mut webhook = conn.prepare_cached(
        "UPDATE webhooks SET disable_notice = 0 WHERE id = ?1 AND disabled_at = ?2",
    )?;
    for (id, at) in webhooks {
        webhook.execute(params![id, at])?;
    }
    let mut delivery =
        conn.prepare_cached("UPDATE deliveries SET failure_notice = 0 WHERE id = ?1")?;
    for id in deliveries {
        delivery.execute([id.0])?;
    }
    Ok(())
}
