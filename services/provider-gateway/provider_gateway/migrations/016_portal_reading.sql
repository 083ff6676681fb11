-- What the provider portal reads (issue 14).
--
-- The jobcenter contact the referral names (name, and work phone and e-mail when given), kept for
-- the provider's view of the referral; null for referrals recorded before it was kept.
ALTER TABLE referral_view ADD COLUMN jobcenter_contact jsonb;

-- The inbox's tabs: new (requested), active (accepted, in progress, on hold) and closed (every
-- status with no step onward: schemas.referrals.CLOSED_STATUSES). A column of its own, so one
-- index serves each tab newest change first, however many closed referrals pile up behind it.
ALTER TABLE referral_view ADD COLUMN inbox_tab text GENERATED ALWAYS AS (
    CASE
        WHEN status = 'requested' THEN 'new'
        WHEN status IN ('accepted', 'in-progress', 'on-hold') THEN 'active'
        ELSE 'closed'
    END
) STORED;
CREATE INDEX referral_view_inbox ON referral_view (provider_id, inbox_tab, updated_at, referral_id);
-- Every tab at once, newest change first: referral_view_by_provider (001), walked backwards.

-- Search by the citizen's display name: each word typed matches the start of a word of the name
-- ('jens' finds 'Testborger Jensen'), through the words of the name in this index.
CREATE INDEX referral_view_name_search ON referral_view
    USING gin (to_tsvector('simple', citizen_display_name));

-- The reports a provider sent on one referral, newest first, on the referral's page.
CREATE INDEX submission_by_referral ON submission (referral_id, received_at);

-- How far each portal person has read their provider's feed: the start page shows what came
-- after it as new, then moves it on.
CREATE TABLE portal_feed_seen (
    person_id      uuid        PRIMARY KEY,
    provider_id    text        NOT NULL,
    seen_position  bigint      NOT NULL,
    seen_at        timestamptz NOT NULL DEFAULT now()
);
