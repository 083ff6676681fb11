"""Migration 006 makes a dead letter once per consumer and event until it is replayed, and
keeps the duplicates an older version wrote before it (nothing an operator reads is deleted)."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from samspil.runtime.consumer import _PENDING_OR_CLAIM
from samspil.runtime.db import _sql_files, migrate
from samspil.runtime.deadletters import replay_dead_letters
from tests.infra import Infra

PACKAGE = "samspil.runtime.migrations"

INSERT = (
    "INSERT INTO dead_letter (consumer, topic, kafka_partition, kafka_offset, header_names,"
    " header_values, payload, event_id, reason, error, attempts)"
    " VALUES ($1, 't', 0, 0, '{}', '{}', '', $2, 'rejected', 'e', 1)"
)


async def test_dead_letters_are_unique_per_event_until_replayed_and_older_duplicates_are_kept(
    infra: Infra,
) -> None:
    url = infra.create_database()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE schema_migration"
            " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for file in _sql_files(PACKAGE):
            if file.name < "006":
                await conn.execute(file.read_text(encoding="utf-8"))
                await conn.execute(
                    "INSERT INTO schema_migration (name) VALUES ($1)", f"{PACKAGE}/{file.name}"
                )
        # What the version before wrote after a broker replacement: the same event twice.
        await conn.execute(INSERT, "social", "e-old")
        await conn.execute(INSERT, "social", "e-old")
    finally:
        await conn.close()

    pool = await asyncpg.create_pool(url)
    try:
        applied = await migrate(pool, PACKAGE)
        assert applied[:2] == [
            f"{PACKAGE}/006_dead_letter_once.sql",
            f"{PACKAGE}/007_dead_letter_pending_index.sql",
        ]
        assert await pool.fetchval("SELECT count(*) FROM dead_letter WHERE event_id = 'e-old'") == 2
        await pool.execute(INSERT, "social", "e-new")
        with pytest.raises(asyncpg.UniqueViolationError):
            await pool.execute(INSERT, "social", "e-new")
        await pool.execute(INSERT, "employment", "e-new")  # another consumer's own
        await pool.execute("UPDATE dead_letter SET replayed_at = now() WHERE event_id = 'e-new'")
        await pool.execute(INSERT, "social", "e-new")  # failed again after its replay
        assert await pool.fetchval("SELECT count(*) FROM dead_letter WHERE event_id = 'e-new'") == 3

        # Replaying one of the old duplicates replays the event: the other is marked too, or
        # the consumer would skip the replayed record for it.
        async with pool.acquire() as replaying:
            old = await replaying.fetchval("SELECT min(id) FROM dead_letter WHERE event_id = 'e-old'")
            assert await replay_dead_letters(replaying, [old]) == 1
        assert (
            await pool.fetchval(
                "SELECT count(*) FROM dead_letter WHERE event_id = 'e-old' AND replayed_at IS NULL"
            )
            == 0
        )
    finally:
        await pool.close()


async def test_the_consumers_lookup_of_a_pending_dead_letter_can_use_an_index(infra: Infra) -> None:
    """The consumer asks this for every event it handles: it must not scan the table (006's
    unique index holds only rows after a cutoff the lookup cannot prove; 007's serves it)."""
    pool = await asyncpg.create_pool(infra.create_database())
    try:
        await migrate(pool, PACKAGE)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")
            plan = "\n".join(
                row[0]
                for row in await conn.fetch(
                    "EXPLAIN SELECT EXISTS (SELECT 1 FROM dead_letter WHERE consumer = 'social'"
                    " AND event_id = 'e' AND replayed_at IS NULL AND cardinality(redacted) = 0)"
                )
            )
        assert "dead_letter_pending" in plan, plan
        # A batch asks it for all its events in the statement that claims them in the inbox.
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")
            ids = [uuid.uuid4(), uuid.uuid4()]
            plan = "\n".join(
                row[0]
                for row in await conn.fetch(
                    "EXPLAIN " + _PENDING_OR_CLAIM, "social", ids, ["t", "t"], ["topic", "topic"]
                )
            )
        assert "dead_letter_pending" in plan, plan
    finally:
        await pool.close()
