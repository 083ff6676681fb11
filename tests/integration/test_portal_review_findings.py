"""Security review of the provider portal (issue 14): defects shown against the real PostgreSQL.
Each test states the behaviour the portal should have; it fails on main as reviewed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from types import SimpleNamespace

import asyncpg
import pytest

from provider_gateway.adapters import portal_people
from provider_gateway.portal import auth, people, sessions
from tests.portal_support import portal_request


async def test_concurrent_guesses_cannot_get_past_the_lockout(
    gateway_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PROVIDER_GATEWAY_PORTAL_LOGIN_ATTEMPTS wrong passwords lock the account: the right password
    sent as the 21st attempt must not log in. Reading `locked` before the slow argon2 check and
    counting the failure after it let guesses sent at once (from many addresses, past the
    per-address limit) all be checked against the hash. The gate on checks at once is opened to
    all 21 here, so only the count made before the check can hold them back."""
    async with gateway_pool.acquire() as conn:
        password = await people.add_person(conn, "aktivcenter-nord", "ida@example.org")
    request = portal_request(gateway_pool, attempts=5)
    guesses = [f"wrong guess number {n}" for n in range(20)] + [password]
    monkeypatch.setattr(people, "CHECKS_AT_ONCE", len(guesses))
    monkeypatch.setattr(people, "_gates", {})
    results = await asyncio.gather(
        *(auth.authenticate(request, "ida@example.org", guess) for guess in guesses)  # type: ignore[arg-type]
    )
    failed = await gateway_pool.fetchval("SELECT failed_logins FROM portal_person")
    assert results[-1] is None, (
        f"the 21st guess logged in although 5 wrong ones lock the account (failed_logins={failed})"
    )


async def test_setting_a_new_password_ends_the_persons_sessions(gateway_pool: asyncpg.Pool) -> None:
    """`samspil provider user add` on an existing person is how an administrator replaces a leaked
    password; whoever holds a session made with the old one must be logged out by it."""
    async with gateway_pool.acquire() as conn:
        await people.add_person(conn, "aktivcenter-nord", "ida@example.org")
        person_id = await conn.fetchval("SELECT person_id FROM portal_person")
        session_id = sessions.new_session_id()
        await portal_people.start_session(
            conn, sessions.session_hash(session_id), person_id, timedelta(hours=12)
        )
        await people.add_person(conn, "aktivcenter-nord", "ida@example.org")  # the reset
    still = await portal_people.use_session(
        gateway_pool, sessions.session_hash(session_id), timedelta(minutes=30)
    )
    assert still is None, "a session made with the replaced password still works"


async def test_an_identity_providers_email_claim_does_not_become_a_password_login(
    gateway_pool: asyncpg.Pool,
) -> None:
    """An OIDC person's e-mail is the identity provider's claim (kept only when verified). When the
    administrator later adds the real owner of that address to the built-in store, the OIDC
    person's account never gets a password (which would make two people one person_id, one audit
    name, one feed position)."""
    async with gateway_pool.acquire() as conn:
        row = await portal_people.oidc_person(
            conn,
            "https://idp.example",
            "subject-of-mallory",
            "aktivcenter-nord",
            "ida@example.org",  # Mallory's claim
            "Mallory",
        )
        assert row is not None
        try:
            await people.add_person(conn, "aktivcenter-nord", "ida@example.org", "Ida Ibsen")
        except ValueError:
            return  # refused: the address is taken by an OIDC person (acceptable)
        linked = await conn.fetchrow(
            "SELECT oidc_subject, password_hash IS NOT NULL AS has_password FROM portal_person"
            " WHERE person_id = $1",
            row["person_id"],
        )
    assert linked is not None
    assert not (linked["oidc_subject"] and linked["has_password"]), (
        "the password for ida@example.org was set on the OIDC person 'subject-of-mallory'"
    )


async def test_a_submission_page_names_its_citizen_in_the_audit_row(gateway_pool: asyncpg.Pool) -> None:
    """The submission page shows the citizen's display name and what the departments decided on
    their report; like the referral page, its audit row must name the citizen (citizen_ref), or
    "who looked at this citizen" misses every view of it."""
    from starlette.requests import Request

    from provider_gateway.adapters import repository
    from provider_gateway.portal import pages
    from provider_gateway.portal.web import Person
    from tests.integration.test_portal_reading import PROVIDER, referred

    referral_id = await referred(gateway_pool, "Testborger Jensen")
    submission_id = uuid.uuid4()
    async with gateway_pool.acquire() as conn:
        await repository.insert_submission(conn, submission_id, PROVIDER, referral_id, "absence-notice")
    app = SimpleNamespace(
        state=SimpleNamespace(
            runtime=SimpleNamespace(pool=gateway_pool),
            settings=SimpleNamespace(local_mode=False, token_secret="t" * 48),
        )
    )
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "https",
            "server": ("gateway.example", 443),
            "path": f"/portal/submissions/{submission_id}",
            "query_string": b"",
            "headers": [(b"host", b"gateway.example")],
            "app": app,
            "state": {},
        }
    )
    request.state.person = person = Person(uuid.uuid4(), PROVIDER, "ida@example.org", "Ida")
    response = await pages.submission_page(str(submission_id), request, person)
    assert response.status_code == 200 and "Testborger Jensen" in bytes(response.body).decode()
    assert getattr(request.state, "citizen_ref", None) is not None, (
        "the page shows the citizen, its audit row does not name them"
    )
