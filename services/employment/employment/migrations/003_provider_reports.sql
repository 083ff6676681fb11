-- Every report a provider sent about a citizen: the case history the caseworker reads.
CREATE TABLE provider_report (
    submission_id  uuid        PRIMARY KEY,
    kind           text        NOT NULL,
    citizen_ref    text        NOT NULL,
    referral_id    uuid        NOT NULL,
    provider_id    text        NOT NULL,
    source_event_id uuid       NOT NULL,
    details        jsonb       NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX provider_report_by_citizen ON provider_report (citizen_ref, received_at);
