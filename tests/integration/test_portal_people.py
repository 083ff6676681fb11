"""The provider portal's built-in user store and its audit rows, on the real PostgreSQL: a
password is stored only as an argon2 hash and shown once, a person belongs to one provider, and
`audit` writes a row in the gateway's audit chain naming the person."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
from argon2 import PasswordHasher
from starlette.requests import Request

from provider_gateway import admin
from provider_gateway.adapters import portal_people
from provider_gateway.portal import auth, oidc, people
from provider_gateway.portal.web import Person, Refused, audit
from tests.oidc_provider import running_oidc_provider


async def _password_matches(password_hash: str | None, password: str) -> bool:
    async with people.checking():
        return await people.verify(password_hash, password)


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
        assert await _password_matches(stored, first)
        assert not await _password_matches(stored, first + "x")
        assert not await _password_matches(None, first)

        # The same person (any case of the address) gets a new password; the old one stops working.
        second = await people.add_person(
            conn, "aktivcenter-nord", "ida@example.org", password="a chosen password"
        )
        assert second == "a chosen password"
        stored = await conn.fetchval("SELECT password_hash FROM portal_person")
        assert await _password_matches(stored, second) and not await _password_matches(stored, first)
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


def test_a_new_hash_costs_what_owasp_recommends_and_an_old_costlier_one_still_verifies() -> None:
    fresh = people.hash_password("a passphrase long enough")
    assert fresh.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    made_before = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash("the old passphrase")
    assert asyncio.run(_password_matches(made_before, "the old passphrase"))


async def test_a_hash_made_at_the_old_cost_is_replaced_at_the_next_login(gateway_pool: asyncpg.Pool) -> None:
    async with gateway_pool.acquire() as conn:
        await people.add_person(conn, "aktivcenter-nord", "ida@example.org")
        old = PasswordHasher().hash("the old passphrase")  # argon2-cffi's defaults, as stored before
        await conn.execute("UPDATE portal_person SET password_hash = $1", old)
    settings = SimpleNamespace(portal_login_attempts=5, portal_lockout_minutes=15)
    request = SimpleNamespace(
        app=SimpleNamespace(
            state=SimpleNamespace(settings=settings, runtime=SimpleNamespace(pool=gateway_pool))
        )
    )
    assert await auth.authenticate(request, "ida@example.org", "the old passphrase") is not None  # type: ignore[arg-type]
    stored = await gateway_pool.fetchval("SELECT password_hash FROM portal_person")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await _password_matches(stored, "the old passphrase")


async def test_a_login_finding_every_password_check_taken_is_told_to_try_again(
    gateway_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logins never take more than CHECKS_AT_ONCE threads: one that finds them all taken (past
    its wait, here none) is refused with LoginBusy, and nothing is counted against the account."""
    async with gateway_pool.acquire() as conn:
        password = await people.add_person(conn, "aktivcenter-nord", "ida@example.org")
    settings = SimpleNamespace(portal_login_attempts=5, portal_lockout_minutes=15)
    request = SimpleNamespace(
        app=SimpleNamespace(
            state=SimpleNamespace(settings=settings, runtime=SimpleNamespace(pool=gateway_pool))
        )
    )
    monkeypatch.setattr(people, "CHECK_WAIT_SECONDS", 0)
    async with contextlib.AsyncExitStack() as taken:
        for _ in range(people.CHECKS_AT_ONCE):
            await taken.enter_async_context(people.checking())
        with pytest.raises(people.LoginBusy):
            await auth.authenticate(request, "ida@example.org", password)  # type: ignore[arg-type]
    assert await gateway_pool.fetchval("SELECT failed_logins FROM portal_person") == 0
    assert await auth.authenticate(request, "ida@example.org", password) is not None  # type: ignore[arg-type]


async def test_a_person_of_the_identity_provider_gets_no_password(gateway_pool: asyncpg.Pool) -> None:
    async with gateway_pool.acquire() as conn:
        await portal_people.oidc_person(
            conn, "https://idp.example", "subject-1", "aktivcenter-nord", "ida@example.org", "Ida"
        )
        with pytest.raises(ValueError, match="identity provider"):
            await people.add_person(conn, "aktivcenter-nord", "Ida@Example.org")
        assert await conn.fetchval("SELECT password_hash FROM portal_person") is None


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


def _oidc_request(pool: asyncpg.Pool) -> tuple[Any, oidc.OidcClient]:
    settings = SimpleNamespace(
        portal_oidc_provider_claim="provider_id", portal_oidc_issuer="https://idp.example"
    )
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(runtime=SimpleNamespace(pool=pool))))
    return request, oidc.OidcClient(settings)  # type: ignore[arg-type]


async def test_an_identity_provider_names_a_known_provider_that_never_changes_by_a_login(
    gateway_pool: asyncpg.Pool,
) -> None:
    request, client = _oidc_request(gateway_pool)
    claims = {
        "sub": "subject-1",
        "provider_id": "aktivcenter-nord",
        "email": "ida@example.org",
        "name": "Ida",
    }
    with pytest.raises(Refused) as unknown:
        await oidc._person(request, client, claims)
    assert unknown.value.status_code == 403 and "does not know" in unknown.value.message
    async with gateway_pool.acquire() as conn:
        await admin.add_provider(conn, "aktivcenter-nord")
        await admin.add_provider(conn, "dagcenter-syd")
    first = await oidc._person(request, client, claims)
    assert first.provider_id == "aktivcenter-nord"
    with pytest.raises(Refused) as moved:
        await oidc._person(request, client, {**claims, "provider_id": "dagcenter-syd"})
    assert moved.value.status_code == 403 and "another provider" in moved.value.message
    assert await gateway_pool.fetchval("SELECT provider_id FROM portal_person") == "aktivcenter-nord"


async def test_only_a_verified_email_claim_is_kept_and_a_claim_with_a_cpr_number_logs_nobody_in(
    gateway_pool: asyncpg.Pool,
) -> None:
    request, client = _oidc_request(gateway_pool)
    async with gateway_pool.acquire() as conn:
        await admin.add_provider(conn, "aktivcenter-nord")
    claims = {
        "sub": "subject-1",
        "provider_id": "aktivcenter-nord",
        "email": "ida@example.org",
        "name": "Ida",
    }
    unverified = await oidc._person(request, client, claims)
    assert unverified.email == "subject-1"
    verified = await oidc._person(request, client, {**claims, "email_verified": True})
    assert verified.email == "ida@example.org" and verified.person_id == unverified.person_id
    assert (await oidc._person(request, client, {**claims, "email_verified": "false"})).email == "subject-1"
    as_a_string = await oidc._person(request, client, {**claims, "email_verified": "true"})  # as some send it
    assert as_a_string.email == "ida@example.org"
    for name, value in (
        ("sub", "070761-4285"),
        ("name", "Ida 0707614285"),
        ("email", "0707614285@example.org"),
    ):
        with pytest.raises(Refused) as refused:
            await oidc._person(request, client, {**claims, "sub": "subject-2", name: value})
        assert refused.value.status_code == 403
    stored = await gateway_pool.fetch("SELECT email, display_name, oidc_subject FROM portal_person")
    assert "0707614285" not in str([tuple(row) for row in stored]).replace("-", "")


async def test_a_discovery_document_without_its_endpoints_logs_nobody_in() -> None:
    with running_oidc_provider() as idp:
        document = idp.discovery()
        del document["jwks_uri"]
        idp.discovery = lambda: document  # type: ignore[method-assign]
        settings = SimpleNamespace(portal_oidc_issuer=idp.issuer)
        with pytest.raises(oidc.LoginFailed, match="jwks_uri"):
            await oidc.OidcClient(settings).discovery()  # type: ignore[arg-type]
