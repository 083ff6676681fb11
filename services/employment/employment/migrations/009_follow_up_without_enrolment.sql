-- The social department may lead, and hold follow-ups, before the jobcenter enrols the citizen:
-- their follow-ups are kept like the contact course itself, without requiring the citizen row.
ALTER TABLE follow_up DROP CONSTRAINT follow_up_citizen_ref_fkey;
