-- Idempotency-Key on a department's API: the first answer to a (caller, key) is kept, in the
-- transaction of the request's work, and given again for a repeat with the same request. The key
-- and the request are kept only as keyed hashes (a body may hold a CPR number).
CREATE TABLE idempotent_request (
    caller        text        NOT NULL,
    key           text        NOT NULL,
    request_hash  text        NOT NULL,
    status_code   integer,
    response      jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
);
CREATE INDEX idempotent_request_age ON idempotent_request (created_at);
