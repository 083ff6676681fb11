"""The provider feed never skips an entry on the real PostgreSQL: entries written by transactions
that commit out of the order they wrote in (two gateway replicas, or two consumer batches) are
all seen by a poller that always continues from where its last poll ended."""

from __future__ import annotations

import uuid

import asyncpg

from provider_gateway.adapters import repository
from provider_gateway.domain.webhooks import FeedKind
from provider_gateway.service_layer.handlers import _to_feed

PROVIDER = "aktivcenter-nord"


async def _seq_of(pool: asyncpg.Pool, referral_id: uuid.UUID) -> int:
    seq: int = await pool.fetchval("SELECT seq FROM provider_feed WHERE referral_id = $1", referral_id)
    return seq


async def test_an_entry_written_first_but_committed_after_a_poll_is_returned_by_the_next_poll(
    gateway_pool: asyncpg.Pool,
) -> None:
    early, late = uuid.uuid4(), uuid.uuid4()
    slow = await gateway_pool.acquire()
    fast = await gateway_pool.acquire()
    try:
        slow_transaction = slow.transaction()
        await slow_transaction.start()
        await _to_feed(slow, PROVIDER, FeedKind.REFERRAL_REQUESTED, referral_id=early)
        async with fast.transaction():
            await _to_feed(fast, PROVIDER, FeedKind.REFERRAL_REQUESTED, referral_id=late)

        first = await repository.feed_for_provider(gateway_pool, PROVIDER, after=0, limit=100)
        assert [row["referral_id"] for row in first] == [late]

        await slow_transaction.commit()
    finally:
        await gateway_pool.release(slow)
        await gateway_pool.release(fast)
    # The race was real: the entry now seen took the lower number when it was written.
    assert await _seq_of(gateway_pool, early) < await _seq_of(gateway_pool, late)

    second = await repository.feed_for_provider(gateway_pool, PROVIDER, after=first[-1]["seq"], limit=100)
    assert [row["referral_id"] for row in second] == [early]


async def test_entries_of_one_transaction_keep_the_order_they_were_written_in(
    gateway_pool: asyncpg.Pool,
) -> None:
    written = [uuid.uuid4() for _ in range(3)]
    async with gateway_pool.acquire() as conn, conn.transaction():
        for referral_id in written:
            await _to_feed(conn, PROVIDER, FeedKind.REFERRAL_REQUESTED, referral_id=referral_id)
    rows = await repository.feed_for_provider(gateway_pool, PROVIDER, after=0, limit=100)
    assert [row["referral_id"] for row in rows] == written
    unpositioned = await gateway_pool.fetchval("SELECT count(*) FROM provider_feed WHERE position IS NULL")
    assert unpositioned == 0
