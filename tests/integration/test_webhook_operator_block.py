"""The operator's webhook block: found and lifted by host, and covering every endpoint there."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from provider_gateway import admin
from provider_gateway.adapters import webhook_sender
from samspil import cli
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


async def test_an_operator_lists_the_blocks_and_lifts_one_by_host_after_its_endpoint_is_deleted(
    provider: Provider,  # noqa: F811 (the fixtures imported above)
    receiver: Receiver,  # noqa: F811
    gateway_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocked = (await provider.register(receiver.url))["endpoint_id"]
    other = (await provider.register(receiver.url + "/other"))["endpoint_id"]
    monkeypatch.setenv("PROVIDER_GATEWAY_DATABASE_URL", gateway_url)
    disable = ["webhooks", "disable", blocked, "--reason", "sends the feed to a third party"]
    assert await asyncio.to_thread(cli.main, disable) == 0
    assert (await provider.http.delete(f"/v1/webhooks/{blocked}")).status_code == 204
    refused = await provider.http.post(
        "/v1/webhooks", json={"url": receiver.url, "event_kinds": ["referral-requested"]}
    )
    capsys.readouterr()
    assert await asyncio.to_thread(cli.main, ["webhooks", "blocks", "--provider", provider.provider_id]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    unblock = ["webhooks", "unblock", "--provider", provider.provider_id, "--host", "127.0.0.1"]
    assert await asyncio.to_thread(cli.main, unblock) == 0
    await provider.feed("referral-requested", uuid.uuid4())
    delivered = await provider.round()

    assert refused.status_code == 409
    assert (refused.json()["endpoint_id"], refused.json()["host"]) == (blocked, "127.0.0.1")
    assert [(row["endpoint_id"], row["host"], row["endpoint_exists"]) for row in listed] == [
        (blocked, "127.0.0.1", False)
    ]
    assert delivered == 1 and len(receiver.delivered()) == 1  # the other endpoint at the host
    assert (await provider.http.get(f"/v1/webhooks/{other}")).json()["enabled"] is True
    assert await asyncio.to_thread(cli.main, unblock) == 1  # nothing left to lift


async def test_a_delivery_whose_name_cannot_be_looked_up_now_is_postponed_not_counted(
    provider: Provider,  # noqa: F811 (the fixtures imported above)
    receiver: Receiver,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No resolver thread free (another provider's slow names): the attempt is not the endpoint's
    failure, and a registration is asked to try again (503) rather than refused (422)."""
    endpoint_id = (await provider.register(receiver.url))["endpoint_id"]

    async def busy(host: str, port: int, **_: object) -> list[str]:
        raise webhook_sender.ResolverBusy

    monkeypatch.setattr(webhook_sender, "resolve", busy)
    await provider.feed("referral-requested", uuid.uuid4())
    assert await provider.round() == 1
    again = await provider.http.post(
        "/v1/webhooks", json={"url": receiver.url + "/again", "event_kinds": ["referral-requested"]}
    )

    row = await provider.pool.fetchrow(
        "SELECT attempts, first_attempt_at, status, next_attempt_at > now() AS later FROM webhook_delivery"
        " WHERE endpoint_id = $1",
        uuid.UUID(endpoint_id),
    )
    assert row is not None and receiver.requests == []
    assert (row["attempts"], row["first_attempt_at"], row["status"], row["later"]) == (
        0,
        None,
        "pending",
        True,
    )
    assert (await provider.http.get(f"/v1/webhooks/{endpoint_id}")).json()["enabled"] is True
    assert again.status_code == 503 and again.headers["retry-after"]
    assert again.json()["type"].endswith("/try-again")
