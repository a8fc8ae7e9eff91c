//! Changing and deleting webhooks: each one transaction with what the change means for its
//! deliveries, announced to every node (a node holding jobs for the webhook in memory hands them
//! back, since they carry the old URL or state).

use deadpool_postgres::Object;
use tokio_postgres::Error;

use super::listener::webhook_changed_payload;
use super::sql::{accounts, deliveries, targets};
use crate::domain::Millis;
use crate::store::WebhookChanges;

/// Applies `changes`; returns whether the webhook exists. A new URL or a change of `enabled`
/// makes its parked deliveries due now, for any node.
pub async fn update(
    c: &mut Object,
    license_id: &str,
    id: &str,
    changes: &WebhookChanges,
    now: Millis,
    channel: &str,
) -> Result<bool, Error> {
    let tx = c.transaction().await?;
    let exists = accounts::update_webhook(&tx, license_id, id, changes, now).await?;
    if exists && (changes.url.is_some() || changes.enabled.is_some()) {
        targets::unpark_webhook(&tx, id, now).await?;
        deliveries::notify(&tx, channel).await?;
        deliveries::notify_with(&tx, channel, &webhook_changed_payload(id)).await?;
    }
    tx.commit().await?;
    Ok(exists)
}

/// Removes a webhook and fails its pending deliveries; returns whether it existed.
pub async fn delete(
    c: &mut Object,
    license_id: &str,
    id: &str,
    now: Millis,
    channel: &str,
) -> Result<bool, Error> {
    let tx = c.transaction().await?;
    let deleted = accounts::delete_webhook(&tx, license_id, id).await?;
    if deleted {
        accounts::fail_deliveries_of_webhook(&tx, id, now).await?;
        deliveries::notify_with(&tx, channel, &webhook_changed_payload(id)).await?;
    }
    tx.commit().await?;
    Ok(deleted)
}
