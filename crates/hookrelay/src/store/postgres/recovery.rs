//! Bulk recovery: failed deliveries made due again, one short transaction per step, each step
//! announced to every node's claimer.

use deadpool_postgres::Object;
use tokio_postgres::Error;

use super::sql::deliveries;
use crate::domain::recovery::Recovery;
use crate::domain::Millis;
use crate::store::RecoveryStep;

/// One step of [`crate::store::Store::recover_failed`]: looks at the next `limit` failed
/// deliveries of the license after id `after` and makes those `which` selects due at `now` (only
/// counts them when `dry_run`), with a `NOTIFY` so that every node's claimer looks at once.
pub async fn step(
    c: &mut Object,
    which: &Recovery,
    after: i64,
    limit: usize,
    dry_run: bool,
    now: Millis,
    channel: &str,
) -> Result<RecoveryStep, Error> {
    let tx = c.transaction().await?;
    let looked = deliveries::failed_after(&tx, which, after, limit).await?;
    let selected: Vec<i64> = looked
        .iter()
        .filter(|r| r.get::<_, bool>(1))
        .map(|r| r.get(0))
        .collect();
    let recovered = if dry_run {
        selected.len() as u64
    } else {
        deliveries::make_failed_due(&tx, &selected, now).await?
    };
    if recovered > 0 && !dry_run {
        deliveries::notify(&tx, channel).await?;
    }
    tx.commit().await?;
    let last = looked.last().map(|r| r.get::<_, i64>(0));
    Ok(RecoveryStep::new(last, looked.len(), limit, recovered))
}

/// A whole bulk recovery (see [`crate::store::Store::recover_failed`]): step after step, each
/// on a connection of its own.
pub async fn recover(
    store: &super::PostgresStore,
    which: &Recovery,
    dry_run: bool,
    now: Millis,
) -> crate::store::StoreResult<u64> {
    crate::store::in_recovery_steps(|after| async move {
        let mut c = store.client().await?;
        step(
            &mut c,
            which,
            after,
            crate::store::RECOVER_BATCH,
            dry_run,
            now,
            &store.channel,
        )
        .await
        .map_err(super::error::db)
    })
    .await
}
