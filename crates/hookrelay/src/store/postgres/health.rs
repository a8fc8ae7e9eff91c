//! The engine's writes that touch targets' health, each one transaction: recording attempts
//! (and the transition they cause), arming probes, giving up on parked deliveries, handing
//! deliveries back, and the safety sweep for deliveries parked for a target that answers.

use std::time::Duration;

use deadpool_postgres::Object;
use tokio_postgres::Error;

use super::rows;
use super::sql::{deliveries, minutes, operational, targets};
use crate::domain::dashboard;
use crate::domain::health::{attempts_by_target, given_up_error, window_ms, Health, MAX_PROBE_GAP};
use crate::domain::job::AttemptRecord;
use crate::domain::Millis;
use crate::store::HealthChanges;

/// Records `records` and applies what they mean for their targets (see
/// [`crate::store::Store::record_attempts`]). The targets' rows are locked first, before any
/// delivery row, so two nodes recording for one target take turns instead of deadlocking.
pub async fn record_attempts(
    c: &mut Object,
    records: &[AttemptRecord],
    now: Millis,
    window: Duration,
    channel: &str,
) -> Result<HealthChanges, Error> {
    let tx = c.transaction().await?;
    let by_target = attempts_by_target(records);
    let missed: Vec<&str> = by_target
        .iter()
        .filter(|(_, attempts)| attempts.iter().any(|o| o.error.is_some()))
        .map(|(key, _)| *key)
        .collect();
    let keys: Vec<&str> = by_target.keys().copied().collect();
    // In this order, one after the other (sent together, a statement not yet prepared on this
    // connection would run after one that is, and the locks be taken out of order): the rows of
    // the targets that missed are made sure of, then all of the batch's targets locked, before
    // any delivery row.
    if !missed.is_empty() {
        targets::ensure_targets(&tx, &missed).await?;
    }
    let locked = match keys.is_empty() {
        true => Vec::new(),
        false => targets::lock_health(&tx, &keys).await?,
    };
    deliveries::insert_attempts(&tx, records).await?;
    let mut stored: std::collections::HashMap<String, _> = locked
        .iter()
        .map(|row| (row.get::<_, String>(0), rows::health(row, 1)))
        .collect();
    // A row ensured above may have been deleted by a recovery that committed in between: ensure
    // it once more, so that no miss is dropped.
    let gone: Vec<&str> = missed
        .iter()
        .copied()
        .filter(|k| !stored.contains_key(*k))
        .collect();
    if !gone.is_empty() {
        targets::ensure_targets(&tx, &gone).await?;
        for row in targets::lock_health(&tx, &gone).await? {
            stored.insert(row.get::<_, String>(0), rows::health(&row, 1));
        }
    }
    deliveries::apply_outcomes(&tx, records).await?;
    operational::track_failures(&tx, &crate::domain::auto_disable::track(records)).await?;
    let mut changes = HealthChanges::default();
    for (key, attempts) in by_target {
        let Some(old) = stored.get(key) else { continue }; // answered, and healthy
        let (new, effect) = old.after_attempts(attempts);
        if new != *old || new == Health::default() {
            // (A row made sure of above for a batch that then answered is removed again.)
            targets::save_health(&tx, key, &new).await?;
        }
        if effect.unpark {
            targets::unpark_target(&tx, key, now).await?;
            changes.unparked = true;
        }
        if let Some(since) = new.silent_since.filter(|_| effect.park) {
            targets::park_target(&tx, key, since, window_ms(window), now).await?;
            changes.parked.push(key.to_string());
        }
    }
    if changes.unparked {
        // Every node may help with what is due again.
        deliveries::notify(&tx, channel).await?;
    }
    for key in &changes.parked {
        // Every node hands back what it holds for this target.
        deliveries::notify_with(&tx, channel, &super::listener::parked_payload(key)).await?;
    }
    // Last, so that no other lock is waited for while a counter row is held.
    minutes::add_minutes(&tx, &dashboard::count_attempts(records)).await?;
    tx.commit().await?;
    Ok(changes)
}

/// Arms the silent targets' due probes (see [`crate::store::Store::arm_probes`]).
pub async fn arm_probes(
    c: &mut Object,
    now: Millis,
    watchdog: Duration,
    channel: &str,
) -> Result<usize, Error> {
    let tx = c.transaction().await?;
    let due = targets::lock_due_probes(&tx, now).await?;
    let mut armed = 0;
    for key in &due {
        match targets::unpark_probe(&tx, key).await? {
            Some(id) => {
                let until = now + watchdog.as_millis() as Millis;
                targets::set_probe(&tx, key, Some(id), until).await?;
                armed += 1;
            }
            None if targets::forget_orphan(&tx, key).await? => {}
            None => {
                // Nothing to probe with: look again later.
                let later = now + MAX_PROBE_GAP.as_millis() as Millis;
                targets::set_probe(&tx, key, None, later).await?;
            }
        }
    }
    if armed > 0 {
        deliveries::notify(&tx, channel).await?;
    }
    tx.commit().await?;
    Ok(armed)
}

/// Gives up on parked deliveries whose wait is over (see
/// [`crate::store::Store::give_up_parked`]).
pub async fn give_up_parked(
    c: &mut Object,
    now: Millis,
    confirmed_since: Millis,
    message: &str,
    limit: usize,
) -> Result<u64, Error> {
    let tx = c.transaction().await?;
    let over = targets::lock_given_up(&tx, now, confirmed_since, limit).await?;
    if over.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = over.iter().map(|r| r.get(0)).collect();
    let attempt_nos: Vec<i32> = over.iter().map(|r| r.get::<_, i32>(1) + 1).collect();
    let errors: Vec<String> = over
        .iter()
        .map(|r| given_up_error(message, r.get::<_, Option<&str>>(2)))
        .collect();
    targets::fail_given_up(&tx, &ids, &attempt_nos, &errors, now).await?;
    let given_up = over
        .iter()
        .map(|r| (r.get::<_, &str>(3), r.get::<_, &str>(4)));
    minutes::add_minutes(&tx, &dashboard::count_given_up(given_up, now)).await?;
    tx.commit().await?;
    Ok(ids.len() as u64)
}

/// Fills in the target key of webhooks stored before keys existed.
pub async fn backfill_target_keys(c: &Object) -> Result<usize, Error> {
    let missing = targets::webhooks_without_key(c).await?;
    for row in &missing {
        let url: &str = row.get(1);
        let key = crate::domain::target::TargetUrl::stored(url)
            .map(|t| t.key())
            .unwrap_or_default();
        targets::set_target_key(c, row.get(0), &key).await?;
    }
    Ok(missing.len())
}

/// Gives leased deliveries back (see [`crate::store::Store::release`]); due now, every node is
/// told.
pub async fn release(
    c: &Object,
    leases: Vec<(crate::domain::delivery::DeliveryId, Millis)>,
    due_at: Millis,
    window: Duration,
    channel: &str,
) -> Result<(), Error> {
    let (ids, leases): (Vec<i64>, Vec<i64>) = leases.into_iter().map(|(id, l)| (id.0, l)).unzip();
    deliveries::release(c, &ids, &leases, due_at, window_ms(window)).await?;
    if due_at <= crate::domain::now_ms() {
        // Due now (e.g. handed back at shutdown): another node may take them at once.
        deliveries::notify(c, channel).await?;
    }
    Ok(())
}

/// Makes due the parked deliveries whose webhook's target is not silent (see
/// [`crate::store::Store::unpark_stranded`]); every node is told when there were some.
pub async fn unpark_stranded(c: &Object, now: Millis, channel: &str) -> Result<u64, Error> {
    let n = targets::unpark_stranded(c, now).await?;
    if n > 0 {
        deliveries::notify(c, channel).await?;
    }
    Ok(n)
}
