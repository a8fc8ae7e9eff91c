//! Operational events: produces the `webhook_disabled` and `delivery_failed` events the store has
//! notices for, through the engine's ordinary ingest, then clears the notices.
//!
//! A notice is written in the same transaction as what it is about (the disable, the final
//! failure), so none is lost to a crash; the event's idempotency key (see
//! [`crate::domain::operational`]) makes producing it again after a crash, or on two nodes at
//! once, store it once. Events about operational webhooks and deliveries are never produced
//! ([`announces_failure_of`]), and none for a license with no enabled webhook subscribed to the
//! type.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use livechat_webhooks::EventType;
use tokio::sync::watch;

use crate::dispatch::Engine;
use crate::domain::auto_disable::{announces, announces_failure_of};
use crate::domain::delivery::DeliveryId;
use crate::domain::event::NewEvent;
use crate::domain::operational::{delivery_failed, webhook_disabled};
use crate::store::{Notices, Store, StoreResult};

/// How often notices are looked for: an index look-up that finds nothing, most of the time.
pub const POLL: Duration = Duration::from_millis(250);
/// Notices of each kind handled in one round.
pub const BATCH: usize = 500;

/// Produces events for notices until `shutdown` turns true.
pub async fn run(store: Arc<dyn Store>, engine: Engine, mut shutdown: watch::Receiver<bool>) {
    loop {
        loop {
            match produce(&*store, &engine).await {
                Ok(n) if n >= BATCH => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "producing operational events failed; will retry");
                    break;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// One round: ingests the events owed, license by license, then clears their notices. Returns
/// how many notices it handled.
pub async fn produce(store: &dyn Store, engine: &Engine) -> StoreResult<usize> {
    let Notices { disabled, failed } = store.notices(BATCH).await?;
    let handled = disabled.len().max(failed.len());
    if disabled.is_empty() && failed.is_empty() {
        return Ok(0);
    }
    let mut by_license: BTreeMap<String, Vec<NewEvent>> = BTreeMap::new();
    let mut webhooks = Vec::with_capacity(disabled.len());
    for webhook in &disabled {
        if announces(webhook.event_type) && webhook.disabled_at.is_some() {
            by_license
                .entry(webhook.license_id.clone())
                .or_default()
                .push(webhook_disabled(webhook));
        }
        webhooks.push((webhook.id.clone(), webhook.disabled_at.unwrap_or_default()));
    }
    let mut deliveries: Vec<DeliveryId> = Vec::with_capacity(failed.len());
    for (license_id, delivery) in &failed {
        if announces_failure_of(delivery.event_type) {
            by_license
                .entry(license_id.clone())
                .or_default()
                .push(delivery_failed(delivery));
        }
        deliveries.push(delivery.id);
    }
    for (license_id, events) in by_license {
        ingest(store, engine, &license_id, events).await?;
    }
    store.clear_notices(webhooks, deliveries).await?;
    Ok(handled)
}

/// Ingests one license's operational events, leaving out the types none of its enabled webhooks
/// subscribes to (a disabled webhook gets no new events, operational or not, until enabled).
async fn ingest(
    store: &dyn Store,
    engine: &Engine,
    license_id: &str,
    mut events: Vec<NewEvent>,
) -> StoreResult<()> {
    let Some(license) = store.license(license_id).await? else {
        return Ok(());
    };
    let subscribed: Vec<EventType> = store
        .webhooks(license_id)
        .await?
        .iter()
        .filter(|w| w.enabled && w.event_type.is_operational())
        .map(|w| w.event_type)
        .collect();
    events.retain(|e| subscribed.contains(&e.event_type));
    if !events.is_empty() {
        engine.ingest(&license, events).await?;
    }
    Ok(())
}
