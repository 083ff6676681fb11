"""A batch that holds a record to dead-letter, straight through ReliableConsumer.process_batch
on the real PostgreSQL: the record goes in its turn, so the committed offset never passes an
earlier record whose effect or dead letter is not durable, and a record without an event id is
dead-lettered once however often its partition is read again."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from aiokafka import TopicPartition

from samspil.runtime.codec import Record
from samspil.runtime.consumer import ReliableConsumer
from samspil.runtime.db import Connection, create_pool, migrate
from schemas.envelope import Envelope
from schemas.provider_reports import AbsenceNoticeSubmitted
from schemas.registry import EVENT_TYPES
from tests.infra import Infra
from tests.integration.conftest import DEAD_LETTER_KEY, EFFECT_TABLE, Consumed
from tests.integration.test_consumer_batches import DEAD_LETTER_FAULT, unreadable
from tests.support import citizen_ref, encoded_notice


def at(record: Record, offset: int) -> Consumed:
    return Consumed(record.topic, 0, offset, record.key, record.value, record.headers)


@contextlib.asynccontextmanager
async def database(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(infra.create_database())
    await migrate(pool, "samspil.runtime.migrations")
    await pool.execute(EFFECT_TABLE)
    try:
        yield pool
    finally:
        await pool.close()


def consumer(pool: asyncpg.Pool, handler: Any) -> ReliableConsumer:
    return ReliableConsumer(
        name="order",
        pool=pool,
        handlers={AbsenceNoticeSubmitted: handler},
        known_types=EVENT_TYPES,
        dead_letter_key=DEAD_LETTER_KEY,
        backoff_base=0.01,
        max_attempts=1,
    )


def failing_for(poison: Envelope) -> Any:
    async def handler(conn: Connection, envelope: Envelope, _: Any) -> None:
        if envelope.id == poison.id:
            raise ValueError("the case system refused it")
        await conn.execute(
            "INSERT INTO effect (event_id, citizen_ref) VALUES ($1, $2)", envelope.id, envelope.subject
        )

    return handler


async def test_two_failures_in_one_partition_commit_nothing_past_the_first(infra: Infra) -> None:
    """A poison record at 0, a good one at 1, an unreadable one at 2; neither dead letter can be
    written (the database refuses it for good). The offset stays at 0 and nothing after the
    poison record is handled ahead of it."""
    subject = citizen_ref()
    (poison, r0), (good, r1), (bad, r2) = (encoded_notice(subject) for _ in range(3))
    async with database(infra) as pool:
        await pool.execute(DEAD_LETTER_FAULT)
        await pool.execute("INSERT INTO dead_letter_fault VALUES ($1), ($2)", str(poison.id), str(bad.id))
        progress = await consumer(pool, failing_for(poison)).process_batch(
            [at(r0, 0), at(r1, 1), at(unreadable(r2), 2)]
        )
        tp = TopicPartition(r0.topic, 0)
        assert progress.commit.get(tp, 0) == 0, f"committed {progress.commit[tp]} past the poison record"
        assert progress.rewind[tp] == 0
        assert await pool.fetchval("SELECT count(*) FROM effect WHERE event_id = $1", good.id) == 0


async def test_a_record_without_an_event_id_is_dead_lettered_once_when_its_partition_is_read_again(
    infra: Infra,
) -> None:
    subject = citizen_ref()
    (poison, r0), (_, r1) = encoded_notice(subject), encoded_notice(subject)
    no_id = Record(r1.topic, r1.key, r1.value, [(k, v) for k, v in r1.headers if k != "ce_id"])
    records = [at(r0, 0), at(no_id, 1)]
    async with database(infra) as pool:
        await pool.execute(DEAD_LETTER_FAULT)
        await pool.execute("INSERT INTO dead_letter_fault VALUES ($1)", str(poison.id))
        reader = consumer(pool, failing_for(poison))
        first = await reader.process_batch(records)
        assert first.rewind[TopicPartition(r0.topic, 0)] == 0
        await pool.execute("DELETE FROM dead_letter_fault")
        await reader.process_batch(records)  # read again from the poison record
        assert await pool.fetchval("SELECT count(*) FROM dead_letter WHERE event_id IS NULL") == 1
