-- The task list is paged on (due_on, created_at, task_id): the task id makes the order unique,
-- so a page continues exactly where the one before stopped. Each filter the list is asked with
-- most has an index in that order, so a page costs the rows it shows:
-- a citizen's tasks, a caseworker's own tasks, and every task (the open ones by status).
CREATE INDEX caseworker_task_page ON caseworker_task (due_on, created_at, task_id);
CREATE INDEX caseworker_task_by_citizen_page ON caseworker_task (citizen_ref, due_on, created_at, task_id);
CREATE INDEX caseworker_task_by_assignee_page ON caseworker_task (assignee, due_on, created_at, task_id)
    WHERE assignee IS NOT NULL;
DROP INDEX caseworker_task_by_citizen;
DROP INDEX caseworker_task_by_assignee;
-- Notes and the case history are paged too: notes on (citizen_ref, id) already, the history on
-- (citizen_ref, received_at, submission_id).
CREATE INDEX provider_report_by_citizen_page ON provider_report (citizen_ref, received_at, submission_id);
DROP INDEX provider_report_by_citizen;
-- The parked-citizens report is paged on (enrolled_on, citizen_ref).
CREATE INDEX citizen_by_enrolment ON citizen (enrolled_on, citizen_ref);
