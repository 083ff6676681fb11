-- When a submission reached each state (received is received_at). A later state implies the
-- earlier ones, so reaching it sets an earlier state's time that is still missing to the same.
ALTER TABLE submission ADD COLUMN delivered_at timestamptz;
ALTER TABLE submission ADD COLUMN acted_on_at timestamptz;
ALTER TABLE submission ADD COLUMN final_at timestamptz;
UPDATE submission SET
    delivered_at = CASE WHEN status IN ('delivered', 'acted-on', 'final') THEN updated_at END,
    acted_on_at = CASE WHEN status IN ('acted-on', 'final') THEN updated_at END,
    final_at = CASE WHEN status = 'final' THEN updated_at END;
