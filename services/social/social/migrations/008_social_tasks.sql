-- The social team's tasks are worked like the jobcenter's: assigned to a caseworker, closed with
-- a note, listed a page at a time on (due_on, created_at, task_id) (the task id makes the order
-- unique), through an index for each filter the list is asked with most.
ALTER TABLE caseworker_task
    ADD COLUMN assignee   text,
    ADD COLUMN close_note text;
CREATE INDEX social_task_page ON caseworker_task (due_on, created_at, task_id);
CREATE INDEX social_task_by_citizen_page ON caseworker_task (citizen_ref, due_on, created_at, task_id);
CREATE INDEX social_task_by_assignee_page ON caseworker_task (assignee, due_on, created_at, task_id)
    WHERE assignee IS NOT NULL;
-- Notes are paged on (citizen_ref, id) (case_note_by_citizen), disputes on (rule_by, dispute_id).
CREATE INDEX social_dispute_page ON dispute (rule_by, dispute_id);
CREATE INDEX social_dispute_open_page ON dispute (rule_by, dispute_id) WHERE status = 'open';
