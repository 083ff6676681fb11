-- The cross-department protocol on the jobcenter's decisions: provisional until the social team's
-- objection window closes (final) or it objects (disputed) and the specialist unit rules (final).
ALTER TABLE plan_change_decision
    ADD COLUMN status         text NOT NULL DEFAULT 'provisional',
    ADD COLUMN dispute_id     uuid,
    ADD COLUMN social_position text,
    ADD COLUMN rule_by        date,
    ADD COLUMN ruling_outcome text,
    ADD COLUMN ruling         text,
    ADD COLUMN final_via      text,
    ADD COLUMN final_outcome  text,
    ADD COLUMN final_summary  text;
CREATE INDEX plan_change_decision_by_dispute ON plan_change_decision (dispute_id);
