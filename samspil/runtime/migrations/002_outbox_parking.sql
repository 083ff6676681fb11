-- A record the broker can never take (too large, invalid topic) is parked instead of retried
-- forever; operators see it with `samspil outbox parked SERVICE`.
ALTER TABLE outbox ADD COLUMN parked_at timestamptz;
DROP INDEX IF EXISTS outbox_unpublished;
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL AND parked_at IS NULL;
CREATE INDEX outbox_parked ON outbox (seq) WHERE parked_at IS NOT NULL;
