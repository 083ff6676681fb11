-- Handovers the social department asks for, and the jobcenter's answer.
CREATE TABLE handover (
    handover_id     uuid        PRIMARY KEY,
    citizen_ref     text        NOT NULL,
    justification   text        NOT NULL,
    proposed_from   date        NOT NULL,
    requested_by    text        NOT NULL,
    status          text        NOT NULL DEFAULT 'requested',
    answer          text,
    answered_by     text,
    answered_at     timestamptz,
    source_event_id uuid        NOT NULL UNIQUE,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX handover_by_citizen ON handover (citizen_ref);
