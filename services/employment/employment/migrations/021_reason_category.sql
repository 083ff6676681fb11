-- The reason category of a step that ends a referral (rejected, failed, cancelled: the
-- ReasonCategory enum in schemas/referrals.py), next to its free-text reason; null when the step
-- gave none (the KPIs count it as unspecified) and for every step recorded before.
ALTER TABLE referral_status_change ADD COLUMN reason_category text;

-- Referrals ended, by outcome, by who ended them and by reason category: the period's endings
-- read from the index alone (it replaces referral_status_change_ended of migration 018).
CREATE INDEX referral_status_change_ended_by_reason ON referral_status_change (occurred_on, status)
    INCLUDE (changed_by, reason_category)
    WHERE status IN ('completed', 'failed', 'cancelled', 'rejected');
DROP INDEX referral_status_change_ended;
