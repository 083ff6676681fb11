-- An overdue progress report is announced once per awaited report, not per due date: the mark
-- names the period the report belongs to (progress_period_from when it was announced), which a
-- change of the reporting interval does not move. A referral marked overdue now was announced
-- for its current period; the mark by due date is no longer read or written.
ALTER TABLE referral ADD COLUMN progress_overdue_announced_period date;
UPDATE referral
SET progress_overdue_announced_period = progress_period_from
WHERE progress_report_overdue_since IS NOT NULL;
ALTER TABLE referral DROP COLUMN progress_overdue_announced_for;
-- A progress report that arrives (or an interval that moves the due date ahead) closes every
-- open task chasing a report on the referral, read through the open tasks by referral.
CREATE INDEX caseworker_task_open_by_referral ON caseworker_task (referral_id) WHERE status = 'open';
