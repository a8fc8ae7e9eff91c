//! Column lists both backends select in the same order (their SQL is otherwise their own), so
//! that each backend's row reader and the schema agree in one place.

/// A webhook's columns (from webhooks `w`) followed by its target's health (targets `t`, left
/// joined: [`WEBHOOK_FROM`]).
pub const WEBHOOK_COLUMNS: &str = "w.id, w.license_id, w.url, w.event_type, w.data_types, \
     w.description, w.enabled, w.created_at, w.updated_at, t.misses, t.silent_since, t.probe_at, \
     t.probing, t.probe_level, t.last_miss_at, t.last_error, t.probe_id, w.signing, \
     w.disabled_reason, w.disabled_at, w.kind, w.session_node, w.session_seen_at";
/// How many columns [`WEBHOOK_COLUMNS`] has (what a query selects after them starts there).
pub const WEBHOOK_COLUMN_COUNT: usize = 23;
pub const WEBHOOK_FROM: &str = "webhooks w LEFT JOIN targets t ON t.key = w.target_key";

/// A target's health columns, from targets `t`.
pub const HEALTH_COLUMNS: &str =
    "t.misses, t.silent_since, t.probe_at, t.probing, t.probe_level, t.last_miss_at, t.last_error, \
     t.probe_id";

/// A dashboard counter row's columns (`delivery_minutes`): its key, its counts, its 16 duration
/// buckets (`d0`..`d15`, [`crate::domain::dashboard::BUCKETS`]) and `last_at`.
pub const MINUTE_COLUMNS: &str = "license_id, webhook_id, minute, succeeded, retried, failed, \
     d0, d1, d2, d3, d4, d5, d6, d7, d8, d9, d10, d11, d12, d13, d14, d15, last_at";

/// How an upsert adds a new row's values to the stored ones (`excluded` is the new row).
pub const MINUTE_SUMS: &str = "succeeded = delivery_minutes.succeeded + excluded.succeeded, \
     retried = delivery_minutes.retried + excluded.retried, \
     failed = delivery_minutes.failed + excluded.failed, \
     d0 = delivery_minutes.d0 + excluded.d0, d1 = delivery_minutes.d1 + excluded.d1, \
     d2 = delivery_minutes.d2 + excluded.d2, d3 = delivery_minutes.d3 + excluded.d3, \
     d4 = delivery_minutes.d4 + excluded.d4, d5 = delivery_minutes.d5 + excluded.d5, \
     d6 = delivery_minutes.d6 + excluded.d6, d7 = delivery_minutes.d7 + excluded.d7, \
     d8 = delivery_minutes.d8 + excluded.d8, d9 = delivery_minutes.d9 + excluded.d9, \
     d10 = delivery_minutes.d10 + excluded.d10, d11 = delivery_minutes.d11 + excluded.d11, \
     d12 = delivery_minutes.d12 + excluded.d12, d13 = delivery_minutes.d13 + excluded.d13, \
     d14 = delivery_minutes.d14 + excluded.d14, d15 = delivery_minutes.d15 + excluded.d15";

#[cfg(test)]
mod tests {
    #[test]
    fn the_webhook_column_count_is_right() {
        assert_eq!(
            super::WEBHOOK_COLUMNS.split(',').count(),
            super::WEBHOOK_COLUMN_COUNT
        );
    }
}
