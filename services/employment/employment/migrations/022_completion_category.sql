-- A completion may now give its outcome's category (CompletionCategory in schemas/referrals.py:
-- job, education, next-offer, other). It is kept in the same column as the other ending steps'
-- reason category, so the KPIs count it by outcome and category from the same covering index
-- (referral_status_change_ended_by_reason, migration 021) without a change to it.
COMMENT ON COLUMN referral_status_change.reason_category IS
    'The category of a step that ended the referral: the reason''s (ReasonCategory) on rejected,'
    ' failed and cancelled, the outcome''s (CompletionCategory) on completed; null when none was given.';
