"""Batched consumption, proven against the real broker and PostgreSQL: a poison record inside a
batch does not hold back or fail its neighbours, a consumer killed in the middle of a batch loses
and doubles nothing, and neither an unexpected failure in the consumer nor a database failure while
a dead letter is written lets the committed offset pass a record."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from samspil.runtime.codec import Record
from samspil.runtime.db import Connection
from samspil.runtime.errors import Rejected
from samspil.runtime.kafka import ensure_topics
from samspil.runtime.service import ServiceRuntime
from schemas.envelope import Envelope
from schemas.topics import Topic, dead_letter_topic
from tests.infra import Infra
from tests.integration.conftest import EFFECT_TABLE, RuntimeFactory, on_topic
from tests.integration.test_consumer_crash import committed_offset
from tests.integration.test_reliable_messaging import dead_letters_on_topic, effects, inbox_count
from tests.support import citizen_ref, encoded_notice, produce, wait_for


def notices_for_one_citizen(count: int, topic: Topic) -> tuple[list[Envelope], list[Record]]:
    """Absence notices about one citizen, bound for ``topic`` (the test's own, so that a batch
    holds nothing but the test's records): one key, so one partition, in this order."""
    subject = citizen_ref()
    pairs = [encoded_notice(subject=subject) for _ in range(count)]
    return [envelope for envelope, _ in pairs], on_topic(topic, *(record for _, record in pairs))


def unreadable(record: Record) -> Record:
    """The record with data that fails validation (its envelope is fine)."""
    return Record(
        topic=record.topic, key=record.key, value=b'{"absent_from": "not a date"', headers=record.headers
    )


async def committed(runtime: ServiceRuntime, topic: Topic, partition: int, infra: Infra) -> int:
    return await committed_offset(infra, runtime.group_id, topic, partition) or 0


@pytest.mark.parametrize("failure", ["handler-failed", "rejected"])
async def test_a_poison_record_inside_a_batch_is_dead_lettered_and_its_neighbours_handled_once(
    infra: Infra, consumer_runtime: RuntimeFactory, own_reports_topic: Topic, failure: str
) -> None:
    envelopes, records = notices_for_one_citizen(7, own_reports_topic)
    poison = envelopes[3]
    calls: dict[uuid.UUID, int] = {}

    async def handler(conn: Connection, envelope: Envelope, _: Any) -> None:
        calls[envelope.id] = calls.get(envelope.id, 0) + 1
        if envelope.id == poison.id:
            if failure == "rejected":
                raise Rejected("no such referral", field="referral_id")
            raise ValueError("the case system refused it")
        await conn.execute(
            "INSERT INTO effect (event_id, citizen_ref) VALUES ($1, $2)", envelope.id, envelope.subject
        )

    # Put on the topic before the consumer joins its group, so one fetch brings them together.
    placed = await produce(infra.bootstrap_servers, *records, together=True)
    [partition] = {p for p, _ in placed}
    async with consumer_runtime(
        handler=handler, topics=(own_reports_topic,), consumer_max_attempts=3
    ) as runtime:
        end = placed[-1][1] + 1
        await wait_for(
            lambda: _at_least(committed(runtime, own_reports_topic, partition, infra), end), timeout=60
        )

        for envelope in envelopes:
            if envelope.id != poison.id:
                assert await effects(runtime, envelope.id) == 1, envelope.id
                assert await inbox_count(runtime, envelope.id) == 1
        assert await effects(runtime, poison.id) == 0
        row = await runtime.pool.fetchrow("SELECT * FROM dead_letter WHERE event_id = $1", str(poison.id))
        assert row is not None and row["reason"] == failure
        if failure == "rejected":
            assert "no such referral" in row["error"] and row["attempts"] == 1
            # Dead-lettered at once: its try inside the batch was its only one.
            assert calls[poison.id] == 1
        else:
            assert "the case system refused it" in row["error"] and row["attempts"] == 3
            assert calls[poison.id] == 3  # the try inside the batch counts as the first
        assert len(await wait_for(lambda: dead_letters_on_topic(infra, runtime.name, poison.id))) == 1


async def _at_least(value: Any, minimum: int) -> bool:
    return bool(await value >= minimum)


def start_consumer(
    infra: Infra,
    topic: Topic,
    name: str,
    mode: str,
    marker: Path,
    database_url: str,
    env: dict[str, str],
    log: Path,
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.integration.consumer_process", name, mode, str(marker)],
            env={
                **os.environ,
                "DATABASE_URL": database_url,
                "REPORTS_TOPIC": topic.name,
                **infra.client_env,
                **env,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_a_consumer_killed_in_the_middle_of_a_batch_loses_and_doubles_nothing(
    infra: Infra, own_reports_topic: Topic, tmp_path: Path
) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.bootstrap_servers, [dead_letter_topic(name)])
    database_url = infra.create_database()
    conn = await asyncpg.connect(database_url)
    await conn.execute(EFFECT_TABLE)
    envelopes, records = notices_for_one_citizen(6, own_reports_topic)
    placed = await produce(infra.bootstrap_servers, *records, together=True)
    [partition] = {p for p, _ in placed}
    target = envelopes[4]  # the fifth: four handled before it in the same batch, one after
    ids = [envelope.id for envelope in envelopes]
    env = {
        "TARGET_EVENT_ID": str(target.id),
        "WATCHED_EVENT_IDS": ",".join(map(str, ids)),
        # Room for all six in one batch (they are one record batch on the topic).
        "SAMSPIL_CONSUMER_BATCH_SIZE": "100",
    }
    marker, log = tmp_path / "in-handler", tmp_path / "consumer.log"

    first = start_consumer(infra, own_reports_topic, name, "stall", marker, database_url, env, log)
    try:
        await wait_for(lambda: asyncio.to_thread(marker.exists), timeout=60)
        handled_before = (await asyncio.to_thread(marker.read_text)).split(",")
        first.kill()
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
    # The four before it were handled in the batch's transaction, which died with the process.
    assert handled_before == [str(i) for i in ids[:5]], log.read_text()[-3000:]
    assert await conn.fetchval("SELECT count(*) FROM effect WHERE event_id = ANY($1::uuid[])", ids) == 0
    assert await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", ids) == 0
    offset = await committed_offset(infra, f"samspil-{name}", own_reports_topic, partition)
    assert offset is None or offset <= placed[0][1], f"committed {offset} past the unhandled {placed[0][1]}"

    second = start_consumer(infra, own_reports_topic, name, "normal", marker, database_url, env, log)
    try:

        async def all_committed() -> bool:
            offset = await committed_offset(infra, f"samspil-{name}", own_reports_topic, partition)
            return offset is not None and offset > placed[-1][1]

        await wait_for(all_committed, timeout=90)
        for event_id in ids:
            assert await conn.fetchval("SELECT count(*) FROM effect WHERE event_id = $1", event_id) == 1
            assert await conn.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event_id) == 1
    finally:
        second.terminate()
        second.wait(30)
        await conn.close()
    assert second.returncode == 0, log.read_text()[-3000:]


async def test_an_unexpected_failure_in_the_consumer_does_not_let_the_offset_pass_the_record(
    infra: Infra, consumer_runtime: RuntimeFactory, own_reports_topic: Topic
) -> None:
    (poison, good), (poison_record, good_record) = notices_for_one_citizen(2, own_reports_topic)
    async with consumer_runtime(topics=(own_reports_topic,)) as runtime:
        await runtime.connected()
        consumer = runtime.consumer
        assert consumer is not None
        dead_letter = consumer._dead_letter
        failures = 0

        async def fails_once(record: Any, envelope: Any, *args: Any) -> Any:
            # Not the handler's failure (that is retried and dead-lettered): the consumer's own.
            nonlocal failures
            if envelope is not None and envelope.id == poison.id and failures == 0:
                failures += 1
                raise RuntimeError("a bug in the consumer")
            return await dead_letter(record, envelope, *args)

        consumer._dead_letter = fails_once  # type: ignore[method-assign,assignment]
        placed = await produce(infra.bootstrap_servers, unreadable(poison_record), good_record)
        partition = placed[0][0]
        await wait_for(lambda: effects(runtime, good.id), timeout=60)
        await wait_for(
            lambda: _at_least(committed(runtime, own_reports_topic, partition, infra), placed[1][1] + 1),
            timeout=30,
        )
        assert failures == 1
        # The offset is past the poison record only because it was read again and dead-lettered.
        row = await runtime.pool.fetchrow("SELECT * FROM dead_letter WHERE event_id = $1", str(poison.id))
        assert row is not None, "the offset moved past a record whose processing failed"
        assert row["reason"] == "invalid-data"
        assert await effects(runtime, good.id) == 1


# Fails the insert of the named event's dead letter while dead_letter_fault names it, counting
# the attempts in a sequence (not rolled back with the failed insert).
DEAD_LETTER_FAULT = """
CREATE TABLE dead_letter_fault (event_id text);
CREATE SEQUENCE dead_letter_attempts;
CREATE FUNCTION dead_letter_fault() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.event_id IN (SELECT event_id FROM dead_letter_fault) THEN
        PERFORM nextval('dead_letter_attempts');
        RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER dead_letter_fault BEFORE INSERT ON dead_letter
    FOR EACH ROW EXECUTE FUNCTION dead_letter_fault();
"""


async def test_a_database_failure_while_dead_lettering_does_not_let_the_offset_move_on(
    infra: Infra, consumer_runtime: RuntimeFactory, own_reports_topic: Topic
) -> None:
    (poison, good), (poison_record, good_record) = notices_for_one_citizen(2, own_reports_topic)
    async with consumer_runtime(topics=(own_reports_topic,)) as runtime:
        await runtime.connected()
        await runtime.pool.execute(DEAD_LETTER_FAULT)
        await runtime.pool.execute("INSERT INTO dead_letter_fault VALUES ($1)", str(poison.id))
        placed = await produce(infra.bootstrap_servers, unreadable(poison_record), good_record)
        partition, poison_offset = placed[0]

        async def attempts() -> int:
            value: int = await runtime.pool.fetchval(
                "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM dead_letter_attempts"
            )
            return value

        async def tried_again_or_moved_on() -> tuple[int, int | None] | None:
            offset = await committed_offset(infra, runtime.group_id, own_reports_topic, partition)
            tries = await attempts()
            moved_on = offset is not None and offset > poison_offset
            return (tries, offset) if tries >= 2 or (tries >= 1 and moved_on) else None

        # Tried, failed, read again and tried again: all the while the offset stays before it.
        _, offset = await wait_for(tried_again_or_moved_on, timeout=60)
        assert offset is None or offset <= poison_offset, (
            f"committed {offset} past {poison_offset}, whose dead letter was never written"
        )
        assert (
            await runtime.pool.fetchval(
                "SELECT count(*) FROM dead_letter WHERE event_id = $1", str(poison.id)
            )
            == 0
        )

        await runtime.pool.execute("DELETE FROM dead_letter_fault")  # the disk has room again
        await wait_for(
            lambda: _at_least(committed(runtime, own_reports_topic, partition, infra), placed[1][1] + 1),
            timeout=60,
        )
        row = await runtime.pool.fetchrow("SELECT * FROM dead_letter WHERE event_id = $1", str(poison.id))
        assert row is not None and row["reason"] == "invalid-data"
        assert await effects(runtime, good.id) == 1
        assert len(await wait_for(lambda: dead_letters_on_topic(infra, runtime.name, poison.id))) == 1
