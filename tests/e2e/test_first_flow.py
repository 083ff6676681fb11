"""The first flow, end to end through the real broker and databases with every service in its
own process: a provider's absence notice becomes a caseworker task at the jobcenter."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import RunningStack
from tests.support import citizen_ref, samples, value, wait_for

pytestmark = pytest.mark.e2e


async def refer(stack: RunningStack, provider_id: str, subject: str | None = None) -> str:
    """Refer a citizen (a newly enrolled one unless given) to an offer at the provider."""
    subject = subject or await stack.enrol()
    async with stack.employment() as client:
        response = await client.post(
            "/v1/referrals",
            json={
                "citizen_ref": subject,
                "provider_id": provider_id,
                "offer": {
                    "kind": "activation",
                    "title": "Aktiveringsforløb, 10 timer om ugen",
                    "hours_per_week": 10,
                    "starts_on": "2026-12-01",
                    "expected_end_on": "2027-05-31",
                },
                "citizen_display_name": "Testborger Jensen",
                "jobcenter_contact": {"name": "Kim Testesen"},
            },
        )
    assert response.status_code == 201, response.text
    referral_id: str = response.json()["referral_id"]
    return referral_id


async def with_idempotency_key(request: httpx.Request) -> None:
    """As a provider's system would: every POST that has no key gets a fresh one."""
    if request.method == "POST" and "idempotency-key" not in request.headers:
        request.headers["Idempotency-Key"] = uuid.uuid4().hex


@contextlib.asynccontextmanager
async def provider_client(stack: RunningStack, provider_id: str) -> AsyncIterator[httpx.AsyncClient]:
    """A provider's HTTP client holding a bearer token from the client-credentials grant."""
    client_id, secret = stack.add_provider(provider_id)
    async with httpx.AsyncClient(
        base_url=stack.url("provider-gateway"), event_hooks={"request": [with_idempotency_key]}
    ) as client:
        response = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        )
        assert response.status_code == 200, response.text
        assert response.json()["expires_in"] <= 900
        client.headers["authorization"] = f"Bearer {response.json()['access_token']}"
        yield client


async def visible_to_provider(client: httpx.AsyncClient, referral_id: str) -> dict[str, Any] | None:
    response = await client.get(f"/v1/referrals/{referral_id}")
    return response.json() if response.status_code == 200 else None


async def test_absence_notice_from_provider_becomes_a_recontact_task_at_the_jobcenter(
    running_stack: RunningStack,
) -> None:
    provider = f"aktivcenter-{uuid.uuid4().hex[:6]}"
    subject = await running_stack.enrol()
    referral_id = await refer(running_stack, provider, subject)
    async with provider_client(running_stack, provider) as gateway:
        referral = await wait_for(lambda: visible_to_provider(gateway, referral_id))
        assert referral["citizen_display_name"] == "Testborger Jensen"
        assert "citizen_ref" not in referral and "cpr" not in str(referral).lower()

        response = await gateway.post(
            f"/v1/referrals/{referral_id}/absence-notices",
            json={
                "absent_from": "2026-11-16",
                "reason": "illness",
                "contact_attempts": [
                    {"on": "2026-11-17", "channel": "phone"},
                    {"on": "2026-11-18", "channel": "text-message"},
                ],
                "comment": "Ikke set siden mandag.",
            },
        )
        assert response.status_code == 202, response.text
        submission_id = response.json()["submission_id"]

    async with running_stack.employment() as employment:

        async def task() -> dict[str, Any] | None:
            tasks = (await employment.get("/v1/tasks", params={"citizen_ref": subject})).json()["items"]
            return tasks[0] if tasks else None

        created = await wait_for(task)
    assert created["kind"] == "recontact-citizen"
    assert created["status"] == "open"
    assert created["referral_id"] == referral_id
    assert created["provider_id"] == provider
    assert created["details"]["submission_id"] == submission_id
    assert created["details"]["contact_attempts"] == [
        {"on": "2026-11-17", "channel": "phone"},
        {"on": "2026-11-18", "channel": "text-message"},
    ]


async def test_invalid_absence_notice_is_refused_naming_each_field_and_writes_nothing(
    running_stack: RunningStack,
) -> None:
    provider = f"skole-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        response = await gateway.post(
            f"/v1/referrals/{referral_id}/absence-notices",
            json={
                "absent_from": "2026-11-16",
                "absent_to": "2026-11-10",
                "reason": "other",
                "contact_attempts": -1,
                "extra": 1,
            },
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        fields = {error["field"] for error in response.json()["errors"]}
        assert fields == {"body.absent_to", "body.reason_text", "body.contact_attempts", "body.extra"}
        # A valid notice afterwards is the only trace the referral leaves in the gateway.
        valid = await gateway.post(
            f"/v1/referrals/{referral_id}/absence-notices", json={"absent_from": "2026-11-16"}
        )
        assert valid.status_code == 202

    conn = await asyncpg.connect(running_stack.env["PROVIDER_GATEWAY_DATABASE_URL"])
    try:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM submission WHERE referral_id = $1", uuid.UUID(referral_id)
            )
            == 1
        )
        payloads = [bytes(row["payload"]) for row in await conn.fetch("SELECT payload FROM outbox")]
        assert len([payload for payload in payloads if referral_id.encode() in payload]) == 1
    finally:
        await conn.close()


async def test_provider_cannot_see_or_report_on_another_providers_referral(
    running_stack: RunningStack,
) -> None:
    owner, intruder = f"owner-{uuid.uuid4().hex[:6]}", f"other-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, owner)
    async with provider_client(running_stack, owner) as owner_client:
        await wait_for(lambda: visible_to_provider(owner_client, referral_id))
    async with provider_client(running_stack, intruder) as other:
        assert (await other.get(f"/v1/referrals/{referral_id}")).status_code == 404
        response = await other.post(
            f"/v1/referrals/{referral_id}/absence-notices", json={"absent_from": "2026-11-16"}
        )
        assert response.status_code == 404
        unknown = await other.get(f"/v1/referrals/{uuid.uuid4()}")
        assert unknown.status_code == 404 and unknown.json() == response.json()
        assert all(
            r["referral_id"] != referral_id for r in (await other.get("/v1/referrals")).json()["items"]
        )


async def test_requests_without_a_valid_token_are_refused(running_stack: RunningStack) -> None:
    async with httpx.AsyncClient(base_url=running_stack.url("provider-gateway")) as anonymous:
        assert (await anonymous.get("/v1/referrals")).status_code == 401
        forged = await anonymous.get("/v1/referrals", headers={"authorization": "Bearer eyJmYWtlIjoxfQ.c2ln"})
        assert forged.status_code == 401
        bad_secret = await anonymous.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
        )
        assert bad_secret.status_code == 401


async def test_a_disabled_client_loses_access_at_once(running_stack: RunningStack) -> None:
    provider = f"lukket-{uuid.uuid4().hex[:6]}"
    client_id, secret = running_stack.add_provider(provider)
    async with httpx.AsyncClient(base_url=running_stack.url("provider-gateway")) as client:
        token = (
            await client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
            )
        ).json()["access_token"]
        headers = {"authorization": f"Bearer {token}"}
        assert (await client.get("/v1/referrals", headers=headers)).status_code == 200
        running_stack.samspil("provider", "disable", client_id)
        assert (await client.get("/v1/referrals", headers=headers)).status_code == 401


async def test_hostile_input_gets_a_clear_4xx_never_a_500(running_stack: RunningStack) -> None:
    provider = f"nul-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        nul_comment = await gateway.post(
            f"/v1/referrals/{referral_id}/absence-notices",
            json={"absent_from": "2026-11-16", "comment": "a\u0000b"},
        )
        assert nul_comment.status_code == 422
        assert [error["field"] for error in nul_comment.json()["errors"]] == ["body.comment"]
    async with httpx.AsyncClient(base_url=running_stack.url("provider-gateway")) as anonymous:
        nul_client = await anonymous.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "a\u0000b", "client_secret": "x"},
        )
        assert nul_client.status_code == 400 and nul_client.json()["error"] == "invalid_request"
        odd_token = await anonymous.get("/v1/referrals", headers={b"authorization": "Bearer ab.cdé".encode()})
        assert odd_token.status_code == 401
    async with running_stack.employment() as employment:
        nul_query = await employment.get("/v1/tasks", params={"citizen_ref": "k1:\u0000"})
        assert nul_query.status_code == 422
        nul_title = await employment.post(
            "/v1/referrals",
            json={
                "citizen_ref": citizen_ref(),
                "provider_id": provider,
                "offer": {
                    "kind": "activation",
                    "title": "a\u0000b",
                    "hours_per_week": 10,
                    "starts_on": "2026-12-01",
                },
                "citizen_display_name": "Testborger",
                "jobcenter_contact": {"name": "Kim Testesen"},
            },
        )
        assert nul_title.status_code == 422


async def test_each_service_serves_its_asyncapi_document(running_stack: RunningStack) -> None:
    for service in ("provider-gateway", "employment", "social"):
        async with httpx.AsyncClient(base_url=running_stack.url(service)) as client:
            document = (await client.get("/asyncapi.json")).json()
            page = await client.get("/asyncapi")
        assert document["asyncapi"].startswith("3.")
        assert any(channel["address"].endswith(".v1") for channel in document["channels"].values())
        assert page.status_code == 200 and "asyncapi" in page.text.lower()


async def test_each_service_reports_prometheus_metrics_on_its_internal_port_only(
    running_stack: RunningStack,
) -> None:
    for service in ("provider-gateway", "employment", "social"):
        async with httpx.AsyncClient(base_url=running_stack.url(service)) as client:
            await client.get("/healthz")
            assert (await client.get("/metrics")).status_code == 404
        async with httpx.AsyncClient() as internal:
            metrics = await internal.get(running_stack.stack.metrics_url(service))
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        page = samples(metrics.text)
        assert value(page, "samspil_http_requests_total", method="GET", route="/healthz", status="200") >= 1
        assert (
            value(page, "samspil_http_request_duration_seconds_count", route="/healthz", status_class="2xx")
            >= 1
        )
        assert value(page, "samspil_database_up", service=service) == 1
        for gauge in ("samspil_outbox_pending", "samspil_outbox_parked", "samspil_dead_letters"):
            assert value(page, gauge, service=service) >= 0
