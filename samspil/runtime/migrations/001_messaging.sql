-- The reliable-messaging tables every service database has. Owned by the common runtime.

-- Transactional outbox: written in the same transaction as the state change that caused it.
-- seq gives the publish order; the key (citizen reference) keeps per-citizen order on Kafka.
CREATE TABLE IF NOT EXISTS outbox (
    seq             bigserial   PRIMARY KEY,
    event_id        text,
    event_type      text        NOT NULL,
    topic           text        NOT NULL,
    record_key      bytea,
    header_names    text[]      NOT NULL,
    header_values   bytea[]     NOT NULL,
    payload         bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Idempotent inbox: one row per (consumer, event id), inserted in the handler's transaction.
CREATE TABLE IF NOT EXISTS inbox (
    consumer        text        NOT NULL,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    processed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Messages a consumer gave up on, kept durably so they can be inspected and replayed even if
-- the broker forgets its dead-letter topic.
CREATE TABLE IF NOT EXISTS dead_letter (
    id              bigserial   PRIMARY KEY,
    consumer        text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    record_key      bytea,
    header_names    text[]      NOT NULL,
    header_values   bytea[]     NOT NULL,
    payload         bytea       NOT NULL,
    event_id        text,
    event_type      text,
    reason          text        NOT NULL,
    error           text        NOT NULL,
    attempts        integer     NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    replayed_at     timestamptz
);

-- What the relay last knew about the broker, to notice a broker that lost its memory.
CREATE TABLE IF NOT EXISTS relay_state (
    name            text        PRIMARY KEY,
    value           text        NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
