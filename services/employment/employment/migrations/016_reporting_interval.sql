-- Progress reports the provider is obliged to send on a referral, every reporting_interval_days
-- from the day the citizen started and then from each report received. The scheduler looks at a referral
-- again on progress_alarm_on (null: nothing to announce until a report arrives or the interval
-- changes), announcing each due date once as due soon and once as overdue; an overdue report
-- marks the referral (progress_report_overdue_since) until the next report arrives.
ALTER TABLE referral
    ADD COLUMN reporting_interval_days integer NOT NULL DEFAULT 28,
    ADD COLUMN progress_period_from date,
    ADD COLUMN progress_report_due_on date,
    ADD COLUMN progress_report_overdue_since date,
    ADD COLUMN progress_due_soon_announced_for date,
    ADD COLUMN progress_overdue_announced_for date,
    ADD COLUMN progress_alarm_on date;
-- Referrals under way before reporting was tracked: the first report is due four weeks from the
-- day this runs, so none is overdue at once. (Those not started get theirs when they start.)
UPDATE referral
SET progress_period_from = current_date,
    progress_report_due_on = current_date + 28,
    progress_alarm_on = current_date
WHERE status IN ('in-progress', 'on-hold');
-- The scheduler's scan finds the referrals whose day has come, however many there are.
CREATE INDEX referral_progress_alarm ON referral (progress_alarm_on) WHERE progress_alarm_on IS NOT NULL;

-- A progress report received: when it was due, and whether it came by then (the KPIs count
-- reports on time per period, through the index below).
ALTER TABLE provider_report ADD COLUMN due_on date, ADD COLUMN on_time boolean;
CREATE INDEX provider_report_progress_by_time ON provider_report (received_at)
    WHERE kind = 'progress-report';
-- The referrals marked now (for the KPIs' "overdue now"), without reading the others.
CREATE INDEX referral_progress_overdue ON referral (progress_report_overdue_since)
    WHERE progress_report_overdue_since IS NOT NULL;
