-- Social measures a citizen consented to share with a provider, one row per consent. An ended
-- consent keeps its row, emptied of measures, so a share published again after the end cannot
-- bring them back.
CREATE TABLE provider_share (
    consent_id    uuid        PRIMARY KEY,
    citizen_ref   text        NOT NULL,
    provider_id   text        NOT NULL,
    plan_version  integer,
    measures      jsonb       NOT NULL DEFAULT '[]',
    shared_until  date,
    ended_on      date,
    end_reason    text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX provider_share_in_force ON provider_share (citizen_ref, provider_id) WHERE ended_on IS NULL;
