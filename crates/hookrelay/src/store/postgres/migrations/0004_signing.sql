-- Signed webhooks: a signing webhook's keys (domain/signing.rs: the current secret and the
-- rotated-out ones still in their grace period, as JSON); NULL for a webhook that does not sign.
ALTER TABLE webhooks ADD COLUMN signing TEXT;
