-- Chain lanes: the hash chain of an audit table (003_audit_chain.sql) is split into lanes, so
-- that writers no longer queue for one table-wide lock held until each other's commit (and
-- fsync). Each lane is a chain of its own, exactly as the table's one chain was: `chain_seq`
-- counts 1, 2, 3, ... within the lane and `chain_hash` links to the lane's previous row. A
-- writer holds its lane's lock until commit, so within a lane the reasoning of 003 holds; rows
-- of different lanes are written side by side.
--
-- A service migration puts each of its chained tables into lanes (its *_audit_chain_lanes.sql):
-- it adds `chain_lane smallint NOT NULL DEFAULT 0`, makes (chain_lane, chain_seq) unique in
-- place of chain_seq, and switches the table's row trigger from audit.chain_row() to
-- audit.chain_row_in_lane(), in one transaction. Until then a table keeps the one-lane trigger,
-- which therefore stays, unchanged.
--
-- The canonical text of a row (what its hash covers, and what `samspil audit verify` recomputes
-- in Python) is its jsonb form without chain_hash, timestamps in UTC, and, in lane 0 only,
-- without chain_lane:
--   * Rows chained before this migration had no chain_lane; they are lane 0 now, and their
--     canonical text is what it was when they were hashed, so they verify unchanged. Lane 0 is
--     the table's old chain, continued by new rows.
--   * The lane is still bound by every hash: a row of lane k > 0 has "chain_lane": k in its
--     text, a row of lane 0 has no chain_lane key at all, so moving a row to any other lane
--     changes its text and breaks its hash (besides breaking both lanes' links).
--   * A table without chain_lane (not put into lanes yet) is one lane 0: the same rule.

-- The link of one row, as in 003; the row's chain_lane is left out of its text when it is 0.
CREATE OR REPLACE FUNCTION audit.link_hash(previous text, entry jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT encode(sha256(convert_to(
        coalesce(previous, repeat('0', 64))
        || (CASE WHEN entry -> 'chain_lane' = '0'::jsonb THEN entry - 'chain_hash' - 'chain_lane'
                 ELSE entry - 'chain_hash' END)::text,
        'UTF8')), 'hex')
$$;

-- Row trigger of a table in lanes. The transaction's first row in the table takes a lane: the
-- first whose transaction-level lock is free, trying all LANES in turn from pg_backend_pid() %
-- LANES (so steady writers spread out), and only when all are taken waits for its first one.
-- The lane is kept in a transaction-local setting, so the transaction's later rows (also of a
-- COPY or a multi-row INSERT) follow in the same lane, one after the other. Both the setting and
-- the lock end with the transaction, or together with a savepoint rolled back to that was set
-- after them. Under READ COMMITTED the lookup below takes a new snapshot after the lock, so it
-- sees the lane's previous holder's committed rows; under a stricter level the unique
-- (chain_lane, chain_seq) makes a second writer fail rather than fork the lane.
CREATE FUNCTION audit.chain_row_in_lane() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET timezone = 'UTC' AS $$
DECLARE
    lanes CONSTANT integer := 16;  -- the number of lanes per table: here only
    setting CONSTANT text := 'samspil.audit_lane_' || TG_RELID::text;
    table_key CONSTANT integer := hashtext(TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
    lane integer := nullif(current_setting(setting, true), '')::integer;
    first_lane integer;
    previous_seq bigint;
    previous_hash text;
BEGIN
    IF lane IS NULL THEN
        first_lane := pg_backend_pid() % lanes;
        FOR step IN 0 .. lanes - 1 LOOP
            IF pg_try_advisory_xact_lock(7310100 + (first_lane + step) % lanes, table_key) THEN
                lane := (first_lane + step) % lanes;
                EXIT;
            END IF;
        END LOOP;
        IF lane IS NULL THEN
            lane := first_lane;
            PERFORM pg_advisory_xact_lock(7310100 + lane, table_key);
        END IF;
        PERFORM set_config(setting, lane::text, true);
    END IF;
    EXECUTE format('SELECT chain_seq, chain_hash FROM %I.%I WHERE chain_lane = $1'
                   ' ORDER BY chain_seq DESC LIMIT 1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
        INTO previous_seq, previous_hash USING lane::smallint;
    NEW.chain_lane := lane;
    NEW.chain_seq := coalesce(previous_seq, 0) + 1;
    NEW.chain_hash := NULL;
    NEW.chain_hash := audit.link_hash(previous_hash, to_jsonb(NEW));
    RETURN NEW;
END;
$$;
