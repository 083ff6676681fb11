"""Webhooks end to end inside the gateway, on the real PostgreSQL and a real HTTP receiver (a
server on a free port of this machine): a provider registers an endpoint through the API with its
own token; feed entries written by the gateway's handlers become deliveries in the same
transaction; the delivery worker's rounds (`deliver_due`, as each replica's worker runs it) send
them signed, in order per referral, retried with backoff and given up after a day. Time moves by
moving the delivery rows' times, never by sleeping."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import standardwebhooks

from provider_gateway import admin
from provider_gateway.adapters import webhooks as store
from provider_gateway.adapters.webhook_sender import WebhookSender
from provider_gateway.bootstrap import build_app
from provider_gateway.domain.credentials import TokenClaims, issue_token
from provider_gateway.domain.webhooks import FeedKind
from provider_gateway.service_layer import handlers
from provider_gateway.service_layer.webhooks import WebhookContext, deliver_due
from provider_gateway.settings import GatewaySettings
from samspil import cli
from samspil.runtime.db import migrate
from schemas.cpr import contains_cpr
from tests.infra import Infra
from tests.support import WebhookReceiver as Receiver
from tests.support import webhook_receiver

TOKEN_SECRET = "w" * 48
ATTEMPT_TIMEOUT = 1.0  # the receiver's "time out" answers never; this bounds the attempt


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def gateway_url(infra: Infra) -> str:
    return infra.create_database("gw")


@pytest.fixture
async def gateway_pool(gateway_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(gateway_url, min_size=1, max_size=6)
    assert pool is not None
    await migrate(pool, "samspil.runtime.migrations", "provider_gateway.migrations")
    try:
        yield pool
    finally:
        await pool.close()


class Provider:
    """A provider with a client and a token, calling the gateway's app (without its lifespan:
    the test runs the delivery rounds itself)."""

    def __init__(self, pool: asyncpg.Pool, *, local_mode: bool) -> None:
        self.settings = GatewaySettings(
            database_url="postgresql://unused/unused",
            token_secret=TOKEN_SECRET,
            dead_letter_key="d" * 32,
            webhook_local_mode=local_mode,
            webhook_timeout_seconds=ATTEMPT_TIMEOUT,
        )
        self.app = build_app(self.settings)
        self.app.state.runtime.pool = pool
        self.pool = pool
        self.provider_id = f"aktivcenter-{uuid.uuid4().hex[:6]}"
        self.context: WebhookContext = self.app.state.webhooks
        self.sender = WebhookSender(timeout=ATTEMPT_TIMEOUT, local_mode=local_mode)

    async def start(self) -> None:
        async with self.pool.acquire() as conn:
            client_id, _ = await admin.add_provider(conn, self.provider_id)
        token = issue_token(TokenClaims(client_id, self.provider_id, int(time.time()) + 900), TOKEN_SECRET)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://gateway",
            headers={"authorization": f"Bearer {token}"},
        )

    async def register(self, url: str, kinds: list[str] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            "/v1/webhooks",
            json={"url": url, "event_kinds": kinds or ["referral-requested", "referral-cancelled"]},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def feed(self, kind: str, referral_id: uuid.UUID, data: dict[str, Any] | None = None) -> None:
        """A feed entry as the gateway's handlers write one, in a transaction of its own."""
        async with self.pool.acquire() as conn, conn.transaction():
            await handlers._to_feed(
                conn, self.provider_id, FeedKind(kind), referral_id=referral_id, data=data
            )

    async def round(self) -> int:
        return await deliver_due(self.pool, self.sender, self.context, batch_size=20)

    async def deliveries(self, endpoint_id: str) -> list[dict[str, Any]]:
        response = await self.http.get(f"/v1/webhooks/{endpoint_id}/deliveries")
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def move_clock(self, **back: timedelta) -> None:
        """Make every pending delivery due now, and move its first attempt back by ``first``."""
        await self.pool.execute(
            "UPDATE webhook_delivery SET next_attempt_at = now(),"
            " first_attempt_at = first_attempt_at - $1::interval WHERE status = 'pending'",
            back.get("first", timedelta(0)),
        )


async def _provider(pool: asyncpg.Pool, *, local_mode: bool = True) -> AsyncIterator[Provider]:
    provider = Provider(pool, local_mode=local_mode)
    await provider.start()
    try:
        yield provider
    finally:
        await provider.http.aclose()
        await provider.sender.close()


@pytest.fixture
async def provider(gateway_pool: asyncpg.Pool) -> AsyncIterator[Provider]:
    async for provider in _provider(gateway_pool):
        yield provider


@pytest.fixture
async def guarded(gateway_pool: asyncpg.Pool) -> AsyncIterator[Provider]:
    """A provider on a gateway outside local mode: https and public addresses only."""
    async for provider in _provider(gateway_pool, local_mode=False):
        yield provider


def _event(body: bytes) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(body)
    return event


async def test_a_delivery_that_fails_then_times_out_arrives_once_it_succeeds_in_order_and_signed(
    provider: Provider, receiver: Receiver
) -> None:
    endpoint = await provider.register(receiver.url)
    referral, other = uuid.uuid4(), uuid.uuid4()
    await provider.feed("referral-requested", referral)
    await provider.feed("referral-cancelled", referral, {"reason": "borgeren er flyttet"})
    await provider.feed("submission-final", other)  # a kind the endpoint did not ask for

    receiver.script = ["fail"]
    assert await provider.round() == 1  # the cancellation waits for the request before it
    first, cancellation = sorted(
        await provider.deliveries(endpoint["endpoint_id"]), key=lambda d: d["created_at"]
    )
    assert (first["status"], first["attempts"], first["last_status_code"]) == ("pending", 1, 500)
    assert cancellation["attempts"] == 0
    wait = await provider.pool.fetchval(
        "SELECT next_attempt_at - last_attempt_at FROM webhook_delivery WHERE delivery_id = $1",
        uuid.UUID(first["delivery_id"]),
    )
    assert wait == provider.context.retry.delay(1)
    assert await provider.round() == 0  # not due before its backoff has passed

    receiver.script = ["hang"]
    await provider.move_clock()
    assert await provider.round() == 1
    retried = next(
        d
        for d in await provider.deliveries(endpoint["endpoint_id"])
        if d["delivery_id"] == first["delivery_id"]
    )
    assert (retried["status"], retried["attempts"]) == ("pending", 2)
    assert "no answer" in retried["last_error"]

    await provider.move_clock()
    assert await provider.round() == 1
    assert await provider.round() == 1  # now the cancellation, its request delivered
    assert await provider.round() == 0

    delivered = receiver.delivered()
    assert [_event(body)["type"] for _, body in delivered] == [
        "dk.samspil.provider.feed.referral-requested.v1",
        "dk.samspil.provider.feed.referral-cancelled.v1",
    ]
    verifier = standardwebhooks.Webhook(endpoint["secret"])
    for headers, body in delivered:
        event = verifier.verify(body, headers)
        assert event["subject"] == f"referrals/{referral}"
        assert headers["content-type"] == "application/cloudevents+json"
        assert not contains_cpr(body.decode())
    # Every attempt at the first entry carried the same webhook-id, for the receiver to dedupe.
    attempts_at_first = [headers["webhook-id"] for headers, _, _ in receiver.requests[:3]]
    assert attempts_at_first == [first["webhook_id"]] * 3
    statuses = {d["delivery_id"]: d["status"] for d in await provider.deliveries(endpoint["endpoint_id"])}
    assert statuses == {first["delivery_id"]: "delivered", cancellation["delivery_id"]: "delivered"}


async def test_a_delivery_failing_for_a_day_is_given_up_and_its_endpoint_disabled_saying_why(
    provider: Provider, receiver: Receiver
) -> None:
    endpoint = await provider.register(receiver.url)
    endpoint_id = endpoint["endpoint_id"]
    referral = uuid.uuid4()
    await provider.feed("referral-requested", referral)
    await provider.feed("referral-cancelled", referral)
    receiver.script = ["fail"] * 3
    await provider.round()
    await provider.move_clock(first=timedelta(hours=23, minutes=59))
    await provider.round()
    assert (await provider.http.get(f"/v1/webhooks/{endpoint_id}")).json()["enabled"] is True

    await provider.move_clock(first=timedelta(minutes=1))  # 24 hours since the first attempt
    await provider.round()

    shown = (await provider.http.get(f"/v1/webhooks/{endpoint_id}")).json()
    assert (shown["enabled"], shown["disabled_by"]) == (False, "deliveries")
    assert "HTTP 500" in shown["disabled_reason"]
    assert "24 hours" in shown["disabled_reason"]
    statuses = [d["status"] for d in await provider.deliveries(endpoint_id)]
    assert sorted(statuses) == ["failed", "pending"]
    await provider.feed("referral-requested", uuid.uuid4())  # nothing for a disabled endpoint
    await provider.move_clock()
    assert await provider.round() == 0
    assert len(await provider.deliveries(endpoint_id)) == 2

    enabled = await provider.http.patch(f"/v1/webhooks/{endpoint_id}", json={"enabled": True})
    assert enabled.json()["enabled"] is True
    assert await provider.round() == 1  # the cancellation waited, and goes now
    assert [_event(body)["type"] for _, body in receiver.delivered()] == [
        "dk.samspil.provider.feed.referral-cancelled.v1"
    ]


async def test_an_endpoint_enabled_again_gets_a_new_day_of_retries(
    provider: Provider, receiver: Receiver
) -> None:
    endpoint_id = (await provider.register(receiver.url))["endpoint_id"]
    await provider.feed("referral-requested", uuid.uuid4())
    receiver.script = ["fail", "fail"]
    await provider.round()
    await provider.http.patch(f"/v1/webhooks/{endpoint_id}", json={"enabled": False})
    await provider.move_clock(first=timedelta(hours=24))  # a day passes while it is disabled
    await provider.http.patch(f"/v1/webhooks/{endpoint_id}", json={"enabled": True})

    assert await provider.round() == 1
    assert (await provider.http.get(f"/v1/webhooks/{endpoint_id}")).json()["enabled"] is True
    assert [d["status"] for d in await provider.deliveries(endpoint_id)] == ["pending"]


async def test_a_delivery_claimed_by_a_worker_that_died_is_tried_again(
    provider: Provider, receiver: Receiver
) -> None:
    await provider.register(receiver.url)
    await provider.feed("referral-requested", uuid.uuid4())
    # A worker claims it and dies before it sends or records anything.
    claimed = await store.claim_due(provider.pool, 10, timedelta(minutes=1))
    assert len(claimed) == 1
    assert await provider.round() == 0  # another replica leaves the claim alone while it holds

    await provider.move_clock()  # the claim has run out
    assert await provider.round() == 1
    assert len(receiver.delivered()) == 1
    row = await provider.pool.fetchrow("SELECT status, attempts FROM webhook_delivery")
    assert row is not None and (row["status"], row["attempts"]) == ("delivered", 2)


async def test_two_replicas_delivering_at_once_send_each_entry_once(
    gateway_pool: asyncpg.Pool, provider: Provider, receiver: Receiver
) -> None:
    await provider.register(receiver.url)
    for _ in range(8):
        await provider.feed("referral-requested", uuid.uuid4())
    other = WebhookSender(timeout=ATTEMPT_TIMEOUT, local_mode=True)
    try:
        counts = await asyncio.gather(
            deliver_due(gateway_pool, provider.sender, provider.context, batch_size=5),
            deliver_due(gateway_pool, other, provider.context, batch_size=5),
        )
    finally:
        await other.close()
    while await provider.round():
        pass
    ids = [headers["webhook-id"] for headers, _ in receiver.delivered()]
    assert sorted(counts) != [0, 0]
    assert len(ids) == len(set(ids)) == 8


async def test_a_provider_redelivers_an_entry_with_the_same_webhook_id_and_pages_its_deliveries(
    provider: Provider, receiver: Receiver
) -> None:
    endpoint = await provider.register(receiver.url)
    endpoint_id = endpoint["endpoint_id"]
    for _ in range(3):
        await provider.feed("referral-requested", uuid.uuid4())
    while await provider.round():
        pass
    first_page = (await provider.http.get(f"/v1/webhooks/{endpoint_id}/deliveries?limit=2")).json()
    assert len(first_page["items"]) == 2
    rest = await provider.http.get(
        f"/v1/webhooks/{endpoint_id}/deliveries", params={"cursor": first_page["next_cursor"]}
    )
    assert len(rest.json()["items"]) == 1 and rest.json()["next_cursor"] is None
    oldest = rest.json()["items"][0]

    again = await provider.http.post(
        f"/v1/webhooks/{endpoint_id}/deliveries/{oldest['delivery_id']}/redeliver"
    )
    assert again.status_code == 202, again.text
    assert (again.json()["status"], again.json()["webhook_id"]) == ("pending", oldest["webhook_id"])
    assert await provider.round() == 1
    assert receiver.delivered()[-1][0]["webhook-id"] == oldest["webhook_id"]

    unknown = await provider.http.post(f"/v1/webhooks/{endpoint_id}/deliveries/{uuid.uuid4()}/redeliver")
    assert unknown.status_code == 404


async def test_a_rotated_secret_signs_the_next_delivery_and_the_old_one_no_longer_does(
    provider: Provider, receiver: Receiver
) -> None:
    endpoint = await provider.register(receiver.url)
    rotated = await provider.http.post(f"/v1/webhooks/{endpoint['endpoint_id']}/rotate-secret")
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != endpoint["secret"]
    await provider.feed("referral-requested", uuid.uuid4())
    await provider.round()
    headers, body = receiver.delivered()[0]
    standardwebhooks.Webhook(new_secret).verify(body, headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(endpoint["secret"]).verify(body, headers)
    # Neither secret is stored as it was shown.
    stored = await provider.pool.fetchval("SELECT secret_sealed FROM webhook_endpoint")
    assert new_secret.encode() not in stored and new_secret.removeprefix("whsec_").encode() not in stored


async def test_a_provider_manages_its_endpoints_and_sees_no_other_providers(
    gateway_pool: asyncpg.Pool, provider: Provider, receiver: Receiver
) -> None:
    endpoint = await provider.register(receiver.url, ["submission-final"])
    endpoint_id = endpoint["endpoint_id"]
    listed = (await provider.http.get("/v1/webhooks")).json()
    assert [e["endpoint_id"] for e in listed["items"]] == [endpoint_id]
    assert "secret" not in listed["items"][0]

    changed = await provider.http.patch(
        f"/v1/webhooks/{endpoint_id}",
        json={"event_kinds": ["submission-decided"], "description": "sagssystem"},
    )
    assert (changed.json()["event_kinds"], changed.json()["description"]) == (
        ["submission-decided"],
        "sagssystem",
    )
    unknown_kind = await provider.http.patch(
        f"/v1/webhooks/{endpoint_id}", json={"event_kinds": ["everything"]}
    )
    assert unknown_kind.status_code == 422
    assert unknown_kind.json()["errors"][0]["field"].startswith("body.event_kinds")

    async for stranger in _provider(gateway_pool):
        assert (await stranger.http.get(f"/v1/webhooks/{endpoint_id}")).status_code == 404
        assert (await stranger.http.delete(f"/v1/webhooks/{endpoint_id}")).status_code == 404
        assert (await stranger.http.get("/v1/webhooks")).json()["items"] == []

    assert (await provider.http.delete(f"/v1/webhooks/{endpoint_id}")).status_code == 204
    assert (await provider.http.get(f"/v1/webhooks/{endpoint_id}")).status_code == 404


async def test_an_endpoint_an_operator_disabled_gets_nothing_and_the_provider_cannot_enable_it(
    provider: Provider,
    receiver: Receiver,
    gateway_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint = await provider.register(receiver.url)
    endpoint_id = endpoint["endpoint_id"]
    monkeypatch.setenv("PROVIDER_GATEWAY_DATABASE_URL", gateway_url)
    assert await asyncio.to_thread(cli.main, ["webhooks", "list", "--provider", provider.provider_id]) == 0
    # The CLI prints JSON lines; the gateway's own log lines go to the same captured stdout here.
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [row["endpoint_id"] for row in listed] == [endpoint_id]
    assert "secret_sealed" not in listed[0] and endpoint["secret"] not in str(listed)
    disable = ["webhooks", "disable", endpoint_id, "--reason", "answers with a login page"]
    assert await asyncio.to_thread(cli.main, disable) == 0

    await provider.feed("referral-requested", uuid.uuid4())
    assert await provider.round() == 0
    refused = await provider.http.patch(f"/v1/webhooks/{endpoint_id}", json={"enabled": True})
    assert refused.status_code == 409
    assert refused.json()["disabled_reason"] == "answers with a login page"
    shown = (await provider.http.get(f"/v1/webhooks/{endpoint_id}")).json()
    assert (shown["enabled"], shown["disabled_by"]) == (False, "operator")

    assert await asyncio.to_thread(cli.main, ["webhooks", "enable", endpoint_id]) == 0
    assert (await provider.http.get(f"/v1/webhooks/{endpoint_id}")).json()["enabled"] is True


async def test_outside_local_mode_an_endpoint_inside_the_network_or_without_https_is_refused(
    guarded: Provider,
) -> None:
    refused = [
        "https://127.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.8/hooks",
        "https://[::1]/hooks",
        "https://localhost/hooks",  # a name is refused by what it resolves to
        "http://hooks.example/hooks",
    ]
    for url in refused:
        response = await guarded.http.post(
            "/v1/webhooks", json={"url": url, "event_kinds": ["referral-requested"]}
        )
        assert response.status_code == 422, url
        assert response.json()["errors"][0]["field"] == "body.url"
    assert await guarded.pool.fetchval("SELECT count(*) FROM webhook_endpoint") == 0


async def test_a_name_that_resolves_to_a_private_address_at_delivery_gets_nothing(
    guarded: Provider, receiver: Receiver
) -> None:
    """DNS rebinding: the name was checked at registration; at delivery it resolves to loopback
    (as localhost does), and the delivery is refused before any connection."""
    endpoint_id = uuid.uuid4()
    await store.insert_endpoint(
        guarded.pool,
        endpoint_id,
        guarded.provider_id,
        f"https://localhost:{receiver.port}/hooks",
        ["referral-requested"],
        None,
        guarded.context.box.seal(endpoint_id, "whsec_" + "A" * 44),
    )
    await guarded.feed("referral-requested", uuid.uuid4())
    assert await guarded.round() == 1
    assert receiver.requests == []
    error = await guarded.pool.fetchval("SELECT last_error FROM webhook_delivery")
    assert "resolves to a non-public address" in error
    assert "127.0.0.1" not in error and "::1" not in error  # the address is never quoted


# --- guarantees a review found missing (rev2) --------------------------------------------------


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


async def test_concurrent_registrations_do_not_pass_the_endpoint_limit(
    provider: Provider, receiver: Receiver
) -> None:
    """count_endpoints then insert_endpoint, two statements on the pool with no lock: registrations
    sent at once all see a count under the limit (each endpoint multiplies every feed entry)."""
    limit = provider.context.max_endpoints
    answers = await asyncio.gather(
        *(
            provider.http.post(
                "/v1/webhooks", json={"url": receiver.url, "event_kinds": ["referral-requested"]}
            )
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


async def test_deliveries_queued_before_a_provider_is_disabled_wait_until_a_client_is_enabled(
    provider: Provider, receiver: Receiver
) -> None:
    """What was pending when every client was disabled is not sent meanwhile, nor lost: it goes
    once a client is enabled again, and the attempt records the URL and the address it went to."""
    endpoint = await provider.register(receiver.url)
    await provider.feed("referral-requested", uuid.uuid4())
    await provider.pool.execute(
        "UPDATE provider_client SET disabled_at = now() WHERE provider_id = $1", provider.provider_id
    )
    await provider.round()
    pending = await provider.pool.fetchrow(
        "SELECT status, attempts FROM webhook_delivery WHERE endpoint_id = $1",
        uuid.UUID(endpoint["endpoint_id"]),
    )
    assert receiver.requests == []
    assert pending is not None and (pending["status"], pending["attempts"]) == ("pending", 0)

    await provider.pool.execute(
        "UPDATE provider_client SET disabled_at = NULL WHERE provider_id = $1", provider.provider_id
    )
    await provider.round()
    sent = await provider.pool.fetchrow(
        "SELECT status, last_url, last_address FROM webhook_delivery WHERE endpoint_id = $1",
        uuid.UUID(endpoint["endpoint_id"]),
    )
    assert len(receiver.requests) == 1
    assert sent is not None
    assert (sent["status"], sent["last_url"], sent["last_address"]) == (
        "delivered",
        receiver.url,
        "127.0.0.1",
    )


async def test_an_operator_block_covers_the_host_until_the_operator_enables_the_endpoint(
    provider: Provider, receiver: Receiver
) -> None:
    """After the provider deleted the endpoint an operator disabled, another endpoint cannot be
    pointed at its host either; the operator's enable (by the deleted endpoint's id) lifts it."""
    blocked = uuid.UUID((await provider.register(receiver.url))["endpoint_id"])
    other = (await provider.register("http://127.0.0.2:9/elsewhere"))["endpoint_id"]
    async with provider.pool.acquire() as conn:
        assert await admin.disable_webhook_endpoint(conn, blocked, "sends the feed to a third party")
    assert (await provider.http.delete(f"/v1/webhooks/{blocked}")).status_code == 204

    moved = await provider.http.patch(f"/v1/webhooks/{other}", json={"url": receiver.url + "/other"})
    assert moved.status_code == 409
    assert moved.json()["disabled_reason"] == "sends the feed to a third party"

    async with provider.pool.acquire() as conn:
        assert await admin.enable_webhook_endpoint(conn, blocked)
    again = await provider.http.post(
        "/v1/webhooks", json={"url": receiver.url, "event_kinds": ["referral-requested"]}
    )
    assert again.status_code == 201


async def test_an_answer_that_shows_a_signing_secret_is_not_to_be_stored(
    provider: Provider, receiver: Receiver
) -> None:
    registered = await provider.http.post(
        "/v1/webhooks", json={"url": receiver.url, "event_kinds": ["referral-requested"]}
    )
    rotated = await provider.http.post(f"/v1/webhooks/{registered.json()['endpoint_id']}/rotate-secret")
    assert rotated.status_code == 200
    assert registered.headers["cache-control"] == rotated.headers["cache-control"] == "no-store"
