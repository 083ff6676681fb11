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
