-- A caseworker's own task list (GET /v1/tasks?assignee=...), soonest due first, costs what the
-- caseworker has, not how many tasks there are: found by assignee, read in the list's order.
CREATE INDEX caseworker_task_by_assignee ON caseworker_task (assignee, due_on, created_at)
    WHERE assignee IS NOT NULL;
