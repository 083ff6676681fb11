"""The reliable-messaging guarantees, proven against the real broker and PostgreSQL."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from samspil.runtime.codec import header
from samspil.runtime.db import Connection, migrate
from samspil.runtime.deadletters import replay_dead_letters
from samspil.runtime.errors import Rejected
from samspil.runtime.kafka import KafkaSender
from samspil.runtime.outbox import OutboxRelay, add_event
from schemas.topics import PROVIDER_REPORTS, dead_letter_topic
from tests.infra import Infra
from tests.integration.conftest import RuntimeFactory, record_effect
from tests.support import absence_notice, encoded_notice, produce, read_topic, wait_for


async def effects(runtime: Any, event_id: Any) -> int:
    count: int = await runtime.pool.fetchval("SELECT count(*) FROM effect WHERE event_id = $1", event_id)
    return count


async def test_relay_killed_between_publishing_and_marking_has_one_effect(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    producer_db = infra.create_database()
    pool = await asyncpg.create_pool(producer_db)
    await migrate(pool, "samspil.runtime.migrations")
    envelope, notice = absence_notice()
    async with pool.acquire() as conn, conn.transaction():
        await add_event(conn, envelope, notice)

    sender = KafkaSender(infra.bootstrap_servers, enable_idempotence=infra.broker is None)
    await sender.start()
    try:
        crashing = OutboxRelay(pool, sender)

        async def crash(*_: Any) -> None:
            raise RuntimeError("relay process died before marking the row")

        crashing._mark_published = crash  # type: ignore[method-assign,assignment]
        with pytest.raises(RuntimeError):
            await crashing.publish_batch()
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 1

        restarted = OutboxRelay(pool, sender)
        assert await restarted.publish_batch() == (1, 0)
    finally:
        await sender.stop()
        await pool.close()

    copies = [
        r
        for r in await read_topic(infra.bootstrap_servers, PROVIDER_REPORTS.name)
        if header(r[2], "ce_id") == str(envelope.id)
    ]
    assert len(copies) == 2, "the event should really have been published twice"

    async with consumer_runtime() as runtime:
        await wait_for(lambda: effects(runtime, envelope.id))
        await wait_for(lambda: inbox_count(runtime, envelope.id))
        assert await effects(runtime, envelope.id) == 1


async def test_message_delivered_twice_has_one_effect(infra: Infra, consumer_runtime: RuntimeFactory) -> None:
    envelope, record = encoded_notice()
    async with consumer_runtime() as runtime:
        await produce(infra.bootstrap_servers, record, record)
        await wait_for(lambda: effects(runtime, envelope.id))
        # Wait until the second copy has been consumed too: it leaves nothing but a log line,
        # so wait for a later marker event to be processed behind it on the same key.
        marker, marker_record = encoded_notice(subject=envelope.subject)
        await produce(infra.bootstrap_servers, marker_record)
        await wait_for(lambda: effects(runtime, marker.id))
        assert await effects(runtime, envelope.id) == 1
        assert await inbox_count(runtime, envelope.id) == 1


async def test_poison_message_is_dead_lettered_and_later_messages_still_processed(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    poison_envelope, poison = encoded_notice()
    broken = type(poison)(
        topic=poison.topic, key=poison.key, value=b'{"absent_from": "not a date"', headers=poison.headers
    )
    later, later_record = encoded_notice(subject=poison_envelope.subject)

    async with consumer_runtime() as runtime:
        await produce(infra.bootstrap_servers, broken, later_record)
        await wait_for(lambda: effects(runtime, later.id))
        row = await runtime.pool.fetchrow(
            "SELECT * FROM dead_letter WHERE event_id = $1", str(poison_envelope.id)
        )
        assert row is not None
        assert row["reason"] == "invalid-data"
        assert row["payload"] == broken.value

        dead = await wait_for(lambda: dead_letters_on_topic(infra, runtime.name, poison_envelope.id))
        key, value, headers = dead[0]
        assert value == broken.value and key == broken.key
        assert header(headers, "dlq_reason") == "invalid-data"
        assert header(headers, "dlq_original_topic") == PROVIDER_REPORTS.name
        assert header(headers, "ce_id") == str(poison_envelope.id)


async def test_handler_that_keeps_failing_is_dead_lettered_after_bounded_attempts_and_can_be_replayed(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    calls = 0
    healthy = False
    envelope, record = encoded_notice()

    async def flaky(conn: Connection, seen: Any, data: Any) -> None:
        nonlocal calls
        if seen.id != envelope.id:
            return  # other tests' events share the topic
        calls += 1
        if not healthy:
            raise ValueError("the case system rejected the task")
        await conn.execute(
            "INSERT INTO effect (event_id, citizen_ref) VALUES ($1, $2)", seen.id, seen.subject
        )

    async with consumer_runtime(handler=flaky, consumer_max_attempts=3) as runtime:
        await produce(infra.bootstrap_servers, record)
        row = await wait_for(
            lambda: runtime.pool.fetchrow("SELECT * FROM dead_letter WHERE event_id = $1", str(envelope.id))
        )
        assert row["reason"] == "handler-failed" and row["attempts"] == 3
        assert "the case system rejected the task" in row["error"]
        assert calls == 3
        assert await effects(runtime, envelope.id) == 0

        healthy = True  # the fault is mended; the operator replays
        async with runtime.pool.acquire() as conn:
            assert await replay_dead_letters(conn, [row["id"]]) == 1
        await wait_for(lambda: effects(runtime, envelope.id))
        assert await effects(runtime, envelope.id) == 1


async def test_unknown_event_type_and_missing_envelope_are_dead_lettered(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    envelope, record = encoded_notice()
    unknown_headers = [(k, b"dk.samspil.nobody.knows.v1" if k == "ce_type" else v) for k, v in record.headers]
    unknown = type(record)(record.topic, record.key, record.value, unknown_headers)
    bare = type(record)(record.topic, record.key, b"{}", [("ce_specversion", b"1.0")])
    async with consumer_runtime() as runtime:
        [_, (partition, offset)] = await produce(infra.bootstrap_servers, unknown, bare)
        # This record's dead letter: the topic is shared, and a group new to it reads other
        # tests' records from the beginning too.
        invalid = await wait_for(
            lambda: runtime.pool.fetchrow(
                "SELECT * FROM dead_letter WHERE reason = 'invalid-envelope'"
                " AND kafka_partition = $1 AND kafka_offset = $2",
                partition,
                offset,
            )
        )
        assert "ce_id" in invalid["error"] and "ce_source" in invalid["error"]
        assert invalid["event_id"] is None
        unknown_row = await runtime.pool.fetchrow(
            "SELECT * FROM dead_letter WHERE event_id = $1", str(envelope.id)
        )
        assert unknown_row is not None
        assert unknown_row["reason"] == "unknown-type"
        assert "dk.samspil.nobody.knows.v1" in unknown_row["error"]


async def dead_letters_kept(runtime: Any, event_id: Any) -> tuple[int, int]:
    """How many dead letters the runtime keeps for the event: rows in its table, and records
    in its outbox for the dead-letter topic."""
    rows: int = await runtime.pool.fetchval(
        "SELECT count(*) FROM dead_letter WHERE event_id = $1", str(event_id)
    )
    records: int = await runtime.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE event_id = $1", str(event_id)
    )
    return rows, records


async def inbox_count(runtime: Any, event_id: Any) -> int:
    count: int = await runtime.pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", event_id)
    return count


async def dead_letters_on_topic(infra: Infra, name: str, event_id: Any) -> list[Any]:
    records = await read_topic(infra.bootstrap_servers, dead_letter_topic(name).name)
    return [r for r in records if header(r[2], "ce_id") == str(event_id)]


async def test_a_header_with_no_value_does_not_make_the_record_vanish(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    envelope, record = encoded_notice()
    odd = type(record)(record.topic, record.key, record.value, [*record.headers, ("x-trace", None)])  # type: ignore[list-item]
    async with consumer_runtime() as runtime:
        await produce(infra.bootstrap_servers, odd)
        await wait_for(lambda: effects(runtime, envelope.id))
        assert await effects(runtime, envelope.id) == 1


async def test_a_record_with_a_nul_character_is_dead_lettered_and_the_consumer_goes_on(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    poison_envelope, poison = encoded_notice()
    nul_key = type(poison)(poison.topic, poison.key, b'{"\\u0000": 1}', [*poison.headers, ("x-\x00", b"v")])
    later, later_record = encoded_notice(subject=poison_envelope.subject)
    async with consumer_runtime() as runtime:
        await produce(infra.bootstrap_servers, nul_key, later_record)
        await wait_for(lambda: effects(runtime, later.id))
        row = await runtime.pool.fetchrow(
            "SELECT * FROM dead_letter WHERE event_id = $1", str(poison_envelope.id)
        )
        assert row is not None and row["reason"] == "invalid-data"
        assert "\\x00" in row["error"] and "x-\\x00" in row["header_names"]


async def test_a_record_carrying_trace_context_extensions_is_handled_not_dead_lettered(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    envelope, record = encoded_notice()
    traced = type(record)(
        record.topic,
        record.key,
        record.value,
        [
            *record.headers,
            ("ce_traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ("ce_tracestate", b"samspil=00f067aa0ba902b7"),
        ],
    )
    async with consumer_runtime() as runtime:
        await produce(infra.bootstrap_servers, traced)
        await wait_for(lambda: effects(runtime, envelope.id))
        assert await effects(runtime, envelope.id) == 1
        assert await inbox_count(runtime, envelope.id) == 1
        dead = await runtime.pool.fetchval(
            "SELECT count(*) FROM dead_letter WHERE event_id = $1", str(envelope.id)
        )
        assert dead == 0


async def test_an_unknown_attribute_holding_a_cpr_number_is_dead_lettered_without_it(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    envelope, record = encoded_notice()
    leaking = type(record)(
        record.topic, record.key, record.value, [*record.headers, ("ce_note", b"010190-1234")]
    )
    async with consumer_runtime() as runtime:
        await produce(infra.bootstrap_servers, leaking)
        row = await wait_for(
            lambda: runtime.pool.fetchrow(
                "SELECT * FROM dead_letter WHERE reason = 'invalid-envelope' AND error LIKE '%ce_note%'"
            )
        )
        assert "must not contain a CPR number" in row["error"]
        assert await effects(runtime, envelope.id) == 0
        assert "010190-1234" not in repr(dict(row))


async def test_an_event_given_again_after_its_dead_letter_is_skipped_until_replayed(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    """As after a broker replacement, which hands the consumers every event again: a rejected
    command read again is neither handled (it might pass now, out of turn) nor dead-lettered a
    second time; once replayed it is handled."""
    calls = 0
    rejecting = True
    envelope, record = encoded_notice()
    later, later_record = encoded_notice(subject=envelope.subject)  # same key: read after it

    async def strict(conn: Connection, seen: Any, data: Any) -> None:
        nonlocal calls
        if seen.id == envelope.id:
            calls += 1
            if rejecting:
                raise Rejected("the referral is closed")
        await record_effect(conn, seen, data)

    async with consumer_runtime(handler=strict) as runtime:
        await produce(infra.bootstrap_servers, record)
        dead = await wait_for(
            lambda: runtime.pool.fetchrow("SELECT * FROM dead_letter WHERE event_id = $1", str(envelope.id))
        )
        assert dead["reason"] == "rejected"
        rejecting = False  # it would pass now
        await produce(infra.bootstrap_servers, record, later_record)
        await wait_for(lambda: effects(runtime, later.id))
        assert calls == 1
        assert await effects(runtime, envelope.id) == 0
        assert await dead_letters_kept(runtime, envelope.id) == (1, 1)

        async with runtime.pool.acquire() as conn:
            assert await replay_dead_letters(conn, [dead["id"]]) == 1
        await wait_for(lambda: effects(runtime, envelope.id))
        assert calls == 2


async def test_an_invalid_record_given_again_is_dead_lettered_once(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    envelope, notice = encoded_notice()
    broken = type(notice)(
        topic=notice.topic, key=notice.key, value=b'{"absent_from": "not a date"', headers=notice.headers
    )
    later, later_record = encoded_notice(subject=envelope.subject)
    async with consumer_runtime() as runtime:
        await produce(infra.bootstrap_servers, broken, broken, later_record)
        await wait_for(lambda: effects(runtime, later.id))
        assert await dead_letters_kept(runtime, envelope.id) == (1, 1)


async def test_an_event_sent_again_after_a_redacted_dead_letter_is_handled(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    """A dead letter that held a CPR number was redacted and cannot be replayed; its sender is
    asked to send the event again without the number, perhaps with the same id. That one is
    handled, not skipped as waiting for a replay that can never come."""
    envelope, record = encoded_notice()
    async with consumer_runtime() as runtime:
        await runtime.pool.execute(
            "INSERT INTO dead_letter (consumer, topic, kafka_partition, kafka_offset, header_names,"
            " header_values, payload, event_id, reason, error, attempts, redacted)"
            " VALUES ($1, $2, 0, 0, '{}', '{}', '', $3, 'invalid-data', 'e', 1, '{data.reason}')",
            runtime.name,
            record.topic,
            str(envelope.id),
        )
        await produce(infra.bootstrap_servers, record)
        await wait_for(lambda: effects(runtime, envelope.id))
        assert await effects(runtime, envelope.id) == 1
