"""What the relay counts as published is what the broker acknowledged, against the real broker:
a record the broker refuses after the sender queued it (a late failure of its delivery) stays
unpublished, and no later record with its key, nor after it on its partition, goes first."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from typing import Any

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import MessageSizeTooLargeError, RequestTimedOutError

from samspil.runtime.codec import Record
from samspil.runtime.kafka import KafkaSender
from samspil.runtime.outbox import OutboxRelay, add_records
from schemas.topics import PROVIDER_REPORTS
from tests.infra import Infra
from tests.integration.conftest import OwnTopic
from tests.support import read_topic

# The topic's own limit, far below the producer's (1 MiB): the sender queues a larger record,
# and the broker refuses it in delivery.
TOPIC_LIMIT = 4000


@pytest.fixture
async def small_topic(infra: Infra) -> str:
    """A topic of one partition that takes records of at most TOPIC_LIMIT bytes."""
    name = f"samspil.test.small-{uuid.uuid4().hex[:8]}.v1"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, 1, 1, topic_configs={"max.message.bytes": str(TOPIC_LIMIT)})]
        )
    finally:
        await admin.close()
    return name


@pytest.fixture
async def topic(own_topic: OwnTopic) -> str:
    """A copy of the reports topic (its six partitions) that only this test writes to: its records
    are no events (no envelope), and on the shared topic every consumer that reads it from the
    beginning, in later tests on this broker, would have to dead-letter them one by one."""
    return (await own_topic(PROVIDER_REPORTS, partitions=PROVIDER_REPORTS.partitions)).name


def record(topic: str, key: bytes, name: str, size: int = 10) -> Record:
    return Record(
        topic=topic, key=key, value=name.encode().ljust(size, b"."), headers=[("ce_id", name.encode())]
    )


async def test_records_whose_delivery_times_out_after_they_were_queued_stay_pending(
    infra: Infra, topic: str, outbox_db: asyncpg.Pool
) -> None:
    """The embedded broker stops answering (paused) once the sender has the topic's metadata:
    the records are queued, their delivery fails when the request times out, and none of them
    is marked published."""
    if infra.broker is None or infra.broker.pid is None:
        pytest.skip("pauses the embedded broker's process")
    rows = [record(topic, f"k{n % 7}".encode(), f"e{n}") for n in range(40)]
    async with outbox_db.acquire() as conn:
        await add_records(conn, [(r, r.headers[0][1].decode(), "test") for r in rows])
    sender = KafkaSender(infra.bootstrap_servers, enable_idempotence=False, request_timeout_ms=1500)
    await sender.start()
    try:
        assert await sender._producer.partitions_for(topic)  # known before the broker pauses
        os.kill(infra.broker.pid, signal.SIGSTOP)
        try:
            assert await OutboxRelay(outbox_db, sender).publish_batch() == (0, 40)
        finally:
            os.kill(infra.broker.pid, signal.SIGCONT)
        assert await outbox_db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 40
        assert await outbox_db.fetchval("SELECT min(attempts) FROM outbox") == 1
        # The broker back, the next batch publishes them all.
        assert await OutboxRelay(outbox_db, sender).publish_batch() == (40, 0)
    finally:
        await sender.stop()


async def test_a_record_the_broker_refuses_in_delivery_is_not_counted_published_nor_overtaken(
    infra: Infra, small_topic: str, outbox_db: asyncpg.Pool
) -> None:
    """Apache Kafka refuses a record larger than the topic's max.message.bytes when it arrives
    (the producer's own limit let it be queued). Tansu takes any size, so this runs against
    Apache Kafka only."""
    if infra.broker is not None:
        pytest.skip("the embedded broker (Tansu) does not enforce max.message.bytes")
    rows = [
        record(small_topic, b"b", "b1"),
        record(small_topic, b"a", "a1-too-large", size=3 * TOPIC_LIMIT),
        record(small_topic, b"a", "a2"),
        record(small_topic, b"b", "b2"),
    ]
    async with outbox_db.acquire() as conn:
        await add_records(conn, [(r, r.headers[0][1].decode(), "test") for r in rows])
    sender = KafkaSender(infra.bootstrap_servers, enable_idempotence=infra.broker is None)
    await sender.start()
    try:
        relay = OutboxRelay(outbox_db, sender)
        # All four in one call: b1 is taken, a1 refused by the broker after it was queued, and
        # what follows it on the partition waits for the next batch.
        assert await relay.publish_batch() == (1, 2)
        state = {
            row["name"]: (row["published"], row["parked"])
            for row in await outbox_db.fetch(
                "SELECT event_id AS name, published_at IS NOT NULL AS published,"
                " parked_at IS NOT NULL AS parked FROM outbox"
            )
        }
        assert state == {
            "b1": (True, False),
            "a1-too-large": (False, True),  # the broker can never take it: set aside, not published
            "a2": (False, False),
            "b2": (False, False),
        }
        assert await relay.publish_batch() == (2, 0)
        assert await relay.publish_batch() == (0, 0)
    finally:
        await sender.stop()
    published = [
        dict(headers)["ce_id"] for _, _, headers in await read_topic(infra.bootstrap_servers, small_topic)
    ]
    assert published == [b"b1", b"a2", b"b2"]


async def test_a_batch_failing_in_delivery_holds_back_the_later_records_of_its_partition(
    infra: Infra, topic: str, outbox_db: asyncpg.Pool
) -> None:
    """One record per batch; the delivery of the citizen's second record is reported failed
    after it was queued (the seam: the future the producer gives for the batch; the record did
    reach the broker, as when an acknowledgement is lost). The citizen's later records are not
    sent before it goes again; another citizen's, on another partition, are published."""
    sender = KafkaSender(infra.bootstrap_servers, enable_idempotence=False, max_batch_bytes=1)
    await sender.start()
    partitions = sorted(await sender._producer.partitions_for(topic))
    subject = f"k1:{uuid.uuid4().hex}".encode()
    other = next(
        key
        for key in (f"k1:{uuid.uuid4().hex}".encode() for _ in range(100))
        if sender._partition(key, partitions) != sender._partition(subject, partitions)
    )
    rows = [record(topic, subject if n < 4 else other, f"{'ab'[n // 4]}{n % 4 + 1}") for n in range(6)]
    rows = [rows[0], rows[4], rows[1], rows[2], rows[5], rows[3]]  # a1 b1 a2 a3 b2 a4
    async with outbox_db.acquire() as conn:
        await add_records(conn, [(r, r.headers[0][1].decode(), "test") for r in rows])
    send_batch = sender._producer.send_batch
    batches = 0

    async def second_delivery_of_the_subject_fails(batch: Any, topic: str, *, partition: int) -> Any:
        nonlocal batches
        delivered = await send_batch(batch, topic, partition=partition)
        if partition != sender._partition(subject, partitions):
            return delivered
        batches += 1
        if batches != 2:
            return delivered
        await delivered  # on the broker; the answer is lost
        failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(failed.set_exception, RequestTimedOutError())
        return failed

    sender._producer.send_batch = second_delivery_of_the_subject_fails
    try:
        relay = OutboxRelay(outbox_db, sender)
        assert await relay.publish_batch() == (3, 3)  # a1 b1 b2; a2 failed, a3 a4 held back
        assert await _on_topic(infra, topic, subject) == [b"a1", b"a2"]
        assert await relay.publish_batch() == (3, 0)
    finally:
        await sender.stop()
    # a2 twice (consumers drop the second by its event id), and never a3 before a2.
    assert await _on_topic(infra, topic, subject) == [b"a1", b"a2", b"a2", b"a3", b"a4"]
    assert await _on_topic(infra, topic, other) == [b"b1", b"b2"]


async def _on_topic(infra: Infra, topic: str, key: bytes) -> list[bytes]:
    return [
        dict(headers)["ce_id"]
        for record_key, _, headers in await read_topic(infra.bootstrap_servers, topic)
        if record_key == key
    ]


async def test_a_batch_costs_one_query_to_fetch_and_one_to_mark_however_many_rows(
    infra: Infra, topic: str, outbox_db: asyncpg.Pool
) -> None:
    rows = [record(topic, f"k{n % 50}".encode(), f"e{n}") for n in range(500)]
    async with outbox_db.acquire() as conn:
        await add_records(conn, [(r, r.headers[0][1].decode(), "test") for r in rows])
        # PostgreSQL counts the statements that update the outbox (a pipelined executemany is
        # one statement per row there, however the client sends it).
        await conn.execute(
            "CREATE TABLE outbox_updates (statements integer NOT NULL);"
            " INSERT INTO outbox_updates VALUES (0);"
            " CREATE FUNCTION count_outbox_update() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN UPDATE outbox_updates SET statements = statements + 1; RETURN NULL; END $$;"
            " CREATE TRIGGER count_outbox_update AFTER UPDATE ON outbox"
            " FOR EACH STATEMENT EXECUTE FUNCTION count_outbox_update()"
        )
    sender = KafkaSender(infra.bootstrap_servers, enable_idempotence=infra.broker is None)
    await sender.start()
    try:
        async with outbox_db.acquire() as conn:
            relay = OutboxRelay(outbox_db, sender, batch_size=200)
            # asyncpg looks the statements' types up once per connection: not the relay's.
            assert await relay.publish_batch(conn) == (200, 0)
            sent: list[str] = []
            conn.add_query_logger(lambda query: sent.append(query.query))
            assert await relay.publish_batch(conn) == (200, 0)
            await asyncio.sleep(0)  # the logger is called soon after each statement
            assert [query.split()[0] for query in sent] == ["SELECT", "UPDATE"]
            assert await relay.publish_batch(conn) == (100, 0)
    finally:
        await sender.stop()
    assert not await outbox_db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    assert await outbox_db.fetchval("SELECT statements FROM outbox_updates") == 3


async def test_the_next_batch_fetched_while_one_is_sent_skips_only_the_rows_being_sent(
    outbox_db: asyncpg.Pool,
) -> None:
    """A row committed late with a lower seq than the batch being sent still comes first."""
    async with outbox_db.acquire() as conn:
        await add_records(conn, [(record("t", b"k", f"e{n}"), f"e{n}", "test") for n in range(10)])
        relay = OutboxRelay(outbox_db, _NoSender(), batch_size=4)
        first = await relay._pending(conn)
        assert [row["event_id"] for row in first] == ["e0", "e1", "e2", "e3"]
        sending = first[1:3]  # as if e0 and e3 had been committed after e1 and e2 were fetched
        assert [row["event_id"] for row in await relay._pending(conn, sending)] == ["e0", "e3", "e4", "e5"]
        # A gap in the batch being sent: e1 took its seq before the batch was fetched but was
        # committed after; it comes before the key's later rows, not after them.
        gapped = [first[0], first[2]]
        assert [row["event_id"] for row in await relay._pending(conn, gapped)] == ["e1", "e3", "e4", "e5"]


class _NoSender:
    async def send_all(self, records: Any) -> list[BaseException | None]:
        raise AssertionError("nothing is sent here")


async def test_an_idempotent_sender_goes_on_with_a_new_producer_after_the_broker_refused_a_batch(
    infra: Infra, topic: str
) -> None:
    """An idempotent producer numbers each partition's batches; one the broker refused as too
    large leaves its number ahead of the broker's, and every later batch to that partition would
    be refused as out of order, for ever (Apache Kafka; the embedded broker has no idempotent
    producer, so the refusal is made at the seam: the producer's first multi-record batch). The
    sender goes on with a new producer, the records one by one, all published."""
    sender = KafkaSender(infra.bootstrap_servers, enable_idempotence=False)
    sender._idempotent = True  # what the refusal does to an idempotent producer is the point
    await sender.start()
    first = sender._producer
    send_batch = first.send_batch

    async def refuse_a_batch_of_several(batch: Any, topic: str, *, partition: int) -> Any:
        if batch.record_count() > 1:
            raise MessageSizeTooLargeError("the batch is larger than the topic takes")
        return await send_batch(batch, topic, partition=partition)

    first.send_batch = refuse_a_batch_of_several
    key = f"k1:{uuid.uuid4().hex}".encode()
    try:
        results = await sender.send_all([record(topic, key, f"r{n}") for n in range(3)])
        renewed = sender._producer
    finally:
        await sender.stop()
    assert results == [None, None, None]
    assert renewed is not first, "the refused batch's producer numbers batches the broker will refuse"
    assert await _on_topic(infra, topic, key) == [b"r0", b"r1", b"r2"]
