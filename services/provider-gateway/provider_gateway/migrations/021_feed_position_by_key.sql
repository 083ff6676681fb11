-- The commit trigger of 008_feed_position.sql finds the rows it numbers through the index of
-- rows without a position, on both sides of its join. PL/pgSQL keeps a statement's plan for the
-- session; the join's plan, made by a connection's first commit while a new database's feed was
-- nearly empty and never analysed, read the whole feed at every commit until autovacuum first
-- analysed it (a minute, while the feed grows by hundreds of rows a second). The rows are
-- numbered as before.
CREATE OR REPLACE FUNCTION provider_feed_position_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
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
    WHERE feed.seq = numbered.seq AND feed.position IS NULL;
    RETURN NULL;
END
$$;
