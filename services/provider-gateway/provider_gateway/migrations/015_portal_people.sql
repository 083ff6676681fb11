-- The provider portal's people: named persons of one provider who log in with a password (the
-- built-in user store: local runs and tests) or through OpenID Connect (issuer and subject).
CREATE TABLE portal_person (
    person_id       uuid        PRIMARY KEY,
    provider_id     text        NOT NULL,
    email           text        NOT NULL,
    display_name    text        NOT NULL,
    password_hash   text,           -- argon2id; NULL: logs in through OpenID Connect only
    oidc_issuer     text,
    oidc_subject    text,
    failed_logins   integer     NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    disabled_at     timestamptz,
    CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL))
);
CREATE UNIQUE INDEX portal_person_email ON portal_person (lower(email));
CREATE UNIQUE INDEX portal_person_oidc ON portal_person (oidc_issuer, oidc_subject)
    WHERE oidc_issuer IS NOT NULL;

-- Sessions live here, not in the process, so a restart or another replica keeps them. Only the
-- hash of the session id (the cookie's value) is stored: reading this table gives no session.
CREATE TABLE portal_session (
    session_hash   text        PRIMARY KEY,
    person_id      uuid        NOT NULL REFERENCES portal_person ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX portal_session_by_person ON portal_session (person_id);
CREATE INDEX portal_session_expiry ON portal_session (expires_at);
