-- The social service's own tables arrive with its capabilities; the runtime's messaging
-- tables are created by the common runtime's migrations.
SELECT 1;
