-- Tasks made from the employment department's events (e.g. a plan-change decision the social
-- team is informed of): at most one per event, whatever the redelivery.
ALTER TABLE caseworker_task ADD COLUMN source_event_id uuid UNIQUE;
