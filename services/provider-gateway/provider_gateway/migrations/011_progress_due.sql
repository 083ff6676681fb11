-- The provider's duty to report progress on a referral, as the jobcenter keeps it: the agreed
-- interval, when the next report is due, and since when one is overdue (null when none is).
-- Referrals made before reporting was tracked have nulls until the jobcenter says more.
ALTER TABLE referral_view
    ADD COLUMN reporting_interval_days integer,
    ADD COLUMN progress_report_due_on date,
    ADD COLUMN progress_report_overdue_since date;
