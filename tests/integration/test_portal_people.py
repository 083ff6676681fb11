"""The provider portal's built-in user store and its audit rows, on the real PostgreSQL: a
password is stored only as an argon2 hash and shown once, a person belongs to one provider, and
`audit` writes a row in the gateway's audit chain naming the person."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace

import asyncpg
import pytest
from argon2 import PasswordHasher
from starlette.requests import Request

from provider_gateway.portal import people
from provider_gateway.portal.web import Person, audit
from samspil.runtime.db import create_pool, migrate
from tests.infra import Infra


@pytest.fixture
async def gateway_pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(infra.create_database("portal"))
    await migrate(pool, "samspil.runtime.migrations", "provider_gateway.migrations")
    try:
        yield pool
    finally:
        await pool.close()


async def test_a_password_is_kept_only_as_an_argon2_hash_and_can_be_replaced(
    gateway_pool: asyncpg.Pool,
) -> None:
    async with gateway_pool.acquire() as conn:
        first = await people.add_person(conn, "aktivcenter-nord", "Ida@Example.org", "Ida Ibsen")
        stored = await conn.fetchval(
            "SELECT password_hash FROM portal_person WHERE email = 'Ida@Example.org'"
        )
        assert first not in stored and stored.startswith("$argon2id$")
        assert PasswordHasher().verify(stored, first)
        assert await people.password_matches(stored, first)
        assert not await people.password_matches(stored, first + "x")
        assert not await people.password_matches(None, first)

        # The same person (any case of the address) gets a new password; the old one stops working.
        second = await people.add_person(
            conn, "aktivcenter-nord", "ida@example.org", password="a chosen password"
        )
        assert second == "a chosen password"
        stored = await conn.fetchval("SELECT password_hash FROM portal_person")
        assert await people.password_matches(stored, second) and not await people.password_matches(
            stored, first
        )
        assert await conn.fetchval("SELECT count(*) FROM portal_person") == 1


async def test_a_person_belongs_to_one_provider_and_needs_a_long_password(gateway_pool: asyncpg.Pool) -> None:
    async with gateway_pool.acquire() as conn:
        await people.add_person(conn, "aktivcenter-nord", "jon@example.org")
        with pytest.raises(ValueError, match="another provider"):
            await people.add_person(conn, "dagcenter-syd", "jon@example.org")
        with pytest.raises(people.WeakPassword):
            await people.add_person(conn, "aktivcenter-nord", "kim@example.org", password="short")
        with pytest.raises(ValueError, match="e-mail"):
            await people.add_person(conn, "aktivcenter-nord", "not an address")
        assert await conn.fetchval("SELECT count(*) FROM portal_person") == 1


async def test_audit_writes_a_row_in_the_chain_naming_the_person(gateway_pool: asyncpg.Pool) -> None:
    app = SimpleNamespace(state=SimpleNamespace(runtime=SimpleNamespace(pool=gateway_pool)))
    request = Request(
        {
            "type": "http",
            "method": "POST",
            "path": "/portal/referrals/r-1/steps/accept",
            "query_string": b"",
            "headers": [(b"host", b"gateway")],
            "app": app,
            "state": {"citizen_ref": "ref-1"},
        }
    )
    person = Person(person_id=uuid.uuid4(), provider_id="aktivcenter-nord", email="a@b.dk", display_name="A")
    await audit(request, person, "accepted", "r-1")
    row = await gateway_pool.fetchrow("SELECT * FROM audit.audit_log")
    assert row is not None
    assert (row["client_id"], row["provider_id"], row["method"], row["citizen_ref"], row["outcome"]) == (
        "portal:a@b.dk",
        "aktivcenter-nord",
        "POST",
        "ref-1",
        "ok",
    )
    assert row["path"] == "/portal/referrals/r-1/steps/accept#accepted:r-1"
    assert row["chain_seq"] is not None and row["chain_hash"]
