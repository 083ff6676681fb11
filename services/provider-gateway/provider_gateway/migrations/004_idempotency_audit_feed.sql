-- Idempotency-Key: the first response to a (provider, key) is kept and returned for repeats.
CREATE TABLE idempotency_key (
    provider_id   text        NOT NULL,
    key           text        NOT NULL,
    request_hash  text        NOT NULL,
    status_code   integer,
    response      jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider_id, key)
);
CREATE INDEX idempotency_key_age ON idempotency_key (created_at);

-- Every request, append-only: who, what, when, which citizen, and how it ended.
CREATE TABLE audit_log (
    id           bigserial   PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    client_id    text,
    provider_id  text,
    method       text        NOT NULL,
    path         text        NOT NULL,
    citizen_ref  text,
    status       integer     NOT NULL,
    outcome      text        NOT NULL
);
CREATE INDEX audit_log_by_provider ON audit_log (provider_id, at);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();

-- What changed for a provider, in order, for providers that poll.
CREATE TABLE provider_feed (
    seq            bigserial   PRIMARY KEY,
    provider_id    text        NOT NULL,
    kind           text        NOT NULL,
    referral_id    uuid,
    submission_id  uuid,
    data           jsonb       NOT NULL DEFAULT '{}',
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX provider_feed_by_provider ON provider_feed (provider_id, seq);
