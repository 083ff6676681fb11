-- The reason category of a step that ends a referral (rejected, failed, cancelled: the
-- ReasonCategory enum in schemas/referrals.py), next to its free-text reason in the referral's
-- status history; null when none was given and for every step recorded before.
ALTER TABLE referral_status_change ADD COLUMN reason_category text;
