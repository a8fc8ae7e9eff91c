-- hookrelay's SQLite schema, version 7 (applied on top of version 6):
-- listen sessions (`hookrelay listen --server`).
--
-- A session's webhooks have the URL `cli://SESSION_ID` and `kind = 1` (0: an HTTP webhook). The
-- node whose WebSocket holds the session (NULL: none) and when it last said so: only that node
-- claims the session's deliveries, and a session nobody has held for its grace is removed.
ALTER TABLE webhooks ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN session_node TEXT;
ALTER TABLE webhooks ADD COLUMN session_seen_at INTEGER;
CREATE INDEX webhooks_sessions ON webhooks (session_seen_at) WHERE kind = 1;
