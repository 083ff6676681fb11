"""What the runtime's spans record, as exported, against the real PostgreSQL: a failed statement
(whose error DETAIL quotes the failing row and the conflicting key), the relay's publish spans and
the consumer's process span."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import asyncpg
import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, StatusCode, TraceFlags

from samspil.runtime import consumer, outbox
from samspil.runtime.codec import Record, header
from samspil.runtime.consumer import ReliableConsumer
from samspil.runtime.db import create_pool
from samspil.runtime.outbox import OutboxRelay, add_event
from samspil.runtime.tracing import CprMaskingExporter, build_tracer_provider
from schemas.topics import PROVIDER_REPORTS
from tests.infra import Infra
from tests.integration.conftest import DEAD_LETTER_KEY, Consumed
from tests.support import absence_notice, random_cpr


@pytest.fixture
def traced_queries() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exported = InMemorySpanExporter()
    provider = build_tracer_provider("employment", None, {})
    provider.add_span_processor(SimpleSpanProcessor(CprMaskingExporter(exported)))
    instrumentor = AsyncPGInstrumentor(capture_parameters=False)  # type: ignore[no-untyped-call]
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield provider, exported
    finally:
        instrumentor.uninstrument()


async def test_a_constraint_violation_is_exported_without_the_rows_values(
    employment_db: asyncpg.Pool, traced_queries: tuple[TracerProvider, InMemorySpanExporter]
) -> None:
    provider, exported = traced_queries
    cpr, note = random_cpr().replace("-", ""), "borgeren var syg hele ugen"
    async with employment_db.acquire() as conn:
        await conn.execute(
            "CREATE TEMP TABLE person (cpr text PRIMARY KEY, note text CHECK (length(note) < 5))"
        )
        await conn.execute("INSERT INTO person VALUES ($1, 'ok')", cpr)
        with provider.get_tracer("test").start_as_current_span("handle", kind=SpanKind.CONSUMER):
            with pytest.raises(asyncpg.UniqueViolationError) as duplicate:
                await conn.execute("INSERT INTO person VALUES ($1, 'ok')", cpr)
            with pytest.raises(asyncpg.CheckViolationError) as too_long:
                await conn.execute("INSERT INTO person VALUES ($1, $2)", "k1:abc", note)
    # What PostgreSQL said, and what the instrumentation recorded of it.
    assert cpr in (duplicate.value.detail or "") and note in (too_long.value.detail or "")
    failed = [span for span in exported.get_finished_spans() if span.name == "INSERT"]
    assert len(failed) == 2, "both failed statements were recorded"
    for span in failed:
        assert [event.name for event in span.events] == ["exception"]
        assert set(span.events[0].attributes or {}) <= {"exception.type", "error.type"}
        values = [span.name, span.status.description or ""]
        values += [str(value) for value in (span.attributes or {}).values()]
        values += [str(value) for event in span.events for value in (event.attributes or {}).values()]
        assert not [value for value in values if cpr in value or note in value or "k1:abc" in value]


@pytest.fixture
def runtime_spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    """The relay's and the consumer's spans, recorded (no global tracer provider is set up in
    the test process)."""
    exported = InMemorySpanExporter()
    provider = build_tracer_provider("employment", None, {})
    provider.add_span_processor(SimpleSpanProcessor(CprMaskingExporter(exported)))
    monkeypatch.setattr(outbox, "tracer", lambda: provider.get_tracer("samspil.runtime"))
    monkeypatch.setattr(consumer, "tracer", lambda: provider.get_tracer("samspil.runtime"))
    return exported


@dataclass
class RecordingSender:
    sent: list[Record] = field(default_factory=list)
    cancelled: bool = False

    async def send_all(self, records: Sequence[Record]) -> list[BaseException | None]:
        if self.cancelled:
            raise asyncio.CancelledError
        self.sent.extend(records)
        return [None] * len(records)


def writer(trace_id: int) -> SpanContext:
    return SpanContext(trace_id, 0xBC12CD34EF56AB79, False, TraceFlags(1))


async def write_rows_in_traces(pool: asyncpg.Pool, trace_ids: Sequence[int]) -> dict[str, int]:
    """One outbox row per trace; the row's event id and its writer's trace id."""
    written = {}
    for trace_id in trace_ids:
        envelope, notice = absence_notice()
        with trace.use_span(NonRecordingSpan(writer(trace_id))):
            async with pool.acquire() as conn, conn.transaction():
                await add_event(conn, envelope, notice)
        written[str(envelope.id)] = trace_id
    return written


async def test_each_row_of_one_relay_batch_is_published_in_its_own_writers_trace(
    employment_db: asyncpg.Pool, runtime_spans: InMemorySpanExporter
) -> None:
    written = await write_rows_in_traces(employment_db, [0xAB01 << 100, 0xAB02 << 100, 0xAB03 << 100])
    sender = RecordingSender()
    assert await OutboxRelay(employment_db, sender).publish_batch() == (3, 0)
    carried = {header(r.headers, "ce_id"): header(r.headers, "ce_traceparent") for r in sender.sent}
    assert {event_id: int(str(tp).split("-")[1], 16) for event_id, tp in carried.items()} == written
    publish = {span.context.span_id for span in runtime_spans.get_finished_spans() if span.context}
    assert {int(str(tp).split("-")[2], 16) for tp in carried.values()} == publish  # each its own span


async def test_a_relay_stopped_mid_publish_does_not_mark_its_publish_spans_as_errors(
    employment_db: asyncpg.Pool, runtime_spans: InMemorySpanExporter
) -> None:
    await write_rows_in_traces(employment_db, [0xAB04 << 100])
    with pytest.raises(asyncio.CancelledError):
        await OutboxRelay(employment_db, RecordingSender(cancelled=True)).publish_batch()
    (publish,) = runtime_spans.get_finished_spans()
    assert publish.status.status_code == StatusCode.UNSET
    assert await employment_db.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 1


async def test_a_crash_while_processing_marks_the_process_span_as_an_error_naming_only_its_type(
    infra: Infra, runtime_spans: InMemorySpanExporter
) -> None:
    # A database without the service's tables: dead-lettering the record fails.
    pool = await create_pool(infra.create_database("employment"))
    try:
        crashing = ReliableConsumer(
            name="employment", pool=pool, handlers={}, known_types={}, dead_letter_key=DEAD_LETTER_KEY
        )
        record = Consumed(PROVIDER_REPORTS.name, 0, 7, None, b"not an event", [])
        with pytest.raises(asyncpg.UndefinedTableError):
            await crashing.process(record)
    finally:
        await pool.close()
    (process,) = [span for span in runtime_spans.get_finished_spans() if span.name.startswith("process")]
    assert process.status.status_code == StatusCode.ERROR
    assert process.status.description == "UndefinedTableError"
    assert (process.attributes or {})["error.type"] == "UndefinedTableError"
