-- Audit tables (who did what, who shared what with whom) live in schema "audit". A privileged
-- step (`samspil audit protect SERVICE`) later hands the schema, its tables and these functions
-- to a separate owner role, after which the service's own role may only insert and read there:
-- it can no longer drop a table or trigger, or replace a function. Until then the service owns
-- them, and /readyz says "unprotected".
CREATE SCHEMA IF NOT EXISTS audit;

-- Statement trigger on every audit table: rows are never changed or removed.
CREATE FUNCTION audit.refuse_change() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION '%.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME;
END;
$$;

-- The link of one row: sha256 over the previous row's hash and the row's canonical text (its
-- jsonb form without chain_hash, timestamps in UTC). `samspil audit verify` recomputes it.
CREATE FUNCTION audit.link_hash(previous text, entry jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT encode(sha256(convert_to(coalesce(previous, repeat('0', 64)) || (entry - 'chain_hash')::text, 'UTF8')), 'hex')
$$;

-- Row trigger on every audit table: under a transaction-scoped lock per table, the row gets the
-- next chain_seq and a hash chained to the row before it. The lock is held until commit, so a
-- concurrent insert waits and then sees this row as its predecessor (READ COMMITTED takes a new
-- snapshot per statement); under a stricter isolation level the unique chain_seq makes the
-- second insert fail rather than fork the chain.
CREATE FUNCTION audit.chain_row() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET timezone = 'UTC' AS $$
DECLARE
    previous_seq bigint;
    previous_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(7310002, hashtext(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME));
    EXECUTE format('SELECT chain_seq, chain_hash FROM %I.%I ORDER BY chain_seq DESC LIMIT 1',
                   TG_TABLE_SCHEMA, TG_TABLE_NAME)
        INTO previous_seq, previous_hash;
    NEW.chain_seq := coalesce(previous_seq, 0) + 1;
    NEW.chain_hash := NULL;
    NEW.chain_hash := audit.link_hash(previous_hash, to_jsonb(NEW));
    RETURN NEW;
END;
$$;

-- For a migration that puts an existing table under the chain: link its rows in id order.
CREATE FUNCTION audit.chain_existing_rows(target regclass) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET timezone = 'UTC' AS $$
DECLARE
    row_id bigint;
    seq bigint := 0;
    previous text;
BEGIN
    FOR row_id IN EXECUTE format('SELECT id FROM %s ORDER BY id', target) LOOP
        seq := seq + 1;
        EXECUTE format('UPDATE %s SET chain_seq = $1 WHERE id = $2', target) USING seq, row_id;
        EXECUTE format('SELECT audit.link_hash($1, to_jsonb(t)) FROM %s t WHERE id = $2', target)
            INTO previous USING previous, row_id;
        EXECUTE format('UPDATE %s SET chain_hash = $1 WHERE id = $2', target) USING previous, row_id;
    END LOOP;
END;
$$;
