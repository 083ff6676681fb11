-- A completion may now give its outcome's category (CompletionCategory in schemas/referrals.py:
-- job, education, next-offer, other), kept in the same column as the other ending steps' reason
-- category; the API shows it as the status change's outcome_category.
COMMENT ON COLUMN referral_status_change.reason_category IS
    'The category of a step that ended the referral: the reason''s (ReasonCategory) on rejected,'
    ' failed and cancelled, the outcome''s (CompletionCategory) on completed; null when none was given.';
