-- A conflict between the job plan and the social plan summary, found by a rule. Raised once per
-- rule and pair of plan versions: checking the same two versions again adds nothing.
CREATE TABLE plan_conflict (
    conflict_id          uuid        PRIMARY KEY,
    citizen_ref          text        NOT NULL REFERENCES citizen (citizen_ref),
    rule                 text        NOT NULL,
    explanation          text        NOT NULL,
    job_plan_version     integer     NOT NULL,
    social_plan_version  integer     NOT NULL,
    detected_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (citizen_ref, rule, job_plan_version, social_plan_version)
);
