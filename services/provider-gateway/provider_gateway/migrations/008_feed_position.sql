-- A feed row's position is given when its transaction commits, one committing transaction at a
-- time, so positions are visible in the order they were given: a poller that has read up to a
-- position can never later see a row below it (seq, taken at insert, could commit after a higher
-- one had been read, and the row was then skipped for good).
--
-- How: a deferred constraint trigger runs at commit. Its first run in a transaction takes a
-- transaction-level advisory lock (released only once the commit is visible to all) and numbers
-- the transaction's own new rows, in the order they were written; the other runs find theirs
-- numbered.
-- A committing transaction that writes no feed row never waits for the lock.
ALTER TABLE provider_feed ADD COLUMN position bigint;
CREATE SEQUENCE provider_feed_position AS bigint;
UPDATE provider_feed SET position = seq;
SELECT setval('provider_feed_position', coalesce((SELECT max(seq) FROM provider_feed), 0) + 1, false);
CREATE UNIQUE INDEX provider_feed_by_position ON provider_feed (provider_id, position);
-- Only rows of transactions still open lack a position: a small index whatever the feed's size.
CREATE INDEX provider_feed_unpositioned ON provider_feed (seq) WHERE position IS NULL;

CREATE FUNCTION provider_feed_position_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT position FROM provider_feed WHERE seq = NEW.seq) IS NOT NULL THEN
        RETURN NULL;  -- numbered by this transaction's first run
    END IF;
    PERFORM pg_advisory_xact_lock(7310008, hashtext('provider_feed_position'));
    -- Uncommitted rows of other transactions are invisible here: these are this transaction's.
    UPDATE provider_feed AS feed SET position = numbered.position
    FROM (
        SELECT seq, nextval('provider_feed_position') AS position
        FROM (SELECT seq FROM provider_feed WHERE position IS NULL ORDER BY seq) AS ours
    ) AS numbered
    WHERE feed.seq = numbered.seq;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER provider_feed_position_at_commit AFTER INSERT ON provider_feed
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION provider_feed_position_at_commit();
