-- Webhooks: a provider's HTTPS endpoints, and an outbox of deliveries to them. Each feed entry
-- a provider's endpoint asks for becomes a message and one delivery per such endpoint, in the
-- transaction that writes the feed entry (the trigger below), so nothing is pushed that was not
-- committed and nothing committed is left unpushed.
CREATE TABLE webhook_endpoint (
    endpoint_id      uuid        PRIMARY KEY,
    provider_id      text        NOT NULL,
    url              text        NOT NULL,
    event_kinds      text[]      NOT NULL,
    description      text,
    -- The signing secret, sealed (AES-GCM, bound to endpoint_id): it must sign again.
    secret_sealed    bytea       NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    disabled_at      timestamptz,
    disabled_by      text,       -- provider, operator or deliveries (given up after retries)
    disabled_reason  text
);
CREATE INDEX webhook_endpoint_by_provider ON webhook_endpoint (provider_id, created_at, endpoint_id);

-- A feed entry as pushed: one row however many endpoints receive it; its id is the CloudEvent's
-- id and the webhook-id header.
CREATE TABLE webhook_message (
    message_id     uuid        PRIMARY KEY,
    provider_id    text        NOT NULL,
    kind           text        NOT NULL,
    referral_id    uuid,
    submission_id  uuid,
    data           jsonb       NOT NULL,
    at             timestamptz NOT NULL
);

-- One message to one endpoint. Pending until delivered or given up (failed); claimed by a
-- worker by moving next_attempt_at past the attempt's longest time, so a worker that dies
-- mid-attempt leaves it to be tried again. Order per (endpoint, ordering_key): a delivery waits
-- while an earlier one for the same referral is pending.
CREATE TABLE webhook_delivery (
    seq               bigserial   PRIMARY KEY,
    delivery_id       uuid        NOT NULL UNIQUE,
    endpoint_id       uuid        NOT NULL REFERENCES webhook_endpoint (endpoint_id) ON DELETE CASCADE,
    message_id        uuid        NOT NULL REFERENCES webhook_message (message_id),
    ordering_key      text        NOT NULL,
    status            text        NOT NULL DEFAULT 'pending',
    attempts          integer     NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    first_attempt_at  timestamptz,
    last_attempt_at   timestamptz,
    last_status_code  integer,
    last_error        text,
    delivered_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now()
);
-- The workers' claim: what is due, and whether an earlier one for the same referral is pending.
CREATE INDEX webhook_delivery_due ON webhook_delivery (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_delivery_pending_in_order ON webhook_delivery (endpoint_id, ordering_key, seq)
    WHERE status = 'pending';
-- The provider's list of an endpoint's recent deliveries, newest first.
CREATE INDEX webhook_delivery_by_endpoint ON webhook_delivery (endpoint_id, seq);
CREATE INDEX webhook_delivery_by_message ON webhook_delivery (message_id);

-- On the feed row's insert, not on its position: how the feed numbers its rows may change.
CREATE FUNCTION webhook_deliveries_for_feed_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    message uuid;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM webhook_endpoint
        WHERE provider_id = NEW.provider_id AND disabled_at IS NULL AND NEW.kind = ANY (event_kinds)
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
CREATE TRIGGER provider_feed_webhooks AFTER INSERT ON provider_feed
    FOR EACH ROW EXECUTE FUNCTION webhook_deliveries_for_feed_entry();

-- Endpoints enabled, per provider: what the trigger asks on every feed entry.
CREATE INDEX webhook_endpoint_enabled ON webhook_endpoint (provider_id) WHERE disabled_at IS NULL;

-- Retention: deliveries done with, oldest first; messages by age.
CREATE INDEX webhook_delivery_done ON webhook_delivery (created_at) WHERE status <> 'pending';
CREATE INDEX webhook_message_age ON webhook_message (at);
