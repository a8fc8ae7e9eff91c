-- hookrelay's SQLite schema, version 8 (applied on top of version 7): the dashboard's counters
-- and finding deliveries by event.
--
-- One row per (license, webhook, minute): attempts that succeeded, failed and will be retried,
-- failed for good (given-up parked deliveries included), and the attempts sent by duration in 16
-- fixed buckets d0..d15 (bounds in domain/dashboard.rs). Written by the recorder in the attempts'
-- own transaction; read by the dashboard; removed by the retention purge (by minute) after the
-- retention, but never before two days.
CREATE TABLE delivery_minutes (
    license_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    minute     INTEGER NOT NULL,
    succeeded  INTEGER NOT NULL DEFAULT 0,
    retried    INTEGER NOT NULL DEFAULT 0,
    failed     INTEGER NOT NULL DEFAULT 0,
    d0 INTEGER NOT NULL DEFAULT 0,
    d1 INTEGER NOT NULL DEFAULT 0,
    d2 INTEGER NOT NULL DEFAULT 0,
    d3 INTEGER NOT NULL DEFAULT 0,
    d4 INTEGER NOT NULL DEFAULT 0,
    d5 INTEGER NOT NULL DEFAULT 0,
    d6 INTEGER NOT NULL DEFAULT 0,
    d7 INTEGER NOT NULL DEFAULT 0,
    d8 INTEGER NOT NULL DEFAULT 0,
    d9 INTEGER NOT NULL DEFAULT 0,
    d10 INTEGER NOT NULL DEFAULT 0,
    d11 INTEGER NOT NULL DEFAULT 0,
    d12 INTEGER NOT NULL DEFAULT 0,
    d13 INTEGER NOT NULL DEFAULT 0,
    d14 INTEGER NOT NULL DEFAULT 0,
    d15 INTEGER NOT NULL DEFAULT 0,
    last_at    INTEGER NOT NULL,
    PRIMARY KEY (license_id, webhook_id, minute)
) WITHOUT ROWID;
CREATE INDEX delivery_minutes_by_license ON delivery_minutes (license_id, minute);
CREATE INDEX delivery_minutes_by_minute ON delivery_minutes (minute);

-- What a delivery can be found by: its event's event_unique_id, chat id and visitor id (taken
-- from the event's sections at ingest; filled in here for the events already stored).
ALTER TABLE events ADD COLUMN chat_id TEXT;
ALTER TABLE events ADD COLUMN visitor_id TEXT;
UPDATE events SET chat_id = CAST(json_extract(chat, '$.id') AS TEXT) WHERE chat IS NOT NULL;
-- Ids longer than a find takes (200 characters) are left out, as ingest leaves them out.
UPDATE events SET visitor_id = CAST(json_extract(visitor, '$.id') AS TEXT)
    WHERE visitor IS NOT NULL;
UPDATE events SET chat_id = NULL WHERE length(chat_id) > 200;
UPDATE events SET visitor_id = NULL WHERE length(visitor_id) > 200;
-- By the first 8 hex digits of the event_unique_id only (random, so rarely shared): a random key
-- costs a B-tree insert per event wherever it falls, and a short one keeps the index a third of
-- the size, so it stays in the page cache (the full key made batched ingest ~10% slower).
CREATE INDEX events_by_unique_id ON events (license_id, substr(unique_id, 1, 8));
CREATE INDEX events_by_chat ON events (license_id, chat_id) WHERE chat_id IS NOT NULL;
CREATE INDEX events_by_visitor ON events (license_id, visitor_id) WHERE visitor_id IS NOT NULL;
