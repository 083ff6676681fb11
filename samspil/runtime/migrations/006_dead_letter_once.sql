-- A consumer dead-letters an event once: a broker that was replaced (or any redelivery) hands
-- the consumer the same event again, and without this a second dead letter, a second record on
-- the dead-letter topic and a second alert followed, every time. The consumer skips an event
-- that has a dead letter not yet replayed (see consumer.py); this index holds that when two
-- consumers of the group handle the same record during a rebalance. A replayed dead letter no
-- longer counts, so the replayed event may be dead-lettered again if it fails again.
--
-- Duplicates written before this migration are left as they are (nothing is deleted: an
-- operator may be reading them): the index covers only rows after the newest of them. The
-- consumer's check covers the older rows too.
DO $$
DECLARE
    cutoff bigint;
BEGIN
    SELECT coalesce(max(d.id), 0) INTO cutoff
    FROM dead_letter d
    WHERE d.replayed_at IS NULL AND d.event_id IS NOT NULL
      AND EXISTS (
          SELECT 1 FROM dead_letter o
          WHERE o.consumer = d.consumer AND o.event_id = d.event_id
            AND o.replayed_at IS NULL AND o.id <> d.id
      );
    EXECUTE format(
        'CREATE UNIQUE INDEX dead_letter_once ON dead_letter (consumer, event_id)'
        ' WHERE replayed_at IS NULL AND event_id IS NOT NULL AND id > %s',
        cutoff
    );
END
$$;
