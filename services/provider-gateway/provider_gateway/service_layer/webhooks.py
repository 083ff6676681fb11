"""Webhooks: a provider's endpoints, and the delivery of its feed to them from the outbox of
deliveries in the gateway's database.

Each replica's worker claims due deliveries (`adapters.webhooks.claim_due`: SKIP LOCKED, each
the earliest pending one for its referral at its endpoint, so a referral's events arrive in
order), sends them, and records the outcome. A claim moves the delivery's next attempt past the
attempt's longest time, so one claimed by a worker that then died is tried again after that; a
late outcome of an attempt another worker has repeated since is not recorded. A failed attempt
is tried again with exponential backoff; one that still fails a day (at least) after its first
attempt is given up and its endpoint disabled, the reason on the endpoint for the provider."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from provider_gateway.adapters import webhooks as store
from provider_gateway.adapters.webhook_sender import Outcome, WebhookSender, checked_target
from provider_gateway.domain.webhooks import (
    CONTENT_TYPE,
    RetryRule,
    SecretBox,
    cloud_event,
    new_signing_secret,
    signature,
)
from provider_gateway.settings import GatewaySettings
from samspil.runtime.db import Connection

log = structlog.get_logger("provider_gateway.webhooks")
USER_AGENT = "samspil-provider-gateway-webhooks/1"
POSTPONE = timedelta(seconds=30)  # a delivery not attempted (no resolver thread free) waits this long


class TooManyEndpoints(Exception):
    pass


class BlockedByOperator(Exception):
    """The URL's host is one an operator blocked for the provider (an endpoint there disabled by
    an operator, deleted since or not): the block's endpoint and host, to ask the operator about."""

    def __init__(self, reason: str, endpoint_id: uuid.UUID, host: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.endpoint_id = endpoint_id
        self.host = host


@dataclass(frozen=True)
class WebhookContext:
    """What the webhook work needs besides the database: the sealing of secrets, the rules on
    addresses and retries."""

    box: SecretBox
    local_mode: bool
    retry: RetryRule
    max_endpoints: int


async def check_url(context: WebhookContext, url: str, provider_id: str | None = None) -> None:
    """`RefusedUrl` unless the gateway would deliver to the URL now; `ResolverBusy` when its name
    cannot be looked up now (try again)."""
    await checked_target(url, local_mode=context.local_mode, owner=provider_id)


async def refuse_blocked(conn: Connection, provider_id: str, url: str) -> None:
    """`BlockedByOperator` when the URL's host is one an operator blocked for the provider."""
    block = await store.block_for_url(conn, provider_id, url)
    if block is not None:
        raise BlockedByOperator(block["reason"], block["endpoint_id"], block["host"])


async def register_endpoint(
    conn: Connection,
    context: WebhookContext,
    provider_id: str,
    url: str,
    event_kinds: list[str],
    description: str | None,
) -> tuple[asyncpg.Record, str]:
    """The new endpoint and its signing secret (shown once), in the caller's transaction, the
    URL checked already (`check_url`). `TooManyEndpoints` (counted under a lock per provider,
    so registrations at once cannot pass the limit together); `BlockedByOperator`."""
    await store.lock_provider_endpoints(conn, provider_id)
    await refuse_blocked(conn, provider_id, url)
    if await store.count_endpoints(conn, provider_id) >= context.max_endpoints:
        raise TooManyEndpoints
    endpoint_id = uuid.uuid4()
    secret = new_signing_secret()
    row = await store.insert_endpoint(
        conn, endpoint_id, provider_id, url, event_kinds, description, context.box.seal(endpoint_id, secret)
    )
    log.info("webhook endpoint registered", endpoint_id=str(endpoint_id), provider_id=provider_id)
    return row, secret


async def rotate_secret(
    conn: Connection, context: WebhookContext, endpoint_id: uuid.UUID, provider_id: str
) -> str | None:
    """A new signing secret, in force for the next attempt; None when no such endpoint."""
    secret = new_signing_secret()
    if not await store.replace_secret(conn, endpoint_id, provider_id, context.box.seal(endpoint_id, secret)):
        return None
    log.info("webhook secret rotated", endpoint_id=str(endpoint_id), provider_id=provider_id)
    return secret


def signed_headers(secret: str, message_id: uuid.UUID, body: bytes, now: float) -> dict[str, str]:
    timestamp = int(now)
    return {
        "content-type": CONTENT_TYPE,
        "user-agent": USER_AGENT,
        "webhook-id": str(message_id),
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, str(message_id), timestamp, body),
    }


def lease(timeout_seconds: float) -> timedelta:
    """How long a claim holds: well past the attempt's own time limit."""
    return timedelta(seconds=timeout_seconds * 3 + 30)


async def deliver_due(
    pool: asyncpg.Pool, sender: WebhookSender, context: WebhookContext, batch_size: int
) -> int:
    """Attempt the deliveries due now, at most ``batch_size`` at once; how many were attempted."""
    claimed = await store.claim_due(pool, batch_size, lease(sender.timeout))
    if not claimed:
        return 0
    outcomes = await asyncio.gather(*(_attempt(sender, context, row) for row in claimed))
    for row, outcome in zip(claimed, outcomes, strict=True):
        await _record(pool, context, row, outcome)
    return len(claimed)


async def _attempt(sender: WebhookSender, context: WebhookContext, row: asyncpg.Record) -> Outcome:
    try:
        secret = context.box.open(row["endpoint_id"], row["secret_sealed"])
    except Exception:
        # A sealed secret that does not open: the key changed (see the webhook secret key).
        return Outcome(False, None, "the endpoint's secret cannot be read; rotate the secret")
    body = cloud_event(
        row["message_id"],
        row["kind"],
        row["referral_id"],
        row["submission_id"],
        _data(row["data"]),
        row["at"],
    )
    headers = signed_headers(secret, row["message_id"], body, time.time())
    return await sender.send(row["url"], headers, body, owner=row["provider_id"])


def _data(raw: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(raw)
    return data


async def _record(pool: asyncpg.Pool, context: WebhookContext, row: asyncpg.Record, outcome: Outcome) -> None:
    fields = {
        "delivery_id": str(row["delivery_id"]),
        "endpoint_id": str(row["endpoint_id"]),
        "webhook_id": str(row["message_id"]),
        "attempt": row["attempts"],
    }
    if outcome.delivered:
        await store.mark_delivered(
            pool, row["seq"], row["attempts"], outcome.status_code or 200, row["url"], outcome.address
        )
        log.info("webhook delivered", status_code=outcome.status_code, **fields)
        return
    if outcome.postponed:
        await store.postpone(pool, row["seq"], row["attempts"], POSTPONE)
        log.info("webhook attempt postponed", reason=outcome.error, **fields)
        return
    error = outcome.error or "failed"
    attempted_at: datetime = row["last_attempt_at"]
    if context.retry.gives_up(row["first_attempt_at"], attempted_at):
        async with pool.acquire() as conn, conn.transaction():
            given_up = await _give_up(conn, row, outcome, context)
        if given_up:
            log.warning("webhook delivery given up, endpoint disabled", error=error, **fields)
        return
    retry_in = context.retry.delay(row["attempts"])
    await store.mark_failed_attempt(
        pool, row["seq"], row["attempts"], outcome.status_code, error, retry_in, row["url"], outcome.address
    )
    log.info("webhook attempt failed", error=error, retry_in_seconds=retry_in.total_seconds(), **fields)


async def _give_up(conn: Connection, row: asyncpg.Record, outcome: Outcome, context: WebhookContext) -> bool:
    hours = context.retry.give_up_after.total_seconds() / 3600
    reason = (
        f"Disabled after delivery {row['delivery_id']} failed for {hours:g} hours "
        f"({row['attempts']} attempts); last: {outcome.error}. Fix the endpoint, then enable it "
        "(PATCH with enabled true); what happened meanwhile is in the feed."
    )
    return await store.give_up(
        conn,
        row["seq"],
        row["attempts"],
        outcome.status_code,
        outcome.error or "failed",
        reason,
        row["url"],
        outcome.address,
    )


def context_from(settings: GatewaySettings) -> WebhookContext:
    key = (
        settings.webhook_secret_key.get_secret_value()
        if settings.webhook_secret_key
        else settings.token_secret
    )
    return WebhookContext(
        box=SecretBox(key),
        local_mode=settings.webhook_local_mode,
        retry=RetryRule(
            base=timedelta(seconds=settings.webhook_retry_base_seconds),
            longest=timedelta(seconds=settings.webhook_retry_max_seconds),
            give_up_after=timedelta(hours=settings.webhook_give_up_hours),
        ),
        max_endpoints=settings.webhook_max_endpoints,
    )


def delivery_worker(
    settings: GatewaySettings, context: WebhookContext
) -> Callable[[asyncpg.Pool], Coroutine[Any, Any, None]]:
    async def run(pool: asyncpg.Pool) -> None:
        sender = WebhookSender(timeout=settings.webhook_timeout_seconds, local_mode=context.local_mode)
        await run_deliveries(
            pool, sender, context, settings.webhook_batch_size, settings.webhook_poll_seconds
        )

    return run


async def run_deliveries(
    pool: asyncpg.Pool, sender: WebhookSender, context: WebhookContext, batch_size: int, poll_seconds: float
) -> None:
    """The worker: deliver what is due, again at once while there was a full batch, else after a
    pause. A failing round (the database away) is logged and tried again."""
    try:
        while True:
            try:
                attempted = await deliver_due(pool, sender, context, batch_size)
            except Exception as error:
                # The database away, or a bug: the claims run out and are tried again.
                log.warning("webhook deliveries round failed", error=type(error).__name__)
                attempted = 0
            if attempted < batch_size:
                await asyncio.sleep(poll_seconds)
    finally:
        await sender.close()
