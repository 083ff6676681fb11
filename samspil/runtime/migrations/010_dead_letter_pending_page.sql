-- The pending dead letters in the order they were written, paged by id (`samspil dlq list`):
-- read through this index, so a page costs the rows it shows, however many were replayed before.
-- (With --all the primary key serves.)
CREATE INDEX IF NOT EXISTS dead_letter_pending_page ON dead_letter (id) WHERE replayed_at IS NULL;
