-- A completion's outcome category (CompletionCategory in schemas/referrals.py: job, education,
-- next-offer, other) gets a column of its own. Migration 022 kept it in reason_category, which
-- versions before it read strictly as a ReasonCategory: during a rolling deploy, or after a
-- rollback, they answered 500 on a referral holding one and on the KPI report. reason_category
-- again holds only a reason's category (rejected, failed, cancelled), as every version expects.
ALTER TABLE referral_status_change ADD COLUMN outcome_category text;
COMMENT ON COLUMN referral_status_change.outcome_category IS
    'On a completion: the outcome''s category (CompletionCategory); null when none was given.';
COMMENT ON COLUMN referral_status_change.reason_category IS
    'On a step that ended the referral without completing it (rejected, failed, cancelled): the'
    ' reason''s category (ReasonCategory); null when none was given, and always on a completion.';
UPDATE referral_status_change SET outcome_category = reason_category, reason_category = NULL
    WHERE status = 'completed' AND reason_category IS NOT NULL;

-- Referrals ended by outcome, by who ended them and by category (the reason's, or a completion's
-- outcome's), read from the index alone. It replaces referral_status_change_ended_by_reason of
-- migration 021; versions before this one read their endings from it just as well.
CREATE INDEX referral_status_change_ended_by_category ON referral_status_change (occurred_on, status)
    INCLUDE (changed_by, reason_category, outcome_category)
    WHERE status IN ('completed', 'failed', 'cancelled', 'rejected');
DROP INDEX referral_status_change_ended_by_reason;
