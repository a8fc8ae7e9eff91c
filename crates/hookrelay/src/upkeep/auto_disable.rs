//! Auto-disable: every [`check_interval`] it asks the store for webhooks failing for
//! `disable_after` or longer, disables those [`should_disable`] picks (as a manual disable would:
//! their pending deliveries are held until they are enabled again), with the reason on the
//! webhook and a notice for their `webhook_disabled` event, which [`super::notices`] produces.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::dispatch::Engine;
use crate::domain::auto_disable::{announces, check_interval, reason, should_disable};
use crate::domain::{now_ms, Millis};
use crate::store::{AutoDisabled, Store, StoreResult, WebhookChanges};

/// Runs the check until `shutdown` turns true.
pub async fn run(
    store: Arc<dyn Store>,
    engine: Engine,
    disable_after: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        match check(&*store, &engine, disable_after).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(webhooks = n, "disabled webhooks whose targets kept failing"),
            Err(e) => tracing::warn!(error = %e, "looking for failing webhooks failed; will retry"),
        }
        tokio::select! {
            _ = tokio::time::sleep(check_interval(disable_after)) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// Disables every webhook that has been failing for `disable_after`; returns how many.
pub async fn check(
    store: &dyn Store,
    engine: &Engine,
    disable_after: Duration,
) -> StoreResult<usize> {
    let now = now_ms();
    let after = disable_after.as_millis().min(i64::MAX as u128) as Millis;
    let candidates = store.failing_webhooks(now.saturating_sub(after)).await?;
    let mut disabled = 0;
    for (webhook, failing) in candidates {
        if !should_disable(&failing, now, disable_after) {
            continue;
        }
        let changes = WebhookChanges {
            enabled: Some(false),
            auto_disabled: Some(AutoDisabled {
                reason: reason(&failing),
                at: now,
                failing_since: failing.since,
                announce: announces(webhook.event_type),
            }),
            ..WebhookChanges::default()
        };
        let stored = store
            .update_webhook(&webhook.license_id, &webhook.id, changes, now)
            .await?;
        // Still enabled: a success ended its streak after it was read, and it stays enabled.
        if let Some(w) = stored.filter(|w| !w.enabled) {
            tracing::warn!(
                webhook_id = %w.id,
                license_id = %w.license_id,
                reason = w.disabled_reason.as_deref(),
                "disabled a webhook whose target kept failing"
            );
            crate::metrics::webhook_disabled();
            // Jobs held in memory for it go back to the store, to wait there.
            engine.webhook_changed(&webhook.id);
            disabled += 1;
        }
    }
    Ok(disabled)
}
