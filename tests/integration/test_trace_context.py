"""The W3C trace context through the outbox, the broker and the consumer, against the real broker
and PostgreSQL. No tracer provider is set up in the test process, so the context passes through
unchanged: what the outbox row stores is what the record carries and what the handler runs in."""

from __future__ import annotations

import dataclasses
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from samspil.runtime.codec import header
from samspil.runtime.db import Connection
from samspil.runtime.outbox import add_event
from schemas.envelope import Envelope
from schemas.topics import PROVIDER_REPORTS, dead_letter_topic
from tests.infra import Infra
from tests.integration.conftest import RuntimeFactory, record_effect
from tests.support import absence_notice, encoded_notice, produce, read_topic, wait_for

TRACE_ID, SPAN_ID = 0xAB12CD34EF56AB78CD90EF12AB34CD57, 0xBC12CD34EF56AB79
TRACEPARENT = f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"


def handler_recording_its_context(seen: dict[Any, SpanContext]) -> Any:
    async def handle(conn: Connection, envelope: Envelope, data: Any) -> None:
        seen[envelope.id] = trace.get_current_span().get_span_context()
        await record_effect(conn, envelope, data)

    return handle


async def test_the_outbox_row_keeps_the_writers_trace_context_and_the_consumer_continues_it(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    seen: dict[Any, SpanContext] = {}
    envelope, notice = absence_notice()
    writer = SpanContext(TRACE_ID, SPAN_ID, False, TraceFlags(1), TraceState([("samspil", "a1")]))
    async with consumer_runtime(handler=handler_recording_its_context(seen)) as runtime:
        with trace.use_span(NonRecordingSpan(writer)):
            async with runtime.pool.acquire() as conn, conn.transaction():
                await add_event(conn, envelope, notice)
        stored = await runtime.pool.fetchrow(
            "SELECT traceparent, tracestate FROM outbox WHERE event_id = $1", str(envelope.id)
        )
        assert stored is not None and tuple(stored) == (TRACEPARENT, "samspil=a1")
        await wait_for(lambda: _has(seen, envelope.id))
    handled = seen[envelope.id]
    assert (handled.trace_id, handled.span_id) == (TRACE_ID, SPAN_ID)
    assert handled.trace_state.get("samspil") == "a1"
    (published,) = [
        r
        for r in await read_topic(infra.bootstrap_servers, PROVIDER_REPORTS.name)
        if header(r[2], "ce_id") == str(envelope.id)
    ]
    assert header(published[2], "ce_traceparent") == TRACEPARENT
    assert header(published[2], "ce_tracestate") == "samspil=a1"


async def test_a_row_written_outside_any_trace_is_published_without_trace_headers(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    envelope, notice = absence_notice()
    async with consumer_runtime() as runtime:
        async with runtime.pool.acquire() as conn, conn.transaction():
            await add_event(conn, envelope, notice)
        stored = await runtime.pool.fetchrow(
            "SELECT traceparent, tracestate FROM outbox WHERE event_id = $1", str(envelope.id)
        )
        assert stored is not None and tuple(stored) == (None, None)
        await wait_for(
            lambda: runtime.pool.fetchval("SELECT count(*) FROM effect WHERE event_id = $1", envelope.id)
        )
    (published,) = [
        r
        for r in await read_topic(infra.bootstrap_servers, PROVIDER_REPORTS.name)
        if header(r[2], "ce_id") == str(envelope.id)
    ]
    assert header(published[2], "ce_traceparent") is None


async def test_a_malformed_traceparent_is_ignored_and_the_record_handled_not_dead_lettered(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    seen: dict[Any, SpanContext] = {}
    envelope, record = encoded_notice()
    malformed = dataclasses.replace(
        record,
        headers=[*record.headers, ("ce_traceparent", b"00-zz-not-hex-01"), ("ce_tracestate", b"===")],
    )
    async with consumer_runtime(handler=handler_recording_its_context(seen)) as runtime:
        await produce(infra.bootstrap_servers, malformed)
        await wait_for(lambda: _has(seen, envelope.id))
        dead = await runtime.pool.fetchval(
            "SELECT count(*) FROM dead_letter WHERE event_id = $1", str(envelope.id)
        )
        name = runtime.name
    assert dead == 0
    assert not seen[envelope.id].is_valid  # a new trace (none, with no tracer provider here)
    assert not [
        r
        for r in await read_topic(infra.bootstrap_servers, dead_letter_topic(name).name)
        if header(r[2], "ce_id") == str(envelope.id)
    ]


async def _has(seen: dict[Any, SpanContext], key: Any) -> bool:
    return key in seen
