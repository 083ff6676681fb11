-- The social team's own decisions on provider requests go into decision_review too: the jobcenter
-- holds their objection window, so this service settles only the jobcenter's decisions by deadline.
CREATE UNIQUE INDEX decision_review_submission ON decision_review (submission_id) WHERE deciding_department = 'social';
