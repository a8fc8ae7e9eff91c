//! Auto-disable and operational events: webhooks' failure streaks, the candidates for disabling,
//! and the notices of events still owed.

use deadpool_postgres::GenericClient;
use tokio_postgres::{Error, Row};

use super::{execute, query};
use crate::domain::auto_disable::Tracking;
use crate::domain::Millis;
use crate::store::postgres::rows::{DELIVERY_COLUMNS, WEBHOOK_COLUMNS, WEBHOOK_FROM};

/// Writes what a batch of attempts changed in its webhooks' failure streaks, in one statement.
/// Only rows with something to change are locked and written (a success where no streak was
/// stored costs a look-up), and a row another transaction holds is skipped rather than waited
/// for: recording locks targets first, changing a webhook locks the webhook first, so waiting
/// here could deadlock. A skipped batch is caught up by the webhook's next one.
pub async fn track_failures<C: GenericClient>(c: &C, changes: &[Tracking]) -> Result<u64, Error> {
    if changes.is_empty() {
        return Ok(0);
    }
    let mut ids = Vec::with_capacity(changes.len());
    let mut failed = Vec::with_capacity(changes.len());
    let mut restart = Vec::with_capacity(changes.len());
    let mut first = Vec::with_capacity(changes.len());
    let mut last_at = Vec::with_capacity(changes.len());
    let mut last: Vec<Option<&str>> = Vec::with_capacity(changes.len());
    for change in changes {
        ids.push(change.webhook_id());
        match change {
            Tracking::Answered { .. } => {
                failed.push(false);
                restart.push(false);
                first.push(0i64);
                last_at.push(0i64);
                last.push(None);
            }
            Tracking::Failed {
                first_at,
                last_at: at,
                last: phrase,
                restart: r,
                ..
            } => {
                failed.push(true);
                restart.push(*r);
                first.push(*first_at);
                last_at.push(*at);
                last.push(Some(phrase));
            }
        }
    }
    execute(
        c,
        "WITH u AS (SELECT * FROM unnest($1::text[], $2::bool[], $3::bool[], $4::bigint[],
                                        $5::bigint[], $6::text[])
                    AS u(id, failed, restart, first_at, last_at, last)),
              todo AS (SELECT w.id FROM webhooks w JOIN u ON u.id = w.id
                       WHERE u.failed OR w.failing_since IS NOT NULL
                       FOR UPDATE OF w SKIP LOCKED)
         UPDATE webhooks w SET
            failing_since = CASE WHEN NOT u.failed THEN NULL
                                 WHEN u.restart THEN u.first_at
                                 ELSE coalesce(w.failing_since, u.first_at) END,
            last_failure_at = CASE WHEN u.failed
                                   THEN greatest(coalesce(w.last_failure_at, 0), u.last_at) END,
            last_failure = CASE WHEN u.failed THEN u.last END
         FROM u WHERE w.id = u.id AND w.id IN (SELECT id FROM todo)",
        &[&ids, &failed, &restart, &first, &last_at, &last],
    )
    .await
}

/// Enabled webhooks failing since `since_before` or earlier: [`WEBHOOK_COLUMNS`], then
/// `failing_since, last_failure_at, last_failure`.
pub async fn failing_webhooks<C: GenericClient>(
    c: &C,
    since_before: Millis,
) -> Result<Vec<Row>, Error> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS}, w.failing_since, w.last_failure_at, w.last_failure
         FROM {WEBHOOK_FROM} WHERE w.enabled AND w.kind = 0 AND w.failing_since <= $1"
    );
    query(c, &sql, &[&since_before]).await
}

/// Disabled webhooks whose `webhook_disabled` event is owed, oldest disable first.
pub async fn disable_notices<C: GenericClient>(c: &C, limit: usize) -> Result<Vec<Row>, Error> {
    let sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM {WEBHOOK_FROM} WHERE w.disable_notice
         ORDER BY w.disabled_at LIMIT $1"
    );
    query(c, &sql, &[&(limit as i64)]).await
}

/// Failed deliveries whose `delivery_failed` event is owed: [`DELIVERY_COLUMNS`], then the
/// license id; oldest first.
pub async fn failure_notices<C: GenericClient>(c: &C, limit: usize) -> Result<Vec<Row>, Error> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS}, d.license_id FROM deliveries d JOIN events e ON e.id = d.event_id
         WHERE d.failure_notice ORDER BY d.id LIMIT $1"
    );
    query(c, &sql, &[&(limit as i64)]).await
}

/// Marks notices as done (see [`crate::store::Store::clear_notices`]).
pub async fn clear_notices<C: GenericClient>(
    c: &C,
    webhook_ids: &[&str],
    disabled_at: &[i64],
    delivery_ids: &[i64],
) -> Result<(), Error> {
    execute(
        c,
        "UPDATE webhooks w SET disable_notice = false
         FROM unnest($1::text[], $2::bigint[]) AS u(id, at)
         WHERE w.id = u.id AND w.disabled_at = u.at",
        &[&webhook_ids, &disabled_at],
    )
    .await?;
    execute(
        c,
        "UPDATE deliveries SET failure_notice = false WHERE id = ANY($1)",
        &[&delivery_ids],
    )
    .await?;
    Ok(())
}
