"""The feed's commit-time lock is what keeps positions visible in order. The
existing test (test_feed_positions) passes without the lock; this one does not: a transaction
that got its position but has not yet become visible holds back every later committer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from provider_gateway.adapters import repository
from provider_gateway.domain.webhooks import FeedKind
from provider_gateway.service_layer.handlers import _to_feed
from samspil.runtime.db import Connection, create_pool, migrate
from tests.infra import Infra
from tests.support import wait_for

PROVIDER = "aktivcenter-nord"
HOLD = (7310099, 1)

# Runs after the position trigger of the same row (deferred triggers of one event fire in name
# order): it holds the transaction between "positioned" and "committed" while the test wants.
HOLD_AT_COMMIT = """
CREATE FUNCTION review_hold_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('review.hold', true) = 'on' THEN
        PERFORM pg_advisory_xact_lock(7310099, 1);
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER zz_review_hold AFTER INSERT ON provider_feed
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION review_hold_at_commit();
"""

WITHOUT_LOCK = """
CREATE OR REPLACE FUNCTION provider_feed_position_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT position FROM provider_feed WHERE seq = NEW.seq) IS NOT NULL THEN RETURN NULL; END IF;
    UPDATE provider_feed AS feed SET position = numbered.position
    FROM (SELECT seq, nextval('provider_feed_position') AS position
          FROM (SELECT seq FROM provider_feed WHERE position IS NULL ORDER BY seq) AS ours) AS numbered
    WHERE feed.seq = numbered.seq;
    RETURN NULL;
END $$;
"""


@pytest.fixture(params=["as merged", pytest.param("without the lock", marks=pytest.mark.xfail(strict=True))])
async def gateway_pool(infra: Infra, request: pytest.FixtureRequest) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(infra.create_database("feedlock"))
    await migrate(pool, "samspil.runtime.migrations", "provider_gateway.migrations")
    await pool.execute(HOLD_AT_COMMIT)
    if request.param == "without the lock":
        await pool.execute(WITHOUT_LOCK)
    try:
        yield pool
    finally:
        await pool.close()


async def _commit_one(pool: asyncpg.Pool, referral_id: uuid.UUID, hold: bool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if hold:
            await conn.execute("SET LOCAL review.hold = 'on'")
        await _to_feed(conn, PROVIDER, FeedKind.REFERRAL_REQUESTED, referral_id=referral_id)


async def _waiting_on(conn: Connection, which: str) -> bool:
    """Whether a session waits for an advisory lock matching ``which``."""
    waiting: bool = await conn.fetchval(
        f"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND {which})"
    )
    return waiting


async def test_an_entry_positioned_but_not_yet_visible_holds_back_later_commits(
    gateway_pool: asyncpg.Pool,
) -> None:
    early, late = uuid.uuid4(), uuid.uuid4()
    gate = await gateway_pool.acquire()
    try:
        await gate.execute("SELECT pg_advisory_lock($1, $2)", *HOLD)
        slow = asyncio.create_task(_commit_one(gateway_pool, early, hold=True))
        await wait_for(lambda: _waiting_on(gate, "objid = 1 AND classid = 7310099"))  # positioned
        fast = asyncio.create_task(_commit_one(gateway_pool, late, hold=False))

        async def behind_it_or_committed() -> bool:
            # Committed without waiting is the defect itself: go on to show what it does.
            return fast.done() or await _waiting_on(gate, "NOT (objid = 1 AND classid = 7310099)")

        await wait_for(behind_it_or_committed)
        first = await repository.feed_for_provider(gateway_pool, PROVIDER, after=0, limit=100)
        await gate.execute("SELECT pg_advisory_unlock($1, $2)", *HOLD)
        await asyncio.wait_for(asyncio.gather(slow, fast), 10)
    finally:
        await gateway_pool.release(gate)
    after = first[-1]["seq"] if first else 0
    rest = await repository.feed_for_provider(gateway_pool, PROVIDER, after=after, limit=100)
    seen = [row["referral_id"] for row in [*first, *rest]]
    assert sorted(seen) == sorted([early, late]), "a poller that continued from its cursor skipped an entry"
