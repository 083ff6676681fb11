"""Deleting what the gateway keeps only for a while."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from samspil.runtime.retention import Purged, purge_in_batches

_IDEMPOTENCY_KEYS = """
DELETE FROM idempotency_key WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM idempotency_key WHERE created_at < now() - $1::interval LIMIT $2))
"""


async def purge_idempotency_keys(pool: asyncpg.Pool, older_than: timedelta, batch_size: int) -> Purged:
    return await purge_in_batches(pool, _IDEMPOTENCY_KEYS, older_than, batch_size)


# Webhook deliveries delivered or given up, past their keeping (the provider lists recent ones),
# then the messages no delivery refers to any more.
_WEBHOOK_DELIVERIES = """
DELETE FROM webhook_delivery WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM webhook_delivery WHERE status <> 'pending' AND created_at < now() - $1::interval
    LIMIT $2))
"""
_WEBHOOK_MESSAGES = """
DELETE FROM webhook_message WHERE ctid = ANY(ARRAY(
    SELECT m.ctid FROM webhook_message m WHERE m.at < now() - $1::interval
    AND NOT EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.message_id = m.message_id) LIMIT $2))
"""


async def purge_webhook_deliveries(
    pool: asyncpg.Pool, older_than: timedelta, batch_size: int
) -> dict[str, Purged]:
    return {
        "webhook_delivery": await purge_in_batches(pool, _WEBHOOK_DELIVERIES, older_than, batch_size),
        "webhook_message": await purge_in_batches(pool, _WEBHOOK_MESSAGES, older_than, batch_size),
    }
