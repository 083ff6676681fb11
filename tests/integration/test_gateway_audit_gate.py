"""The gateway's audit gate on the real PostgreSQL, around small ASGI apps: an app that fails
still answers 500 only after its row is written, and when no row can be written the caller gets
503 and none of the app's own answer."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx

from provider_gateway.entrypoints.guards import AuditTrail


def gated(app: Any, pool: asyncpg.Pool) -> httpx.AsyncClient:
    holder = SimpleNamespace(state=SimpleNamespace(runtime=SimpleNamespace(pool=pool)))

    async def with_app(scope: Any, receive: Any, send: Any) -> None:
        scope["app"] = holder
        scope.setdefault("state", {})["provider_id"] = "aktivcenter-nord"
        await AuditTrail(app)(scope, receive, send)

    transport = httpx.ASGITransport(app=with_app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


async def failing_app(scope: Any, receive: Any, send: Any) -> None:
    raise RuntimeError("a bug")


async def streaming_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"secret ", "more_body": True})
    await send({"type": "http.response.body", "body": b"referral data"})


async def test_an_app_that_fails_answers_500_after_its_audit_row(gateway_pool: asyncpg.Pool) -> None:
    async with gated(failing_app, gateway_pool) as client:
        response = await client.get("/v1/referrals")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    rows = await gateway_pool.fetch("SELECT provider_id, path, status, outcome FROM audit.audit_log")
    assert [tuple(row.values()) for row in rows] == [("aktivcenter-nord", "/v1/referrals", 500, "refused")]


async def test_no_part_of_an_answer_leaves_when_its_row_cannot_be_written(gateway_pool: asyncpg.Pool) -> None:
    async with gateway_pool.acquire() as conn:
        # Any failure to write will do: here the audit table is out of reach for a moment.
        await conn.execute("ALTER TABLE audit.audit_log RENAME TO audit_log_away")
    try:
        async with gated(streaming_app, gateway_pool) as client:
            response = await client.get("/v1/referrals")
    finally:
        async with gateway_pool.acquire() as conn:
            await conn.execute("ALTER TABLE audit.audit_log_away RENAME TO audit_log")
    assert response.status_code == 503
    assert response.json()["type"].endswith("audit-unavailable")
    assert "referral data" not in response.text
    async with gated(streaming_app, gateway_pool) as client:
        assert (await client.get("/v1/referrals")).text == "secret referral data"
    assert await gateway_pool.fetchval("SELECT count(*) FROM audit.audit_log") == 1


async def test_paths_outside_the_provider_api_are_not_audited(gateway_pool: asyncpg.Pool) -> None:
    async with gated(streaming_app, gateway_pool) as client:
        assert (await client.get("/healthz")).status_code == 200
    assert await gateway_pool.fetchval("SELECT count(*) FROM audit.audit_log") == 0
