"""Inspecting and replaying dead letters.

A replay puts the original record (same key, value and headers, so the same event id) back on
its original topic through the outbox. The consumer's inbox has no row for it, since it was
never processed, so it is handled as if new; a replay of something already processed stays a
no-op.

A dead letter whose text was redacted (it held a CPR number) is not the original record any
more, so it is never replayed: its sender must send it again without the number.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from samspil.runtime.codec import Record
from samspil.runtime.db import Connection
from samspil.runtime.outbox import add_record


async def list_dead_letters(conn: Connection, *, include_replayed: bool = False) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, consumer, topic, kafka_partition, kafka_offset, event_id, event_type, reason,"
        " error, attempts, redacted, created_at, replayed_at FROM dead_letter"
        " WHERE $1 OR replayed_at IS NULL ORDER BY id",
        include_replayed,
    )


async def replay_dead_letters(conn: Connection, ids: Sequence[int] | None = None) -> int:
    """Replay the given dead letters (all not yet replayed when ``ids`` is None), in one
    transaction, except redacted ones. Returns how many were put back."""
    async with conn.transaction():
        rows = await conn.fetch(
            "SELECT id, topic, record_key, header_names, header_values, payload, event_id, event_type"
            " FROM dead_letter WHERE replayed_at IS NULL AND cardinality(redacted) = 0"
            " AND ($1::bigint[] IS NULL OR id = ANY($1))"
            " ORDER BY id FOR UPDATE",
            list(ids) if ids is not None else None,
        )
        for row in rows:
            record = Record(
                topic=row["topic"],
                key=row["record_key"],
                value=row["payload"],
                headers=list(zip(row["header_names"], row["header_values"], strict=True)),
            )
            await add_record(conn, record, row["event_id"], row["event_type"] or "unknown")
        # With it, any other dead letter of the same event not yet replayed (written twice by a
        # version before 006_dead_letter_once.sql): left pending, it would make the consumer
        # skip the replayed record.
        await conn.execute(
            "UPDATE dead_letter d SET replayed_at = now() WHERE d.replayed_at IS NULL AND ("
            " d.id = ANY($1::bigint[]) OR EXISTS (SELECT 1 FROM dead_letter r WHERE r.id = ANY($1::bigint[])"
            " AND r.consumer = d.consumer AND r.event_id = d.event_id))",
            [row["id"] for row in rows],
        )
    return len(rows)


async def count_redacted(conn: Connection, ids: Sequence[int] | None = None) -> int:
    """How many of the given dead letters (all when ``ids`` is None) were redacted and so
    cannot be replayed."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM dead_letter WHERE replayed_at IS NULL AND cardinality(redacted) > 0"
        " AND ($1::bigint[] IS NULL OR id = ANY($1))",
        list(ids) if ids is not None else None,
    )
    return count
