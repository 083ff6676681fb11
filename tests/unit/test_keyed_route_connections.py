"""A department's Idempotency-Key route class takes a database connection only for a caller whose
token and role were verified."""

from __future__ import annotations

from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI

from samspil.runtime.auth import Caller, Role, TokenVerifier, caller_with, install_auth
from samspil.runtime.idempotency import KeyedRoute


class _CountingPool:
    def __init__(self) -> None:
        self.acquired = 0

    @asynccontextmanager
    async def acquire(self) -> Any:
        self.acquired += 1

        class _Transaction:
            async def start(self) -> None: ...
            async def rollback(self) -> None: ...
            async def commit(self) -> None: ...

        yield SimpleNamespace(transaction=_Transaction)


async def test_a_keyed_request_without_a_valid_token_takes_no_database_connection() -> None:
    """KeyedRoute acquires a pool connection and opens a transaction before the route's
    dependencies run, so token checks (a JWKS fetch of up to 5 s when the key id is unknown or the
    identity provider is slow) happen while holding it. Anyone who can reach a department API
    sends POSTs with any Idempotency-Key and a junk token: each holds one of the pool's 10
    connections, and every caseworker's request, GETs included, waits for the pool."""
    app = FastAPI()
    pool = _CountingPool()
    app.state.runtime = SimpleNamespace(pool=pool, settings=SimpleNamespace(dead_letter_key="k" * 32))
    install_auth(app, TokenVerifier(issuer="i", audience="a", secret="s" * 32))
    router = APIRouter(route_class=KeyedRoute)

    @router.post("/v1/things", status_code=201)
    async def make_thing(
        caller: Annotated[Caller, Depends(caller_with(Role.EMPLOYMENT_CASEWORKER))],
    ) -> dict[str, str]:
        return {"made": "yes"}

    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        refused = await http.post(
            "/v1/things", json={}, headers={"Idempotency-Key": "k1", "Authorization": "Bearer junk"}
        )
    assert refused.status_code == 401
    assert pool.acquired == 0, "an unauthenticated keyed request held a database connection"
