//! The PostgreSQL side of background upkeep: a retention batch in one transaction, the webhooks
//! failing long enough to be disabled, and the operational events still owed.

use deadpool_postgres::Object;

use super::sql::{operational, retention};
use super::{error, internal, rows};
use crate::domain::auto_disable::Failing;
use crate::domain::webhook::Webhook;
use crate::domain::Millis;
use crate::store::{Notices, Purged, StoreResult};

/// One retention batch (see [`crate::store::Store::purge`]).
pub async fn purge(c: &mut Object, cutoff: Millis, limit: usize) -> StoreResult<Purged> {
    let tx = c.transaction().await.map_err(error::db)?;
    let (deliveries, attempts, with_deliveries) = retention::purge_deliveries(&tx, cutoff, limit)
        .await
        .map_err(error::db)?;
    let events = with_deliveries
        + retention::purge_events(&tx, cutoff, limit)
            .await
            .map_err(error::db)?;
    let chat_tags = retention::purge_chat_tags(&tx, cutoff, limit)
        .await
        .map_err(error::db)?;
    tx.commit().await.map_err(error::db)?;
    Ok(Purged {
        deliveries,
        attempts,
        events,
        chat_tags,
    })
}

/// Enabled webhooks failing since `since_before` or earlier, with their streak.
pub async fn failing_webhooks(
    c: &Object,
    since_before: Millis,
) -> StoreResult<Vec<(Webhook, Failing)>> {
    let found = operational::failing_webhooks(c, since_before)
        .await
        .map_err(error::db)?;
    found
        .iter()
        .map(|row| {
            const N: usize = crate::store::columns::WEBHOOK_COLUMN_COUNT;
            let failing = Failing {
                since: row.get(N),
                last_at: row.get::<_, Option<Millis>>(N + 1).unwrap_or(0),
                last: row.get::<_, Option<String>>(N + 2).unwrap_or_default(),
            };
            Ok((rows::webhook(row).map_err(internal)?, failing))
        })
        .collect()
}

/// The operational events still owed.
pub async fn notices(c: &Object, limit: usize) -> StoreResult<Notices> {
    let disabled = operational::disable_notices(c, limit)
        .await
        .map_err(error::db)?;
    let failed = operational::failure_notices(c, limit)
        .await
        .map_err(error::db)?;
    Ok(Notices {
        disabled: disabled
            .iter()
            .map(rows::webhook)
            .collect::<Result<_, _>>()
            .map_err(internal)?,
        failed: failed
            .iter()
            .map(|row| Ok((row.get(11), rows::delivery(row)?)))
            .collect::<Result<_, _>>()
            .map_err(internal)?,
    })
}

/// Marks the operational events of these webhooks and deliveries as produced.
pub async fn clear_notices(
    c: &Object,
    webhooks: Vec<(String, Millis)>,
    deliveries: Vec<crate::domain::delivery::DeliveryId>,
) -> StoreResult<()> {
    let ids: Vec<&str> = webhooks.iter().map(|(id, _)| id.as_str()).collect();
    let at: Vec<i64> = webhooks.iter().map(|(_, at)| *at).collect();
    let deliveries: Vec<i64> = deliveries.iter().map(|d| d.0).collect();
    operational::clear_notices(c, &ids, &at, &deliveries)
        .await
        .map_err(error::db)
}

/// The highest delivery id of the license that retention removed (0: none).
pub async fn purged_through(c: &Object, license_id: &str) -> StoreResult<i64> {
    retention::purged_through(c, license_id)
        .await
        .map_err(error::db)
}

/// The database's size on disk (`pg_database_size`).
pub async fn database_bytes(c: &Object) -> StoreResult<u64> {
    let bytes = retention::database_bytes(c).await.map_err(error::db)?;
    Ok(bytes.max(0) as u64)
}
