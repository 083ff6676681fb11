-- A shared citizen (fælles borger). The CPR number is kept only here, in the department's own
-- database; everything else, on the bus and in the other tables, uses the pseudonymous reference.
CREATE TABLE citizen (
    citizen_ref   text        PRIMARY KEY,
    cpr           text        NOT NULL UNIQUE CHECK (cpr ~ '^[0-9]{10}$'),
    target_group  text        NOT NULL,
    profile_tags  text[]      NOT NULL DEFAULT '{}',
    enrolled_on   date        NOT NULL,
    enrolled_by   text        NOT NULL,
    enrolled_at   timestamptz NOT NULL DEFAULT now()
);

-- The contact course (kontaktforløb). next_alarm_on is the first day the scheduler has something
-- to announce; only courses with a date are in its index, so a scan costs what is due.
-- No foreign key to citizen: the social department may take the lead (and so start the course)
-- before the jobcenter has enrolled the citizen; both sides must agree on the lead all the same.
CREATE TABLE contact_course (
    citizen_ref            text    PRIMARY KEY,
    started_on             date    NOT NULL,
    cadence_months         integer NOT NULL DEFAULT 3 CHECK (cadence_months BETWEEN 1 AND 12),
    cadence_note           text,
    last_follow_up_on      date,
    postponed_until        date,
    postponed_on           date,
    lead_department        text    NOT NULL DEFAULT 'employment',
    reminded_for           date,
    overdue_announced_for  date,
    next_alarm_on          date,
    lead_since             date
);
CREATE INDEX contact_course_alarm ON contact_course (next_alarm_on) WHERE next_alarm_on IS NOT NULL;

CREATE TABLE follow_up (
    id               bigserial   PRIMARY KEY,
    citizen_ref      text        NOT NULL REFERENCES citizen (citizen_ref),
    kind             text        NOT NULL,
    department       text        NOT NULL,
    held_on          date        NOT NULL,
    note             text,
    recorded_by      text        NOT NULL,
    source_event_id  uuid        UNIQUE,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX follow_up_by_citizen ON follow_up (citizen_ref, held_on);

CREATE TABLE postponement (
    id                  bigserial   PRIMARY KEY,
    citizen_ref         text        NOT NULL REFERENCES citizen (citizen_ref),
    reason              text        NOT NULL,
    reason_text         text,
    until               date        NOT NULL,
    justification_note  text        NOT NULL CHECK (length(justification_note) > 0),
    recorded_by         text        NOT NULL,
    recorded_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX postponement_by_citizen ON postponement (citizen_ref, id);

-- The job plan (jobplan / "Min Plan"): every version kept.
CREATE TABLE job_plan_version (
    citizen_ref  text        NOT NULL REFERENCES citizen (citizen_ref),
    version      integer     NOT NULL CHECK (version >= 1),
    goal         text        NOT NULL,
    activities   jsonb       NOT NULL,
    revised_by   text        NOT NULL,
    revised_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (citizen_ref, version)
);

-- What the employment department may see of the social action plan, from the social service's
-- events, with the basis that allows the share. Removed when that basis ends.
CREATE TABLE social_plan_summary (
    citizen_ref            text        PRIMARY KEY,
    plan_version           integer     NOT NULL,
    goal                   text        NOT NULL,
    measures               jsonb       NOT NULL,
    weekly_capacity_hours  numeric(4,1),
    legal_basis            text        NOT NULL,
    source_event_id        uuid        NOT NULL,
    received_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE plan_change_decision (
    decision_id             uuid        PRIMARY KEY,
    submission_id           uuid        NOT NULL UNIQUE,
    citizen_ref             text        NOT NULL,
    decision                text        NOT NULL,
    reason                  text        NOT NULL,
    team                    text        NOT NULL,
    resulting_plan_version  integer,
    decided_by              text        NOT NULL,
    decided_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plan_change_decision_by_citizen ON plan_change_decision (citizen_ref, decided_at);

-- Case notes are append-only: written with author and time, never changed or removed.
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
    ADD COLUMN assignee    text,
    ADD COLUMN closed_by   text,
    ADD COLUMN close_note  text;
