-- The relay wakes up when outbox rows are committed. A statement-level trigger sends the
-- notification, so a writer inserts its rows in one round trip (no separate pg_notify per row)
-- and a set-wise insert notifies once. Notifications are delivered at commit only, when the rows
-- are visible, and the same one repeated in a transaction is delivered once.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('samspil_outbox', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- One outbox row as add_records passes many in one array parameter, so a set of records is
-- stored in one statement (the trigger above then fires once).
CREATE TYPE outbox_entry AS (
    event_id        text,
    event_type      text,
    topic           text,
    record_key      bytea,
    header_names    text[],
    header_values   bytea[],
    payload         bytea
);
