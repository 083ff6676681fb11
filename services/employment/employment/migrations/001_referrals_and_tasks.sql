CREATE TABLE referral (
    referral_id          uuid        PRIMARY KEY,
    citizen_ref          text        NOT NULL,
    provider_id          text        NOT NULL,
    offer_kind           text        NOT NULL,
    offer_title          text        NOT NULL,
    hours_per_week       numeric(4,1) NOT NULL,
    starts_on            date        NOT NULL,
    expected_end_on      date,
    citizen_display_name text        NOT NULL,
    status               text        NOT NULL DEFAULT 'requested',
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX referral_by_citizen ON referral (citizen_ref);

-- A task made from a provider report. source_event_id makes a task per report at most one,
-- independent of the inbox, so even a replayed report cannot create a second task.
CREATE TABLE caseworker_task (
    task_id          uuid        PRIMARY KEY,
    citizen_ref      text        NOT NULL,
    kind             text        NOT NULL,
    title            text        NOT NULL,
    status           text        NOT NULL DEFAULT 'open',
    due_on           date        NOT NULL,
    referral_id      uuid,
    provider_id      text,
    source_event_id  uuid        UNIQUE,
    source_time      timestamptz,
    details          jsonb       NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    closed_at        timestamptz
);
CREATE INDEX caseworker_task_open ON caseworker_task (due_on) WHERE status = 'open';
CREATE INDEX caseworker_task_by_citizen ON caseworker_task (citizen_ref);
