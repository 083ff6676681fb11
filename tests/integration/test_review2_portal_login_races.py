"""A login whose password check is under way when an administrator sets a new password (or
disables the person) gets no session: every session of theirs ends, also one a login in flight
would have started (found by a review; it failed on eff55f1)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from provider_gateway.adapters import portal_people
from provider_gateway.portal import auth, people, sessions
from tests.portal_support import portal_request


async def test_a_login_checked_against_a_replaced_password_gets_no_session(
    gateway_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with gateway_pool.acquire() as conn:
        leaked = await people.add_person(conn, "aktivcenter-nord", "ida@example.org")
    real_verify = people.verify

    async def verify_while_the_administrator_replaces_it(password_hash: str | None, password: str) -> bool:
        matches = await real_verify(password_hash, password)
        async with gateway_pool.acquire() as conn:  # `samspil provider user add` while argon2 runs
            await people.add_person(conn, "aktivcenter-nord", "ida@example.org")
        return matches

    monkeypatch.setattr(people, "verify", verify_while_the_administrator_replaces_it)
    person = await auth.authenticate(portal_request(gateway_pool), "ida@example.org", leaked)  # type: ignore[arg-type]
    if person is not None:  # what auth.start_session then does
        await portal_people.start_session(
            gateway_pool,
            sessions.session_hash(sessions.new_session_id()),
            person.person_id,
            timedelta(hours=12),
        )
    open_sessions = await gateway_pool.fetchval("SELECT count(*) FROM portal_session")
    assert person is None and open_sessions == 0, "the replaced password opened a session"


async def test_a_session_started_while_the_person_was_disabled_does_not_come_back_at_enable(
    gateway_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with gateway_pool.acquire() as conn:
        password = await people.add_person(conn, "aktivcenter-nord", "ida@example.org")
    real_verify = people.verify

    async def verify_while_the_administrator_disables(password_hash: str | None, password: str) -> bool:
        matches = await real_verify(password_hash, password)
        async with gateway_pool.acquire() as conn, conn.transaction():  # `provider user disable`
            await portal_people.set_disabled(conn, "aktivcenter-nord", "ida@example.org", True)
        return matches

    monkeypatch.setattr(people, "verify", verify_while_the_administrator_disables)
    person = await auth.authenticate(portal_request(gateway_pool), "ida@example.org", password)  # type: ignore[arg-type]
    session_hash = sessions.session_hash(sessions.new_session_id())
    if person is not None:
        await portal_people.start_session(gateway_pool, session_hash, person.person_id, timedelta(hours=12))
    async with gateway_pool.acquire() as conn, conn.transaction():  # `provider user enable` later
        await portal_people.set_disabled(conn, "aktivcenter-nord", "ida@example.org", False)
    revived = await portal_people.use_session(gateway_pool, session_hash, timedelta(minutes=30))
    assert revived is None, "a session started as the person was disabled works again after enable"


async def test_a_session_starts_only_while_the_person_is_enabled_and_has_the_checked_password(
    gateway_pool: asyncpg.Pool,
) -> None:
    """The last step of a login (after `authenticate`): an administrator may replace the password
    or disable the person between the check and the session."""
    async with gateway_pool.acquire() as conn:
        await people.add_person(conn, "aktivcenter-nord", "ida@example.org")
        person_id = await conn.fetchval("SELECT person_id FROM portal_person")
        checked = await conn.fetchval("SELECT password_hash FROM portal_person")
        await people.add_person(conn, "aktivcenter-nord", "ida@example.org")  # a new password
    lifetime = timedelta(hours=12)
    assert not await portal_people.start_session(
        gateway_pool, "with-the-old-password", person_id, lifetime, checked
    )
    replaced = await gateway_pool.fetchval("SELECT password_hash FROM portal_person")
    async with gateway_pool.acquire() as conn, conn.transaction():
        await portal_people.set_disabled(conn, "aktivcenter-nord", "ida@example.org", True)
    assert not await portal_people.start_session(
        gateway_pool, "while-disabled", person_id, lifetime, replaced
    )
    assert not await portal_people.start_session(gateway_pool, "identity-provider", person_id, lifetime)
    async with gateway_pool.acquire() as conn, conn.transaction():
        await portal_people.set_disabled(conn, "aktivcenter-nord", "ida@example.org", False)
    assert await gateway_pool.fetchval("SELECT count(*) FROM portal_session") == 0
    assert await portal_people.start_session(gateway_pool, "after-enable", person_id, lifetime, replaced)


async def test_a_refusal_checks_hashes_of_the_same_costs_whether_or_not_the_address_exists(
    gateway_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """'A refusal never says whether the address exists' (portal/auth.py): the hashes made before
    the cost was lowered are at argon2-cffi's defaults (t=3, 64 MiB, p=4) until their person's next
    right login. What a refusal costs is the argon2 parameters of the hashes it checks (asserted
    here rather than timed): the same for an unknown address as for a person with a hash of
    either cost."""
    from argon2 import PasswordHasher, extract_parameters

    async with gateway_pool.acquire() as conn:
        await people.add_person(conn, "aktivcenter-nord", "ida@example.org")
        await people.add_person(conn, "aktivcenter-nord", "jon@example.org")
        await conn.execute(
            "UPDATE portal_person SET password_hash = $1 WHERE email = 'jon@example.org'",
            PasswordHasher().hash("kept from before"),
        )
    checked: list[str] = []
    real_matches = people._matches

    def recording(password_hash: str, password: str) -> bool:
        parameters = extract_parameters(password_hash)
        checked.append(f"t={parameters.time_cost},m={parameters.memory_cost},p={parameters.parallelism}")
        return real_matches(password_hash, password)

    monkeypatch.setattr(people, "_matches", recording)
    request = portal_request(gateway_pool, attempts=1000)
    costs = {}
    for email in ("nobody@example.org", "ida@example.org", "jon@example.org"):
        checked.clear()
        assert await auth.authenticate(request, email, "a wrong guess") is None  # type: ignore[arg-type]
        costs[email] = sorted(checked)
    assert costs["nobody@example.org"] == ["t=2,m=19456,p=1", "t=3,m=65536,p=4"]
    assert costs["ida@example.org"] == costs["jon@example.org"] == costs["nobody@example.org"], costs
