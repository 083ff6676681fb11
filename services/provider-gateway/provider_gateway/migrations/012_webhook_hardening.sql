-- Webhooks, hardened (review rev2).
--
-- A provider whose clients are all disabled (`samspil provider disable`) is cut off from its feed
-- by webhook too: no delivery is made for its feed entries, and those already pending wait (the
-- workers' claim skips them) until a client of it is enabled again.
CREATE INDEX provider_client_enabled ON provider_client (provider_id) WHERE disabled_at IS NULL;

CREATE OR REPLACE FUNCTION webhook_deliveries_for_feed_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    message uuid;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM webhook_endpoint
        WHERE provider_id = NEW.provider_id AND disabled_at IS NULL AND NEW.kind = ANY (event_kinds)
    ) OR NOT EXISTS (
        SELECT 1 FROM provider_client WHERE provider_id = NEW.provider_id AND disabled_at IS NULL
    ) THEN
        RETURN NULL;
    END IF;
    message := gen_random_uuid();
    INSERT INTO webhook_message (message_id, provider_id, kind, referral_id, submission_id, data, at)
    VALUES (message, NEW.provider_id, NEW.kind, NEW.referral_id, NEW.submission_id, NEW.data, NEW.at);
    INSERT INTO webhook_delivery (delivery_id, endpoint_id, message_id, ordering_key)
    SELECT gen_random_uuid(), endpoint_id, message, COALESCE(NEW.referral_id::text, message::text)
    FROM webhook_endpoint
    WHERE provider_id = NEW.provider_id AND disabled_at IS NULL AND NEW.kind = ANY (event_kinds)
    ORDER BY endpoint_id;
    RETURN NULL;
END;
$$;

-- Where each delivery's last attempt went: the URL as it was then, and the address connected to
-- (the one checked). For operators; not shown to the provider.
ALTER TABLE webhook_delivery ADD COLUMN last_url text, ADD COLUMN last_address text;

-- An operator's disable outlives the endpoint: deleting it and registering its host again (or
-- pointing another endpoint there) is refused until the operator enables it. Kept by the
-- endpoint's id, which the operator used, and with its URL, whose host is what stays blocked.
CREATE TABLE webhook_operator_block (
    endpoint_id  uuid        PRIMARY KEY,
    provider_id  text        NOT NULL,
    url          text        NOT NULL,
    reason       text        NOT NULL,
    blocked_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_operator_block_by_provider ON webhook_operator_block (provider_id);
