-- hookrelay's SQLite schema, version 3 (applied on top of version 2): target health in the store.
--
-- A target is one scheme://host:port; every webhook pointing there shares its health. A row
-- exists only for a target that missed at least once (see domain/health.rs for the fields).
CREATE TABLE targets (
    key          TEXT PRIMARY KEY,
    misses       INTEGER NOT NULL,
    silent_since INTEGER,
    probe_at     INTEGER,
    probing      INTEGER NOT NULL,
    probe_id     INTEGER,
    probe_level  INTEGER NOT NULL,
    last_miss_at INTEGER,
    last_error   TEXT
) WITHOUT ROWID;
CREATE INDEX targets_probes ON targets (probe_at) WHERE silent_since IS NOT NULL;

-- The key of each webhook's target (filled from the URL at start for webhooks made before).
ALTER TABLE webhooks ADD COLUMN target_key TEXT NOT NULL DEFAULT '';
CREATE INDEX webhooks_by_target ON webhooks (target_key);

-- A parked delivery (parked = 1) waits for its silent target to answer: claims never see it, and
-- its next_attempt_at is when it is given up if the target stays silent.
ALTER TABLE deliveries ADD COLUMN parked INTEGER NOT NULL DEFAULT 0;
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 0 AND parked = 0;
CREATE INDEX deliveries_parked ON deliveries (webhook_id, next_attempt_at)
    WHERE status = 0 AND parked = 1;
DROP INDEX deliveries_by_webhook;
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, status, parked, attempts);

-- The engine before this version put off a silent target's deliveries by moving next_attempt_at
-- up to the whole retry window ahead, and brought them back itself when the target answered. Such
-- rows are due again now: if their target is still silent, the first attempts find out and park
-- them.
UPDATE deliveries SET next_attempt_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000
WHERE status = 0 AND lease_until IS NULL AND last_status_code IS NULL
  AND next_attempt_at > CAST(strftime('%s', 'now') AS INTEGER) * 1000;
