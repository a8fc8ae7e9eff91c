-- hookrelay's SQLite schema, version 5 (applied on top of version 4): retention.
--
-- Finished deliveries (succeeded or failed) are purged `retention` after they finished, oldest
-- first; an event once none of its deliveries remain; a chat's remembered tags once the chat was
-- not seen for `retention`. These indexes let each purge batch find its rows without a scan.
CREATE INDEX deliveries_finished ON deliveries (updated_at) WHERE status <> 0;
CREATE INDEX deliveries_by_event ON deliveries (event_id);
-- Events that never had a delivery go by age; the others go with their last delivery.
CREATE INDEX events_without_deliveries ON events (received_at) WHERE deliveries = 0;
ALTER TABLE chat_tags ADD COLUMN seen_at INTEGER NOT NULL DEFAULT 0;
UPDATE chat_tags SET seen_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
CREATE INDEX chat_tags_by_time ON chat_tags (seen_at);

-- The highest delivery id purged per license, so that asking for a purged delivery can say it
-- was removed by retention rather than that it never existed.
CREATE TABLE retention_marks (
    license_id     TEXT PRIMARY KEY,
    purged_through INTEGER NOT NULL
) WITHOUT ROWID;
