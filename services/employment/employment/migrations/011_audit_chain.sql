-- Who shared what with whom: each text or summary the jobcenter sends to the social department
-- or to a provider, with the basis that allows it. Until now only the event's legalbasis
-- attribute in the outbox said so, and outbox rows are purged. Append-only and hash-chained in
-- schema "audit" (see samspil/runtime/migrations/003_audit_chain.sql).
CREATE TABLE audit.share_log (
    id           bigserial   PRIMARY KEY,
    citizen_ref  text        NOT NULL,
    information  text        NOT NULL,
    recipient    text        NOT NULL,
    basis        text        NOT NULL,
    shared_by    text        NOT NULL,
    event_id     uuid        NOT NULL,
    shared_at    timestamptz NOT NULL DEFAULT now(),
    chain_seq    bigint      NOT NULL,
    chain_hash   text        NOT NULL
);
CREATE INDEX share_log_by_citizen ON audit.share_log (citizen_ref, id);
CREATE UNIQUE INDEX share_log_chain ON audit.share_log (chain_seq);

CREATE TRIGGER share_log_chain BEFORE INSERT ON audit.share_log
    FOR EACH ROW EXECUTE FUNCTION audit.chain_row();
CREATE TRIGGER share_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit.share_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
