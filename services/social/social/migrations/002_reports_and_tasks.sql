-- Reports from providers that concern the social department: readiness, social-plan changes.
CREATE TABLE provider_report (
    submission_id  uuid        PRIMARY KEY,
    kind           text        NOT NULL,
    citizen_ref    text        NOT NULL,
    referral_id    uuid        NOT NULL,
    provider_id    text        NOT NULL,
    details        jsonb       NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE caseworker_task (
    task_id          uuid        PRIMARY KEY,
    citizen_ref      text        NOT NULL,
    kind             text        NOT NULL,
    title            text        NOT NULL,
    status           text        NOT NULL DEFAULT 'open',
    due_on           date        NOT NULL,
    submission_id    uuid        UNIQUE,
    details          jsonb       NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX social_task_open ON caseworker_task (due_on) WHERE status = 'open';
