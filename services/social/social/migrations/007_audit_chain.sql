-- Who shared what with whom: moved to schema "audit" (see samspil/runtime/migrations/
-- 003_audit_chain.sql), where a separate owner can take it over; append-only and hash-chained.
ALTER TABLE share_log SET SCHEMA audit;
ALTER TABLE audit.share_log ADD COLUMN chain_seq bigint, ADD COLUMN chain_hash text;
SELECT audit.chain_existing_rows('audit.share_log');
ALTER TABLE audit.share_log ALTER COLUMN chain_seq SET NOT NULL, ALTER COLUMN chain_hash SET NOT NULL;
CREATE UNIQUE INDEX share_log_chain ON audit.share_log (chain_seq);

CREATE TRIGGER share_log_chain BEFORE INSERT ON audit.share_log
    FOR EACH ROW EXECUTE FUNCTION audit.chain_row();
CREATE TRIGGER share_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit.share_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
