-- An operator's block covers the provider's every endpoint at the blocked host (review rev3).
--
-- The host of a webhook URL as the gateway compares hosts: lower case, without a trailing dot,
-- the brackets of an IPv6 address, a user part or a port.
CREATE FUNCTION webhook_url_host(url text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT btrim(rtrim(lower(substring(url FROM '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\[[^]/?#]*\]|[^:/?#]*)')), '.'), '[]')
$$;

-- Each block names its host, to be listed and lifted by it (`samspil webhooks blocks|unblock`)
-- also once its endpoint is deleted.
ALTER TABLE webhook_operator_block ADD COLUMN host text GENERATED ALWAYS AS (webhook_url_host(url)) STORED;
CREATE INDEX webhook_operator_block_by_host ON webhook_operator_block (provider_id, host);

-- No delivery is made to an endpoint at a host blocked for its provider (the workers' claim
-- skips those already pending, until the block is lifted).
CREATE OR REPLACE FUNCTION webhook_deliveries_for_feed_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    message uuid;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM webhook_endpoint e
        WHERE e.provider_id = NEW.provider_id AND e.disabled_at IS NULL AND NEW.kind = ANY (e.event_kinds)
        AND NOT EXISTS (
            SELECT 1 FROM webhook_operator_block b
            WHERE b.provider_id = e.provider_id AND b.host = webhook_url_host(e.url)
        )
    ) OR NOT EXISTS (
        SELECT 1 FROM provider_client WHERE provider_id = NEW.provider_id AND disabled_at IS NULL
    ) THEN
        RETURN NULL;
    END IF;
    message := gen_random_uuid();
    INSERT INTO webhook_message (message_id, provider_id, kind, referral_id, submission_id, data, at)
    VALUES (message, NEW.provider_id, NEW.kind, NEW.referral_id, NEW.submission_id, NEW.data, NEW.at);
    INSERT INTO webhook_delivery (delivery_id, endpoint_id, message_id, ordering_key)
    SELECT gen_random_uuid(), e.endpoint_id, message, COALESCE(NEW.referral_id::text, message::text)
    FROM webhook_endpoint e
    WHERE e.provider_id = NEW.provider_id AND e.disabled_at IS NULL AND NEW.kind = ANY (e.event_kinds)
    AND NOT EXISTS (
        SELECT 1 FROM webhook_operator_block b
        WHERE b.provider_id = e.provider_id AND b.host = webhook_url_host(e.url)
    )
    ORDER BY e.endpoint_id;
    RETURN NULL;
END;
$$;
