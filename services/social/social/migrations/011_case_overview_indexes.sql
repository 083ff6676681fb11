-- The case overview (GET /v1/citizens/{ref}) reads a citizen's follow-ups and readiness
-- assessments by the citizen: both tables grow with every case, so each gets its index.
CREATE INDEX social_follow_up_by_citizen ON social_follow_up (citizen_ref, held_on DESC);
CREATE INDEX readiness_assessment_by_citizen ON readiness_assessment (citizen_ref, id);
