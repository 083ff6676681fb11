-- The last day the social team may object to the jobcenter's decision, as the decision announced it.
ALTER TABLE plan_change_decision ADD COLUMN object_by date;
