"""The operator's webhook block: found and lifted by host, and covering every endpoint there."""

from __future__ import annotations

import uuid

from provider_gateway import admin
from tests.integration.test_gateway_webhooks import (  # noqa: F401 (fixtures)
    Provider,
    gateway_pool,
    gateway_url,
    provider,
    receiver,
)
from tests.support import WebhookReceiver as Receiver


async def test_an_operator_can_find_the_block_left_by_a_deleted_endpoint_to_lift_it(
    provider: Provider,  # noqa: F811 (the fixtures imported above)
    receiver: Receiver,  # noqa: F811
) -> None:
    """The block outlives the endpoint and is lifted only by `samspil webhooks enable <id>` with
    the deleted endpoint's id. But `samspil webhooks list` reads webhook_endpoint only, and the
    provider's 409 blocked-by-operator names only the reason: once the provider deleted the
    endpoint, nothing the operator or the provider can see names the id, so the host stays
    blocked for the provider for good (short of SQL on the gateway's database)."""
    blocked = uuid.UUID((await provider.register(receiver.url))["endpoint_id"])
    async with provider.pool.acquire() as conn:
        assert await admin.disable_webhook_endpoint(conn, blocked, "sends the feed to a third party")
    assert (await provider.http.delete(f"/v1/webhooks/{blocked}")).status_code == 204
    refused = await provider.http.post(
        "/v1/webhooks", json={"url": receiver.url, "event_kinds": ["referral-requested"]}
    )
    assert refused.status_code == 409

    async with provider.pool.acquire() as conn:
        listed = await admin.webhook_endpoints(conn, provider.provider_id)
    shown = str(listed) + refused.text
    assert str(blocked) in shown, "no operator-visible listing names the block, so it cannot be lifted"


async def test_an_operator_block_stops_deliveries_to_every_endpoint_at_the_blocked_host(
    provider: Provider,  # noqa: F811 (the fixtures imported above)
    receiver: Receiver,  # noqa: F811
) -> None:
    """The block is said to cover the host for the provider, but it is checked only when a URL is
    registered or changed: a second endpoint the provider registered at the same host before the
    operator acted keeps receiving the feed (and the first can simply be deleted)."""
    first = uuid.UUID((await provider.register(receiver.url))["endpoint_id"])
    await provider.register(receiver.url + "/second")
    async with provider.pool.acquire() as conn:
        assert await admin.disable_webhook_endpoint(conn, first, "sends the feed to a third party")

    await provider.feed("referral-requested", uuid.uuid4())
    await provider.round()

    assert receiver.requests == [], "the operator-blocked host still receives the feed"
