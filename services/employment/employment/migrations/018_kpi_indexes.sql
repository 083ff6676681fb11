-- The departments' KPIs (GET /v1/reports/kpis and the samspil_kpi_* gauges) read what a period
-- holds through indexes, whatever the size of the tables (tests/integration/test_query_plans.py).

-- Absence notice to assessment: re-contact tasks closed in a period, and the closing team so the
-- report can be read per team.
ALTER TABLE caseworker_task ADD COLUMN closed_by_team text;
CREATE INDEX caseworker_task_closed ON caseworker_task (kind, closed_at) WHERE closed_at IS NOT NULL;

-- Referrals by outcome: the steps that end a referral, by the day they took effect.
CREATE INDEX referral_status_change_ended ON referral_status_change (occurred_on, status)
    WHERE status IN ('completed', 'failed', 'cancelled', 'rejected');

-- Plan-change request to final outcome: when a decision became final. A trigger rather than each
-- path's UPDATE, so every way a decision is finalised (unopposed, by a ruling, any added later)
-- records it alike.
ALTER TABLE plan_change_decision ADD COLUMN final_at timestamptz;
CREATE FUNCTION plan_change_decision_final_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'final' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'final') THEN
        NEW.final_at := coalesce(NEW.final_at, clock_timestamp());
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER plan_change_decision_final_at BEFORE INSERT OR UPDATE OF status ON plan_change_decision
    FOR EACH ROW EXECUTE FUNCTION plan_change_decision_final_at();
CREATE INDEX plan_change_decision_final ON plan_change_decision (final_at) WHERE final_at IS NOT NULL;

-- Follow-ups overdue during a period: each due date the scheduler announced as passed, once.
CREATE TABLE follow_up_overdue (
    citizen_ref   text        NOT NULL,
    due_on        date        NOT NULL,
    announced_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (citizen_ref, due_on)
);
CREATE INDEX follow_up_overdue_by_due ON follow_up_overdue (due_on);

-- Follow-ups overdue now: the course's due date as an expression the count can range over (the
-- same expression as the overdue gauge and the domain's rule).
CREATE INDEX contact_course_due ON contact_course ((greatest(postponed_until,
    (coalesce(last_follow_up_on, started_on) + make_interval(months => cadence_months))::date)))
    WHERE lead_department = 'employment';

-- Citizens in the parked report: counted through citizen_by_enrolment (migration 014).
