"""The gateway's clock: it only purges what is kept for a bounded time (idempotency keys, webhook
deliveries and the messaging tables), checked by every replica."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import asyncpg

from provider_gateway.adapters.retention import purge_idempotency_keys, purge_webhook_deliveries
from provider_gateway.settings import GatewaySettings
from samspil.runtime import retention


def retention_worker(settings: GatewaySettings) -> Callable[[asyncpg.Pool], Coroutine[Any, Any, None]]:
    keep = timedelta(hours=settings.idempotency_key_retention_hours)
    keep_deliveries = timedelta(days=settings.webhook_delivery_retention_days)

    async def idempotency_keys(pool: asyncpg.Pool) -> dict[str, retention.Purged]:
        return {"idempotency_key": await purge_idempotency_keys(pool, keep, settings.retention_batch_size)}

    async def webhook_deliveries(pool: asyncpg.Pool) -> dict[str, retention.Purged]:
        return await purge_webhook_deliveries(pool, keep_deliveries, settings.retention_batch_size)

    return retention.worker(settings, idempotency_keys, webhook_deliveries)
