-- The social team's decisions on changes to the social action plan: the jobcenter's team is
-- informed and may object by the deadline, which the jobcenter holds.
-- status: open (objection window) -> objected (a dispute) -> final.
CREATE TABLE social_decision_review (
    decision_id             uuid        PRIMARY KEY,
    citizen_ref             text        NOT NULL,
    deciding_team           text        NOT NULL,
    submission_id           uuid,
    decision                text        NOT NULL,
    reason                  text,
    resulting_plan_version  integer,
    legal_basis             text,
    object_by               date        NOT NULL,
    status                  text        NOT NULL DEFAULT 'open',
    dispute_id              uuid,
    ruling_outcome          text,
    ruling                  text,
    final_via               text,
    final_outcome           text,
    source_event_id         uuid        NOT NULL UNIQUE,
    received_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX social_decision_review_open ON social_decision_review (object_by) WHERE status = 'open';
CREATE INDEX social_decision_review_by_citizen ON social_decision_review (citizen_ref);
CREATE INDEX social_decision_review_by_dispute ON social_decision_review (dispute_id);
