-- The W3C trace context current when the row was written (the request or the handled event that
-- caused it): the relay continues it in the record's ce_traceparent and ce_tracestate headers, so
-- a trace survives the outbox. NULL when nothing was traced (and for rows from before).
ALTER TABLE outbox ADD COLUMN traceparent text;
ALTER TABLE outbox ADD COLUMN tracestate text;
