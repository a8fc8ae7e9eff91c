-- The dashboard's counters and finding deliveries by event (version 8).
--
-- One row per (license, webhook, minute): attempts that succeeded, failed and will be retried,
-- failed for good (given-up parked deliveries included), and the attempts sent by duration in 16
-- fixed buckets d0..d15 (bounds in domain/dashboard.rs). Written by the recorder in the attempts'
-- own transaction, rows in key order (so nodes recording at once take turns, never deadlock);
-- read by the dashboard; removed by the retention purge after the retention, never before two
-- days.
CREATE TABLE delivery_minutes (
    license_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    minute     BIGINT NOT NULL,
    succeeded  BIGINT NOT NULL DEFAULT 0,
    retried    BIGINT NOT NULL DEFAULT 0,
    failed     BIGINT NOT NULL DEFAULT 0,
    d0 BIGINT NOT NULL DEFAULT 0,
    d1 BIGINT NOT NULL DEFAULT 0,
    d2 BIGINT NOT NULL DEFAULT 0,
    d3 BIGINT NOT NULL DEFAULT 0,
    d4 BIGINT NOT NULL DEFAULT 0,
    d5 BIGINT NOT NULL DEFAULT 0,
    d6 BIGINT NOT NULL DEFAULT 0,
    d7 BIGINT NOT NULL DEFAULT 0,
    d8 BIGINT NOT NULL DEFAULT 0,
    d9 BIGINT NOT NULL DEFAULT 0,
    d10 BIGINT NOT NULL DEFAULT 0,
    d11 BIGINT NOT NULL DEFAULT 0,
    d12 BIGINT NOT NULL DEFAULT 0,
    d13 BIGINT NOT NULL DEFAULT 0,
    d14 BIGINT NOT NULL DEFAULT 0,
    d15 BIGINT NOT NULL DEFAULT 0,
    last_at    BIGINT NOT NULL,
    PRIMARY KEY (license_id, webhook_id, minute)
);
CREATE INDEX delivery_minutes_by_license ON delivery_minutes (license_id, minute);
CREATE INDEX delivery_minutes_by_minute ON delivery_minutes (minute);

-- What a delivery can be found by: its event's event_unique_id, chat id and visitor id (taken
-- from the event's sections at ingest; filled in here for the events already stored).
ALTER TABLE events ADD COLUMN chat_id TEXT;
ALTER TABLE events ADD COLUMN visitor_id TEXT;
-- jsonb refuses the escape \u0000 that stored text may hold: such events are left unfindable
-- rather than failing the migration; so are ids longer than a find takes (200 characters).
UPDATE events SET chat_id = chat::jsonb ->> 'id'
    WHERE chat IS NOT NULL AND strpos(chat, '\u0000') = 0;
UPDATE events SET visitor_id = visitor::jsonb ->> 'id'
    WHERE visitor IS NOT NULL AND strpos(visitor, '\u0000') = 0;
UPDATE events SET chat_id = NULL WHERE char_length(chat_id) > 200;
UPDATE events SET visitor_id = NULL WHERE char_length(visitor_id) > 200;
CREATE INDEX events_by_unique_id ON events (license_id, unique_id);
CREATE INDEX events_by_chat ON events (license_id, chat_id) WHERE chat_id IS NOT NULL;
CREATE INDEX events_by_visitor ON events (license_id, visitor_id) WHERE visitor_id IS NOT NULL;
