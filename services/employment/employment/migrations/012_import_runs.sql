-- Bulk onboarding (`samspil import`): one row per CSV file, known by the SHA-256 of its bytes.
-- Each chunk of the file commits its citizens, plans, events, audit rows, refusals and the
-- run's last_line in one transaction, so an interrupted import run again with the same file
-- continues after last_line and doubles nothing. No CPR number is kept here: refusal reasons
-- name the line and the field, never the value.
CREATE TABLE import_run (
    file_sha256       text        PRIMARY KEY CHECK (file_sha256 ~ '^[0-9a-f]{64}$'),
    file_name         text        NOT NULL,
    started_by        text        NOT NULL,
    started_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz,
    -- The last line of the file whose outcome is committed (1: the header, nothing yet).
    last_line         integer     NOT NULL DEFAULT 1,
    enrolled          integer     NOT NULL DEFAULT 0,
    already_enrolled  integer     NOT NULL DEFAULT 0,
    plans_made        integer     NOT NULL DEFAULT 0,
    refused           integer     NOT NULL DEFAULT 0
);

CREATE TABLE import_refusal (
    file_sha256  text    NOT NULL REFERENCES import_run (file_sha256),
    line         integer NOT NULL,
    reason       text    NOT NULL,
    PRIMARY KEY (file_sha256, line)
);
