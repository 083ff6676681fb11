-- The gateway's audit trail is chained in lanes (see samspil/runtime/migrations/011_audit_chain_lanes.sql): its rows
-- so far are lane 0, the table's chain as it was, and keep their hashes; writers no longer wait
-- for each other's commit. On a database whose audit schema 'samspil audit protect' has handed
-- to <service role>_audit, the service's role may not do this: apply it as that owner or a
-- superuser (the service says so when it starts).
ALTER TABLE audit.audit_log ADD COLUMN chain_lane smallint NOT NULL DEFAULT 0;
DROP INDEX audit.audit_log_chain;
-- Unique per lane, and how the trigger finds its lane's last row.
CREATE UNIQUE INDEX audit_log_chain ON audit.audit_log (chain_lane, chain_seq);
DROP TRIGGER audit_log_chain ON audit.audit_log;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit.audit_log
    FOR EACH ROW EXECUTE FUNCTION audit.chain_row_in_lane();
