-- Provider client credentials: the secret only as a slow hash.
CREATE TABLE provider_client (
    client_id    text        PRIMARY KEY,
    provider_id  text        NOT NULL,
    secret_hash  text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    disabled_at  timestamptz
);

-- The gateway's own view of referrals, kept from the employment service's events.
CREATE TABLE referral_view (
    referral_id          uuid        PRIMARY KEY,
    provider_id          text        NOT NULL,
    citizen_ref          text        NOT NULL,
    citizen_display_name text        NOT NULL,
    offer_title          text        NOT NULL,
    hours_per_week       numeric(4,1) NOT NULL,
    starts_on            date        NOT NULL,
    expected_end_on      date,
    status               text        NOT NULL,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX referral_view_by_provider ON referral_view (provider_id, updated_at);

-- Every report a provider submitted, recorded in the same transaction as its outbox event.
CREATE TABLE submission (
    submission_id  uuid        PRIMARY KEY,
    provider_id    text        NOT NULL,
    referral_id    uuid        NOT NULL REFERENCES referral_view (referral_id),
    kind           text        NOT NULL,
    status         text        NOT NULL DEFAULT 'received',
    received_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
