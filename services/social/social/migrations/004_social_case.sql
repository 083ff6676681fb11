-- A shared citizen as the social department knows them. The CPR number is kept only here and in
-- the jobcenter's database; both turn it into the same pseudonymous reference.
CREATE TABLE citizen (
    citizen_ref  text        PRIMARY KEY,
    cpr          text        NOT NULL UNIQUE CHECK (cpr ~ '^[0-9]{10}$'),
    enrolled_by  text        NOT NULL,
    enrolled_at  timestamptz NOT NULL DEFAULT now()
);

-- The social action plan (social handleplan, Serviceloven § 141): every version kept.
CREATE TABLE social_plan_version (
    citizen_ref            text        NOT NULL REFERENCES citizen (citizen_ref),
    version                integer     NOT NULL CHECK (version >= 1),
    goal                   text        NOT NULL,
    measures               jsonb       NOT NULL,
    weekly_capacity_hours  numeric(4,1),
    revised_by             text        NOT NULL,
    revised_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (citizen_ref, version)
);

-- Specific consents (samtykke) and every share made on a consent or a statutory basis.
CREATE TABLE consent (
    consent_id      uuid        PRIMARY KEY,
    citizen_ref     text        NOT NULL REFERENCES citizen (citizen_ref),
    information     text        NOT NULL,
    to_department   text,
    to_provider_id  text,
    purpose         text        NOT NULL,
    given_on        date        NOT NULL,
    expires_on      date        NOT NULL,
    withdrawn_on    date,
    recorded_by     text        NOT NULL
);
CREATE INDEX consent_by_citizen ON consent (citizen_ref);

CREATE TABLE share_log (
    id           bigserial   PRIMARY KEY,
    citizen_ref  text        NOT NULL,
    information  text        NOT NULL,
    recipient    text        NOT NULL,
    basis        text        NOT NULL,
    shared_by    text        NOT NULL,
    event_id     uuid        NOT NULL,
    shared_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX share_log_by_citizen ON share_log (citizen_ref, id);

-- Who leads the contact course, as the social department sees it (the jobcenter keeps the same
-- from the events), and the follow-ups the social department held while leading.
CREATE TABLE contact_lead (
    citizen_ref  text        PRIMARY KEY REFERENCES citizen (citizen_ref),
    lead         text        NOT NULL,
    since        date        NOT NULL,
    reason       text
);

CREATE TABLE social_follow_up (
    id           bigserial   PRIMARY KEY,
    citizen_ref  text        NOT NULL REFERENCES citizen (citizen_ref),
    kind         text        NOT NULL,
    held_on      date        NOT NULL,
    note         text,
    recorded_by  text        NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE handover (
    handover_id    uuid        PRIMARY KEY,
    citizen_ref    text        NOT NULL REFERENCES citizen (citizen_ref),
    justification  text        NOT NULL,
    proposed_from  date        NOT NULL,
    status         text        NOT NULL DEFAULT 'requested',
    answer         text,
    requested_by   text        NOT NULL,
    requested_at   timestamptz NOT NULL DEFAULT now(),
    answered_at    timestamptz
);
CREATE INDEX handover_by_citizen ON handover (citizen_ref);

-- Which employment offer the citizen started (from the jobcenter's events).
CREATE TABLE offer_started (
    referral_id      uuid        PRIMARY KEY,
    citizen_ref      text        NOT NULL,
    provider_id      text        NOT NULL,
    offer_kind       text        NOT NULL,
    offer_title      text        NOT NULL,
    hours_per_week   numeric(4,1) NOT NULL,
    started_on       date        NOT NULL,
    expected_end_on  date,
    received_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX offer_started_by_citizen ON offer_started (citizen_ref);

-- What the social department may see of the job plan, with the basis of the share.
CREATE TABLE job_plan_summary (
    citizen_ref   text        PRIMARY KEY,
    plan_version  integer     NOT NULL,
    goal          text        NOT NULL,
    activities    jsonb       NOT NULL,
    legal_basis   text        NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);

-- The other team's plan-change decisions while the social team may object, and after.
-- status: open (objection window) -> objected (a dispute) -> final.
CREATE TABLE decision_review (
    decision_id             uuid        PRIMARY KEY,
    citizen_ref             text        NOT NULL,
    deciding_department     text        NOT NULL,
    deciding_team           text        NOT NULL,
    submission_id           uuid,
    referral_id             uuid,
    provider_id             text,
    target_plan             text        NOT NULL,
    decision                text        NOT NULL,
    reason                  text        NOT NULL,
    resulting_plan_version  integer,
    object_by               date        NOT NULL,
    status                  text        NOT NULL DEFAULT 'open',
    final_outcome           text,
    final_summary           text,
    received_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decision_review_open ON decision_review (object_by) WHERE status = 'open';
CREATE INDEX decision_review_by_citizen ON decision_review (citizen_ref);

-- Disputes the joint specialist unit (fælles specialenhed) rules on.
CREATE TABLE dispute (
    dispute_id           uuid        PRIMARY KEY,
    decision_id          uuid        NOT NULL UNIQUE REFERENCES decision_review (decision_id),
    citizen_ref          text        NOT NULL,
    raised_by            text        NOT NULL,
    employment_position  text        NOT NULL,
    social_position      text        NOT NULL,
    rule_by              date        NOT NULL,
    status               text        NOT NULL DEFAULT 'open',
    outcome              text,
    ruling               text,
    ruled_by             text,
    ruled_at             timestamptz,
    overdue_announced    boolean     NOT NULL DEFAULT false,
    raised_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dispute_open ON dispute (rule_by) WHERE status = 'open' AND NOT overdue_announced;
CREATE INDEX dispute_by_citizen ON dispute (citizen_ref);

CREATE TABLE readiness_assessment (
    id           bigserial   PRIMARY KEY,
    citizen_ref  text        NOT NULL REFERENCES citizen (citizen_ref),
    ready        boolean     NOT NULL,
    assessment   text        NOT NULL,
    assessed_by  text        NOT NULL,
    assessed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE case_note (
    id           bigserial   PRIMARY KEY,
    citizen_ref  text        NOT NULL REFERENCES citizen (citizen_ref),
    author       text        NOT NULL,
    text         text        NOT NULL,
    written_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX case_note_by_citizen ON case_note (citizen_ref, id);
CREATE FUNCTION case_note_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case notes are append-only';
END $$;
CREATE TRIGGER case_note_append_only BEFORE UPDATE OR DELETE ON case_note
    FOR EACH ROW EXECUTE FUNCTION case_note_is_append_only();
CREATE TRIGGER case_note_no_truncate BEFORE TRUNCATE ON case_note
    FOR EACH STATEMENT EXECUTE FUNCTION case_note_is_append_only();

ALTER TABLE caseworker_task
    ADD COLUMN closed_at  timestamptz,
    ADD COLUMN closed_by  text;
