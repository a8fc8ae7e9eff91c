//! The PostgreSQL side of the dashboard: reading a license's counter rows and its webhooks' last
//! attempts, and the retention batch of old counters (the counters are written with the
//! attempts, in [`super::health`]).

use deadpool_postgres::Object;

use super::error;
use super::sql::minutes;
use crate::domain::dashboard::MinuteCount;
use crate::domain::Millis;
use crate::store::StoreResult;

/// See [`crate::store::Store::purge_minutes`].
pub async fn purge_minutes(c: &Object, before: Millis, limit: usize) -> StoreResult<u64> {
    minutes::purge_minutes(c, before, limit)
        .await
        .map_err(error::db)
}

/// See [`crate::store::Store::delivery_minutes`].
pub async fn delivery_minutes(
    c: &Object,
    license_id: &str,
    since: Millis,
) -> StoreResult<Vec<MinuteCount>> {
    let rows = minutes::minutes_since(c, license_id, since)
        .await
        .map_err(error::db)?;
    Ok(rows.iter().map(minutes::minute_count).collect())
}

/// See [`crate::store::Store::last_attempts`].
pub async fn last_attempts(
    c: &Object,
    license_id: &str,
    webhook_ids: &[String],
) -> StoreResult<Vec<Option<Millis>>> {
    minutes::last_attempts(c, license_id, webhook_ids)
        .await
        .map_err(error::db)
}
