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
