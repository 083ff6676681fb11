"""A request the database rolled back for reasons of its own (a deadlock with another request,
a serialization failure, the connection lost) is answered 503 with Retry-After: it may be sent
again, and is never a 500."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from samspil.runtime.http import create_app
from samspil.runtime.service import ServiceRuntime
from samspil.runtime.settings import RuntimeSettings


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (asyncpg.DeadlockDetectedError("deadlock detected"), "contention"),
        (asyncpg.SerializationError("could not serialize access"), "contention"),
        (asyncpg.ConnectionDoesNotExistError("connection was closed"), "database-unavailable"),
    ],
)
async def test_a_request_the_database_rolled_back_is_answered_503_with_retry_after(
    error: Exception, kind: str
) -> None:
    settings = RuntimeSettings(database_url="postgresql://unused/unused", dead_letter_key="k" * 32)
    app = create_app(
        ServiceRuntime(name="refusals", settings=settings, migration_packages=[]), title="t", description="d"
    )

    @app.post("/work")
    async def work() -> None:
        raise error

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://s") as client:
        answer = await client.post("/work")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith(kind)
