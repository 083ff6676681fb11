-- A consent that runs out ends its shares like a withdrawal; this marks that it has been acted on.
ALTER TABLE consent ADD COLUMN expiry_handled boolean NOT NULL DEFAULT false;
CREATE INDEX consent_expiring ON consent (expires_on) WHERE withdrawn_on IS NULL AND NOT expiry_handled;
