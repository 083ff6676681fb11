"""Review 2 of the portal security fixes: a login whose password check is under way when an
administrator sets a new password (or disables the person) still gets a session, made with the
old password, after "every session of theirs ended". Fails on eff55f1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace

import asyncpg
import pytest

from provider_gateway.adapters import portal_people
from provider_gateway.portal import auth, people, sessions
from samspil.runtime.db import create_pool, migrate
from tests.infra import Infra


@pytest.fixture
async def gateway_pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(infra.create_database("portal_review2"))
    await migrate(pool, "samspil.runtime.migrations", "provider_gateway.migrations")
    try:
        yield pool
    finally:
        await pool.close()


def _request(pool: asyncpg.Pool, attempts: int = 5) -> SimpleNamespace:
    settings = SimpleNamespace(portal_login_attempts=attempts, portal_lockout_minutes=15)
    app = SimpleNamespace(state=SimpleNamespace(settings=settings, runtime=SimpleNamespace(pool=pool)))
    return SimpleNamespace(app=app)


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
    person = await auth.authenticate(_request(gateway_pool), "ida@example.org", leaked)  # type: ignore[arg-type]
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
    person = await auth.authenticate(_request(gateway_pool), "ida@example.org", password)  # type: ignore[arg-type]
    session_hash = sessions.session_hash(sessions.new_session_id())
    if person is not None:
        await portal_people.start_session(gateway_pool, session_hash, person.person_id, timedelta(hours=12))
    async with gateway_pool.acquire() as conn, conn.transaction():  # `provider user enable` later
        await portal_people.set_disabled(conn, "aktivcenter-nord", "ida@example.org", False)
    revived = await portal_people.use_session(gateway_pool, session_hash, timedelta(minutes=30))
    assert revived is None, "a session started as the person was disabled works again after enable"


async def _median_ms(request: SimpleNamespace, email: str) -> float:
    import statistics
    import time

    spent = []
    for _ in range(5):
        started = time.perf_counter()
        await auth.authenticate(request, email, "a wrong guess")  # type: ignore[arg-type]
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent)


async def test_an_address_with_a_hash_of_the_old_cost_takes_no_longer_to_refuse_than_an_unknown_one(
    gateway_pool: asyncpg.Pool,
) -> None:
    """'A refusal never says whether the address exists' (portal/auth.py): every person's hash was
    made at argon2-cffi's default cost (t=3, 64 MiB, p=4) before this change, and stays so until
    their next right login, while an unknown address is checked against `_NOBODY` at the new cost."""
    from argon2 import PasswordHasher

    async with gateway_pool.acquire() as conn:
        await people.add_person(conn, "aktivcenter-nord", "ida@example.org")
        await conn.execute("UPDATE portal_person SET password_hash = $1", PasswordHasher().hash("kept"))
    request = _request(gateway_pool, attempts=1000)
    known = await _median_ms(request, "ida@example.org")
    unknown = await _median_ms(request, "nobody@example.org")
    assert known < 2 * unknown, (
        f"an existing address took {known:.0f} ms to refuse, an unknown one {unknown:.0f} ms"
    )
