-- The consumer asks, for every event it handles, whether it has a dead letter not yet replayed
-- (006_dead_letter_once.sql). The unique index 006 made holds only rows after a cutoff, a
-- predicate the lookup cannot prove, so it scanned the table; this one it can use.
CREATE INDEX IF NOT EXISTS dead_letter_pending ON dead_letter (consumer, event_id)
    WHERE replayed_at IS NULL;
