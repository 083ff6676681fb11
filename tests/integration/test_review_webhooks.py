"""Review (rev2): webhook guarantees that do not hold yet, on the real PostgreSQL and a real
receiver. Fixtures are the webhook integration tests' own."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import asyncpg

from provider_gateway import admin
from provider_gateway.adapters import webhooks as store
from tests.integration.test_gateway_webhooks import (  # noqa: F401 - fixtures
    Provider,
    Receiver,
    gateway_pool,
    gateway_url,
    provider,
    receiver,
)


async def test_a_provider_whose_clients_are_all_disabled_is_pushed_nothing_more(
    provider: Provider, receiver: Receiver
) -> None:
    """`samspil provider disable` cuts a provider off (every token refused at once). Its webhook
    endpoints are left enabled, the trigger keeps making deliveries for them, and the worker keeps
    pushing the feed (new referrals, cancellations with the jobcenter's free-text reason) to a
    provider that may no longer see any of it."""
    await provider.register(receiver.url)
    async with provider.pool.acquire() as conn:
        for client_id in await conn.fetch(
            "SELECT client_id FROM provider_client WHERE provider_id = $1", provider.provider_id
        ):
            assert await admin.disable_client(conn, client_id["client_id"])
    assert (await provider.http.get("/v1/webhooks")).status_code == 401  # cut off from the API

    await provider.feed("referral-cancelled", uuid.uuid4(), {"reason": "borgeren er indlagt"})
    await provider.round()

    assert receiver.requests == [], "a disabled provider was pushed a feed entry"


async def test_a_webhook_change_whose_audit_row_cannot_be_written_changes_nothing(
    provider: Provider, receiver: Receiver, gateway_pool: asyncpg.Pool
) -> None:
    """README: 'A gateway request's row commits in the same transaction as its work; if it cannot
    be written the caller gets 503 and nothing changes.' The webhook routes write on the pool
    (autocommit) and leave the row to the AuditTrail gate, written after the work committed:
    the provider is told 503 'nothing was done', yet the endpoint exists (with a secret it never
    saw), and no audit row says who registered it."""
    async with gateway_pool.acquire() as conn:
        await conn.execute("ALTER TABLE audit.audit_log RENAME TO audit_log_away")
    try:
        answer = await provider.http.post(
            "/v1/webhooks", json={"url": receiver.url, "event_kinds": ["referral-requested"]}
        )
    finally:
        async with gateway_pool.acquire() as conn:
            await conn.execute("ALTER TABLE audit.audit_log_away RENAME TO audit_log")
    assert answer.status_code == 503
    assert "nothing was done" in answer.json()["title"]
    made = await gateway_pool.fetchval(
        "SELECT count(*) FROM webhook_endpoint WHERE provider_id = $1", provider.provider_id
    )
    assert made == 0, "the endpoint was registered although the caller was told nothing was done"


async def test_concurrent_registrations_do_not_pass_the_endpoint_limit(provider: Provider, receiver: Receiver) -> None:
    """count_endpoints then insert_endpoint, two statements on the pool with no lock: registrations
    sent at once all see a count under the limit (each endpoint multiplies every feed entry)."""
    limit = provider.context.max_endpoints
    answers = await asyncio.gather(
        *(
            provider.http.post("/v1/webhooks", json={"url": receiver.url, "event_kinds": ["referral-requested"]})
            for _ in range(limit * 2)
        )
    )
    made = await provider.pool.fetchval(
        "SELECT count(*) FROM webhook_endpoint WHERE provider_id = $1", provider.provider_id
    )
    assert made <= limit, f"{made} endpoints for a limit of {limit} ({[a.status_code for a in answers]})"


async def test_an_endpoint_an_operator_disabled_cannot_be_put_back_by_deleting_and_registering_it(
    provider: Provider, receiver: Receiver
) -> None:
    """The operator's disable is meant to stick until an operator lifts it (409 on PATCH). The
    provider deletes the endpoint and registers the same URL again: deliveries resume at once, and
    the operator's reason is gone with the deleted row."""
    endpoint_id = uuid.UUID((await provider.register(receiver.url))["endpoint_id"])
    assert await store.disable_by_operator(provider.pool, endpoint_id, "sends the feed to a third party")

    assert (await provider.http.delete(f"/v1/webhooks/{endpoint_id}")).status_code == 204
    again = await provider.http.post(
        "/v1/webhooks", json={"url": receiver.url, "event_kinds": ["referral-requested"]}
    )
    await provider.feed("referral-requested", uuid.uuid4())
    await provider.round()

    assert again.status_code != 201 or receiver.requests == [], (
        "the URL an operator blocked gets deliveries again after a delete and a new registration"
    )


async def test_enabling_an_enabled_endpoint_does_not_restart_the_day_before_giving_up(
    provider: Provider, receiver: Receiver
) -> None:
    """PATCH {"enabled": true} on an endpoint that is already enabled still runs resume_pending:
    every pending delivery is due at once and its first attempt forgotten, so a provider (or a
    script retrying its PATCH) keeps a failing endpoint from ever being given up, and makes the
    workers send its whole backlog again on every call."""
    endpoint_id = (await provider.register(receiver.url))["endpoint_id"]
    await provider.feed("referral-requested", uuid.uuid4())
    receiver.script = ["fail"] * 10
    await provider.round()
    await provider.move_clock(first=timedelta(hours=23))
    enabled = await provider.http.patch(f"/v1/webhooks/{endpoint_id}", json={"enabled": True})
    assert enabled.status_code == 200
    await provider.move_clock(first=timedelta(hours=2))  # 25 hours since the first attempt
    await provider.round()

    shown = (await provider.http.get(f"/v1/webhooks/{endpoint_id}")).json()
    assert shown["enabled"] is False, "a delivery failing for 25 hours was not given up"
