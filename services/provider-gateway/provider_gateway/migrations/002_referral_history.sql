-- Every step of a referral's lifecycle as the gateway saw it, for the provider's view.
CREATE TABLE referral_status_change (
    id           bigserial   PRIMARY KEY,
    referral_id  uuid        NOT NULL REFERENCES referral_view (referral_id),
    status       text        NOT NULL,
    changed_by   text        NOT NULL,
    occurred_on  date        NOT NULL,
    reason       text,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX referral_status_change_by_referral ON referral_status_change (referral_id, id);
