//! Changing and deleting webhooks: each one transaction with what the change means for its
//! deliveries, announced to every node (a node holding jobs for the webhook in memory hands them
//! back, since they carry the old URL or state).

use deadpool_postgres::Object;
use tokio_postgres::Error;

use super::listener::webhook_changed_payload;
use super::sql::{accounts, deliveries, targets};
use crate::domain::Millis;
use crate::store::WebhookChanges;

/// What [`update`] did.
pub enum Updated {
    Missing,
    /// The stored signing keys were not the ones the change expected: nothing was changed.
    Stale,
    Done,
}

/// Applies `changes`. A new target or re-enabling makes its parked deliveries due now, for any
/// node.
///
/// The target rows of the old and the new URL are locked first, as recording attempts does, so
/// that a transition of either target (parking by target) and this move (unparking by webhook)
/// take turns instead of parking the webhook's deliveries for a target it has just left.
pub async fn update(
    c: &mut Object,
    license_id: &str,
    id: &str,
    changes: &WebhookChanges,
    now: Millis,
    channel: &str,
) -> Result<Updated, Error> {
    let tx = c.transaction().await?;
    let Some((was_enabled, old_key)) = accounts::lock_webhook(&tx, license_id, id).await? else {
        return Ok(Updated::Missing);
    };
    let new_key = changes.url.as_ref().map(|(_, key)| key.as_str());
    let mut keys: Vec<&str> = [Some(old_key.as_str()), new_key]
        .into_iter()
        .flatten()
        .collect();
    keys.sort_unstable();
    keys.dedup();
    targets::lock_targets(&tx, &keys).await?;
    if !accounts::update_webhook(&tx, license_id, id, changes, now).await? {
        if changes.auto_disabled.is_some() {
            // An auto-disable whose streak a success ended meanwhile: nothing changed.
            tx.commit().await?;
            return Ok(Updated::Done);
        }
        return Ok(Updated::Stale);
    }
    let moved = new_key.is_some_and(|k| k != old_key);
    let enabled = changes.enabled.unwrap_or(was_enabled);
    if moved || enabled != was_enabled {
        targets::forget_probe_of(&tx, id, now).await?;
    }
    if changes.url.is_some() || changes.signing.is_some() || enabled != was_enabled {
        // Jobs held in memory carry the old URL, state or signing keys.
        deliveries::notify_with(&tx, channel, &webhook_changed_payload(id)).await?;
    }
    if moved || (enabled && !was_enabled) {
        targets::unpark_webhook(&tx, id, now).await?;
        deliveries::notify(&tx, channel).await?;
    }
    tx.commit().await?;
    Ok(Updated::Done)
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
        targets::forget_probe_of(&tx, id, now).await?;
        accounts::fail_deliveries_of_webhook(&tx, id, now).await?;
        deliveries::notify_with(&tx, channel, &webhook_changed_payload(id)).await?;
    }
    tx.commit().await?;
    Ok(deleted)
}
