-- Version 3: target health in the store, shared by every node.
--
-- A target is one scheme://host:port; every webhook pointing there shares its health. A row
-- exists only for a target that missed at least once (see domain/health.rs for the fields).
-- Recording attempts locks a target's row (FOR UPDATE) while it applies a transition; ingest
-- reads it FOR SHARE, so a delivery is never parked for a target that a concurrent commit is
-- bringing back.
CREATE TABLE targets (
    key          TEXT PRIMARY KEY,
    misses       INTEGER NOT NULL,
    silent_since BIGINT,
    probe_at     BIGINT,
    probing      BOOLEAN NOT NULL,
    probe_id     BIGINT,
    probe_level  INTEGER NOT NULL,
    last_miss_at BIGINT,
    last_error   TEXT
);
CREATE INDEX targets_probes ON targets (probe_at) WHERE silent_since IS NOT NULL;

-- The key of each webhook's target (filled from the URL at start for webhooks made before).
ALTER TABLE webhooks ADD COLUMN target_key TEXT NOT NULL DEFAULT '';
CREATE INDEX webhooks_by_target ON webhooks (target_key);

-- A parked delivery waits for its silent target to answer: claims never see it, and its
-- next_attempt_at is when it is given up if the target stays silent.
ALTER TABLE deliveries ADD COLUMN parked BOOLEAN NOT NULL DEFAULT false;
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 0 AND NOT parked;
CREATE INDEX deliveries_parked ON deliveries (webhook_id, next_attempt_at)
    WHERE status = 0 AND parked;
DROP INDEX deliveries_by_webhook;
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, status, parked, attempts, id);

-- The engine before this version put off a silent target's deliveries by moving next_attempt_at
-- up to the whole retry window ahead, and brought them back itself when the target answered. Such
-- rows are due again now: if their target is still silent, the first attempts find out and park
-- them.
UPDATE deliveries SET next_attempt_at = (extract(epoch FROM now()) * 1000)::bigint
WHERE status = 0 AND lease_until IS NULL AND last_status_code IS NULL
  AND next_attempt_at > (extract(epoch FROM now()) * 1000)::bigint;
