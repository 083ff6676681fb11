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
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from samspil.runtime.codec import Record
from samspil.runtime.db import Connection
from samspil.runtime.outbox import add_record
from samspil.runtime.paging import Page, page_of, read_cursor

DEFAULT_PAGE = 50


class DeadLetter(BaseModel):
    """A dead letter as an operator sees it: where it came from, why it was given up on, whether
    it was replayed. Never its payload (a redacted one names the fields it held a CPR number in)."""

    id: int
    consumer: str
    topic: str
    kafka_partition: int
    kafka_offset: int
    event_id: str | None
    event_type: str | None
    reason: str
    error: str
    attempts: int
    redacted: list[str]
    created_at: datetime
    replayed_at: datetime | None


class DeadLetterPage(Page[DeadLetter]):
    """A page of dead letters, oldest first."""


_LISTED = (
    "SELECT id, consumer, topic, kafka_partition, kafka_offset, event_id, event_type, reason,"
    " error, attempts, redacted, created_at, replayed_at FROM dead_letter"
)


# A dead letter's id is a bigint drawn from its sequence (from 1; 0 is before the first).
_LARGEST_ID = 2**63 - 1


def _dead_letter_id(key: list[Any]) -> int:
    [dead_letter_id] = key
    if type(dead_letter_id) is not int:
        raise TypeError("not a dead-letter id")
    if not 0 <= dead_letter_id <= _LARGEST_ID:  # else the driver, not the list, would refuse it
        raise ValueError("not a dead-letter id")
    return dead_letter_id


async def list_dead_letters(
    conn: Connection, *, include_replayed: bool = False, cursor: str | None = None, limit: int = DEFAULT_PAGE
) -> DeadLetterPage:
    """A page of dead letters in the order of their ids (keyset on the id: the primary key, or
    for the pending ones the index of those not replayed), after ``cursor``'s.

    A walk through the pages never shows a dead letter twice, and shows every one committed
    before it began (without ``include_replayed``: still pending when its page is read). One
    written while you page may not appear in that walk: its id is drawn when it is inserted but
    it becomes visible when its consumer's transaction commits, possibly after the walk has passed
    a higher id. It appears when you list again from the start (no cursor). An operator's list
    needs no more; the provider feed's commit-ordered positions (gateway migration 008) are for
    readers that must never miss an entry."""
    after = 0 if cursor is None else read_cursor(cursor, _dead_letter_id)
    pending = "" if include_replayed else " AND replayed_at IS NULL"
    rows = await conn.fetch(f"{_LISTED} WHERE id > $1{pending} ORDER BY id LIMIT $2", after, limit + 1)
    page = page_of(rows, limit, lambda row: DeadLetter.model_validate(dict(row)), lambda row: [row["id"]])
    return DeadLetterPage(items=page.items, next_cursor=page.next_cursor)


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
