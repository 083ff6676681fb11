-- The audit trail moves to schema "audit" (see samspil/runtime/migrations/003_audit_chain.sql),
-- where a separate owner can take it over, and each row is chained to the one before it.
ALTER TABLE audit_log SET SCHEMA audit;
DROP TRIGGER audit_log_append_only ON audit.audit_log;
DROP FUNCTION audit_log_is_append_only();

ALTER TABLE audit.audit_log ADD COLUMN chain_seq bigint, ADD COLUMN chain_hash text;
SELECT audit.chain_existing_rows('audit.audit_log');
ALTER TABLE audit.audit_log ALTER COLUMN chain_seq SET NOT NULL, ALTER COLUMN chain_hash SET NOT NULL;
CREATE UNIQUE INDEX audit_log_chain ON audit.audit_log (chain_seq);

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit.audit_log
    FOR EACH ROW EXECUTE FUNCTION audit.chain_row();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
