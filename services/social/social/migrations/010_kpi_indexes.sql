-- The social department's KPIs (GET /v1/reports/kpis and the samspil_kpi_* gauges) read what a
-- period holds through indexes, whatever the size of the tables.

-- Disputes ruled in a period (those open past their deadline now are read through
-- social_dispute_open_page, migration 008).
CREATE INDEX dispute_ruled ON dispute (ruled_at) WHERE ruled_at IS NOT NULL;

-- Plan-change request to final outcome (the social team's own decisions): when a decision became
-- final, recorded by a trigger so every way of finalising records it alike.
ALTER TABLE decision_review ADD COLUMN final_at timestamptz;
CREATE FUNCTION decision_review_final_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'final' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'final') THEN
        NEW.final_at := coalesce(NEW.final_at, clock_timestamp());
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER decision_review_final_at BEFORE INSERT OR UPDATE OF status ON decision_review
    FOR EACH ROW EXECUTE FUNCTION decision_review_final_at();
CREATE INDEX decision_review_final ON decision_review (final_at)
    WHERE final_at IS NOT NULL AND deciding_department = 'social';
