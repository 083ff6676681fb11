"""Writing to the outbox: one round trip per call, set-wise for many records, the writer's
trace context kept, and the relay woken at commit (by the outbox's trigger, migration 008)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from samspil.runtime.codec import Record
from samspil.runtime.outbox import NOTIFY_CHANNEL, add_record, add_records

TRACEPARENT = f"00-{0xAB12CD34EF56AB78CD90EF12AB34CD57:032x}-{0xBC12CD34EF56AB79:016x}-01"


def record(n: int, headers: list[tuple[str, bytes]] | None = None) -> Record:
    return Record(
        topic="t",
        key=f"key-{n % 3}".encode(),
        value=f"value-{n}".encode(),
        headers=[("ce_id", f"e-{n}".encode())] if headers is None else headers,
    )


async def test_add_records_stores_every_record_in_order_with_the_writers_trace_context(
    outbox_db: asyncpg.Pool,
) -> None:
    items: list[tuple[Record, str | None, str]] = [(record(n), f"e-{n}", "type") for n in range(5)]
    items.append((record(5, headers=[]), None, "dead-letter"))  # no headers, no event id
    items.append((record(6, headers=[("a\x00b", b"\x00")]), "e-6", "type"))
    writer = SpanContext(
        0xAB12CD34EF56AB78CD90EF12AB34CD57,
        0xBC12CD34EF56AB79,
        False,
        TraceFlags(1),
        TraceState([("samspil", "a1")]),
    )
    with trace.use_span(NonRecordingSpan(writer)):
        async with outbox_db.acquire() as conn, conn.transaction():
            await add_records(conn, items)
            await add_records(conn, [])
    rows = await outbox_db.fetch(
        "SELECT event_id, event_type, topic, record_key, header_names, header_values, payload,"
        " traceparent, tracestate FROM outbox ORDER BY seq"
    )
    assert [row["payload"] for row in rows] == [f"value-{n}".encode() for n in range(7)]
    assert [row["event_id"] for row in rows] == [*(f"e-{n}" for n in range(5)), None, "e-6"]
    assert [row["record_key"] for row in rows] == [f"key-{n % 3}".encode() for n in range(7)]
    assert rows[0]["header_names"] == ["ce_id"] and rows[0]["header_values"] == [b"e-0"]
    assert rows[5]["header_names"] == [] and rows[5]["event_type"] == "dead-letter"
    assert rows[6]["header_names"] == ["a\\x00b"] and rows[6]["header_values"] == [b"\x00"]
    assert {(row["traceparent"], row["tracestate"]) for row in rows} == {(TRACEPARENT, "samspil=a1")}


async def test_a_record_is_stored_in_one_statement_and_wakes_the_listener_once_at_commit(
    outbox_db: asyncpg.Pool,
) -> None:
    notified: asyncio.Queue[Any] = asyncio.Queue()
    listener = await outbox_db.acquire()
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: notified.put_nowait(args))
    try:
        async with outbox_db.acquire() as conn:
            # asyncpg introspects the statement's types once per connection: not the writer's.
            await add_records(conn, [(record(0), "e-0", "type")])
            await asyncio.wait_for(notified.get(), timeout=10)
            # PostgreSQL counts the writing statements (a COPY is not seen by asyncpg's logger).
            await conn.execute(
                "CREATE TEMP TABLE outbox_statements (n int);"
                " CREATE FUNCTION pg_temp.count_statement() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN INSERT INTO outbox_statements VALUES (1); RETURN NULL; END $$;"
                " CREATE TRIGGER count_statements AFTER INSERT ON outbox FOR EACH STATEMENT"
                " EXECUTE FUNCTION pg_temp.count_statement();"
            )
            async with conn.transaction():
                await add_record(conn, record(1), "e-1", "type")
                await add_records(conn, [(record(n), f"e-{n}", "type") for n in range(2, 50)])
                await listener.fetchval("SELECT 1")  # a round trip: a notification would have come
                assert notified.empty(), "notified before the rows were committed"
            writes = await conn.fetchval("SELECT count(*) FROM outbox_statements")
            await conn.execute("DROP TRIGGER count_statements ON outbox")
        assert writes == 2, f"{writes} statements stored 49 records"
        await asyncio.wait_for(notified.get(), timeout=10)
        await listener.fetchval("SELECT 1")  # any second notification has arrived by now
        assert notified.empty(), "one transaction should wake the relay once"
        assert await outbox_db.fetchval("SELECT count(*) FROM outbox") == 50
    finally:
        await listener.reset()
        await outbox_db.release(listener)
