"""The provider API's rules, through the running gateway: idempotency, rate limit, body rules,
token expiry, the audit trail, the feed, and that a provider can do nothing with another
provider's referrals."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from provider_gateway.domain.credentials import TokenClaims, issue_token
from tests.e2e.conftest import RunningStack
from tests.e2e.test_first_flow import provider_client, refer, visible_to_provider
from tests.support import wait_for

pytestmark = pytest.mark.e2e


async def gateway_db(stack: RunningStack) -> asyncpg.Connection:
    return await asyncpg.connect(stack.env["PROVIDER_GATEWAY_DATABASE_URL"])


async def test_the_same_idempotency_key_returns_the_first_response_and_creates_nothing_new(
    running_stack: RunningStack,
) -> None:
    provider = f"idem-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        url = f"/v1/referrals/{referral_id}/absence-notices"
        headers = {"Idempotency-Key": "notice-2026-11-16"}
        first, again, *_ = await asyncio.gather(
            *(gateway.post(url, json={"absent_from": "2026-11-16"}, headers=headers) for _ in range(3))
        )
        assert first.status_code == again.status_code == 202
        assert first.json() == again.json()
        other_body = await gateway.post(url, json={"absent_from": "2026-11-17"}, headers=headers)
        assert other_body.status_code == 422 and other_body.json()["type"].endswith("idempotency-key-reused")
    conn = await gateway_db(running_stack)
    try:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM submission WHERE referral_id = $1", uuid.UUID(referral_id)
            )
            == 1
        )
    finally:
        await conn.close()


async def test_a_provider_sending_too_fast_gets_429_with_retry_after(running_stack: RunningStack) -> None:
    provider = f"hurtig-{uuid.uuid4().hex[:6]}"
    responses: list[httpx.Response] = []
    async with provider_client(running_stack, provider) as gateway:
        # The burst (60) and then more than the rate (20/s) refills: on a loaded machine the
        # answers may come slower than the refill, so bursts go on until one is refused (or ten).
        for _ in range(10):
            responses += await asyncio.gather(*(gateway.get("/v1/referrals") for _ in range(120)))
            if any(r.status_code == 429 for r in responses):
                break
    limited = [r for r in responses if r.status_code == 429]
    assert limited, "a burst beyond the limit must be refused"
    assert int(limited[0].headers["retry-after"]) >= 1
    assert all(r.status_code in (200, 429) for r in responses)


async def test_oversized_and_non_json_bodies_are_refused(running_stack: RunningStack) -> None:
    provider = f"krop-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        url = f"/v1/referrals/{referral_id}/absence-notices"
        big = await gateway.post(url, json={"absent_from": "2026-11-16", "comment": "x" * 70_000})
        assert big.status_code == 413
        json_type = {"content-type": "application/json"}
        streamed = await gateway.post(url, content=_chunks(b" " * 70_000, 1000), headers=json_type)
        assert streamed.status_code == 413
        small = await gateway.post(
            url, content=_chunks(b'{"absent_from": "2026-11-16"}', 7), headers=json_type
        )
        assert small.status_code == 202, small.text
        as_text = await gateway.post(
            url, content=b"absent_from=2026-11-16", headers={"content-type": "text/plain"}
        )
        assert as_text.status_code == 415 and as_text.json()["expected"] == "application/json"


async def test_an_expired_token_is_refused(running_stack: RunningStack) -> None:
    provider = f"udloebet-{uuid.uuid4().hex[:6]}"
    client_id, _ = running_stack.add_provider(provider)
    secret = running_stack.env["PROVIDER_GATEWAY_TOKEN_SECRET"]
    expired = issue_token(TokenClaims(client_id, provider, int(time.time()) - 1), secret)
    valid = issue_token(TokenClaims(client_id, provider, int(time.time()) + 60), secret)
    async with httpx.AsyncClient(base_url=running_stack.url("provider-gateway")) as client:
        assert (
            await client.get("/v1/referrals", headers={"authorization": f"Bearer {expired}"})
        ).status_code == 401
        assert (
            await client.get("/v1/referrals", headers={"authorization": f"Bearer {valid}"})
        ).status_code == 200


async def test_the_feed_lists_what_changed_for_the_provider_in_order(running_stack: RunningStack) -> None:
    provider = f"feed-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        submitted = await gateway.post(
            f"/v1/referrals/{referral_id}/absence-notices", json={"absent_from": "2026-11-16"}
        )
        async with running_stack.employment() as employment:
            await employment.post(
                f"/v1/referrals/{referral_id}/withdraw", json={"reason": "Flyttet til anden kommune."}
            )

        async def three_items() -> dict[str, Any] | None:
            page = (await gateway.get("/v1/feed")).json()
            return page if len(page["items"]) >= 3 else None

        page = await wait_for(three_items)
        assert [item["kind"] for item in page["items"]] == [
            "referral-requested",
            "submission-acknowledged",
            "referral-cancelled",
        ] or [item["kind"] for item in page["items"]] == [
            "referral-requested",
            "referral-cancelled",
            "submission-acknowledged",
        ]
        assert page["items"][0]["referral_id"] == referral_id
        assert submitted.json()["submission_id"] in {item["submission_id"] for item in page["items"]}
        later = (await gateway.get("/v1/feed", params={"cursor": page["next_cursor"]})).json()
        assert later["items"] == [] and later["next_cursor"] == page["next_cursor"]
        # Pollers of the first version page with ?after= and next_after, deprecated but kept.
        deprecated = (await gateway.get("/v1/feed", params={"after": page["next_after"]})).json()
        assert deprecated["items"] == [] and deprecated["next_after"] == page["next_after"]
        rest = (await gateway.get("/v1/feed", params={"after": page["items"][0]["seq"]})).json()
        assert rest["items"] == page["items"][1:]


async def test_provider_b_can_do_nothing_with_provider_as_referral_and_every_attempt_is_audited(
    running_stack: RunningStack,
) -> None:
    owner, intruder = f"ejer-{uuid.uuid4().hex[:6]}", f"ubuden-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, owner)
    async with provider_client(running_stack, owner) as owner_client:
        await wait_for(lambda: visible_to_provider(owner_client, referral_id))
        submission_id = (
            await owner_client.post(
                f"/v1/referrals/{referral_id}/absence-notices", json={"absent_from": "2026-11-16"}
            )
        ).json()["submission_id"]
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/v1/referrals/{referral_id}", None),
        ("GET", f"/v1/submissions/{submission_id}", None),
        *[
            ("POST", f"/v1/referrals/{referral_id}/{action}", {"reason": "x", "outcome": "x"})
            for action in ("accept", "reject", "start", "hold", "resume", "complete", "fail", "cancel")
        ],
        ("POST", f"/v1/referrals/{referral_id}/absence-notices", {"absent_from": "2026-11-16"}),
        (
            "POST",
            f"/v1/referrals/{referral_id}/progress-reports",
            {
                "period_from": "2026-12-01",
                "period_to": "2026-12-31",
                "progression": "some",
                "attendance_percent": 80,
                "summary": "Fint.",
                "recommendation": "continue",
            },
        ),
        (
            "POST",
            f"/v1/referrals/{referral_id}/readiness-reports",
            {"ready_for": "education", "justification": "Klar."},
        ),
        (
            "POST",
            f"/v1/referrals/{referral_id}/plan-change-requests",
            {
                "target_plan": "job-plan",
                "change_kind": "hours",
                "proposed_change": "Flere timer.",
                "reason": "Overskud.",
            },
        ),
    ]
    async with provider_client(running_stack, intruder) as other:
        for method, path, body in attempts:
            response = await other.request(method, path, json=body)
            assert response.status_code == 404, f"{method} {path}: {response.status_code}"
        listed = (await other.get("/v1/referrals")).json()["items"]
        assert referral_id not in {item["referral_id"] for item in listed}
    conn = await gateway_db(running_stack)
    try:
        denied = await conn.fetch(
            "SELECT method, path, outcome, status FROM audit.audit_log"
            " WHERE provider_id = $1 AND status = 404",
            intruder,
        )
        assert {(row["method"], row["path"]) for row in denied} == {(m, p) for m, p, _ in attempts}
        assert {row["outcome"] for row in denied} == {"denied"}
        # The gateway's role may only insert and read its audit trail (see test_audit_trail.py).
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM audit.audit_log WHERE provider_id = $1", intruder)
    finally:
        await conn.close()


async def test_failed_authentication_is_audited(running_stack: RunningStack) -> None:
    client_id = f"ukendt-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(base_url=running_stack.url("provider-gateway")) as anonymous:
        response = await anonymous.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "forkert"},
        )
        assert response.status_code == 401
    conn = await gateway_db(running_stack)
    try:
        row = await conn.fetchrow(
            "SELECT outcome, status FROM audit.audit_log WHERE client_id = $1", client_id
        )
        assert row is not None and row["status"] == 401 and row["outcome"] == "denied"
    finally:
        await conn.close()


async def test_a_rotated_secret_replaces_the_old_one(running_stack: RunningStack) -> None:
    provider = f"rotation-{uuid.uuid4().hex[:6]}"
    client_id, old_secret = running_stack.add_provider(provider)
    new_secret = running_stack.samspil("provider", "rotate", client_id).split("client_secret:")[1].split()[0]
    async with httpx.AsyncClient(base_url=running_stack.url("provider-gateway")) as client:

        async def token_with(secret: str) -> int:
            response = await client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
            )
            return response.status_code

        assert await token_with(old_secret) == 401
        assert await token_with(new_secret) == 200


async def _chunks(body: bytes, size: int) -> Any:
    """The body as a stream without a Content-Length (chunked transfer)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_a_post_without_an_idempotency_key_is_refused_naming_the_header(
    running_stack: RunningStack,
) -> None:
    provider = f"utennoegle-{uuid.uuid4().hex[:6]}"
    referral_id = await refer(running_stack, provider)
    async with provider_client(running_stack, provider) as gateway:
        await wait_for(lambda: visible_to_provider(gateway, referral_id))
        token = gateway.headers["authorization"]
    async with httpx.AsyncClient(base_url=running_stack.url("provider-gateway")) as client:
        response = await client.post(
            f"/v1/referrals/{referral_id}/absence-notices",
            json={"absent_from": "2026-11-16"},
            headers={"authorization": token},
        )
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["header.Idempotency-Key"]


async def test_callers_without_a_valid_token_are_limited_by_address(running_stack: RunningStack) -> None:
    async with httpx.AsyncClient(base_url=running_stack.url("provider-gateway")) as anonymous:
        responses = await asyncio.gather(*(anonymous.get("/v1/feed") for _ in range(60)))
    statuses = {response.status_code for response in responses}
    assert statuses == {401, 429}
    refused = next(response for response in responses if response.status_code == 401)
    assert refused.headers["www-authenticate"] == "Bearer"


async def test_token_answers_are_not_cached(running_stack: RunningStack) -> None:
    provider = f"cache-{uuid.uuid4().hex[:6]}"
    client_id, secret = running_stack.add_provider(provider)
    async with httpx.AsyncClient(base_url=running_stack.url("provider-gateway")) as client:
        response = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"


async def test_a_cpr_number_a_caller_types_does_not_reach_the_audit_trail(
    running_stack: RunningStack,
) -> None:
    provider = f"audit-{uuid.uuid4().hex[:6]}"
    async with provider_client(running_stack, provider) as gateway:
        assert (await gateway.get("/v1/referrals/010190-1234")).status_code == 422
    conn = await gateway_db(running_stack)
    try:
        paths = [
            row["path"]
            for row in await conn.fetch("SELECT path FROM audit.audit_log WHERE provider_id = $1", provider)
        ]
    finally:
        await conn.close()
    assert "/v1/referrals/[cpr-masked]" in paths
    assert not [path for path in paths if "010190-1234" in path]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"updated_since": "9999-12-31T23:59:59-14:00"}, "query.updated_since"),
        ({"updated_since": "2026-11-16T10:00:00"}, "query.updated_since"),
    ],
)
async def test_out_of_range_times_name_the_field(
    running_stack: RunningStack, params: dict[str, str], field: str
) -> None:
    async with provider_client(running_stack, f"tid-{uuid.uuid4().hex[:6]}") as gateway:
        response = await gateway.get("/v1/referrals", params=params)
        huge = await gateway.get("/v1/feed", params={"after": str(10**30)})
    assert response.status_code == 422 and [e["field"] for e in response.json()["errors"]] == [field]
    assert huge.status_code == 422 and [e["field"] for e in huge.json()["errors"]] == ["query.after"]
