-- Dead letters never keep a CPR number: the field paths redacted before the row was written.
ALTER TABLE dead_letter ADD COLUMN redacted text[] NOT NULL DEFAULT '{}';
CREATE INDEX dead_letter_created_at ON dead_letter (created_at);
CREATE INDEX dead_letter_replayed_at ON dead_letter (replayed_at) WHERE replayed_at IS NOT NULL;

-- Bounded retention of the inbox: a row is kept while the broker could still deliver its event
-- again, which is counted from the last time the consumer saw the event (a broker that lost its
-- memory is given every retained event again, and delivers each anew). Rows from before this
-- migration count as seen now.
ALTER TABLE inbox ADD COLUMN topic text;
ALTER TABLE inbox ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX inbox_last_seen_at ON inbox (last_seen_at);
