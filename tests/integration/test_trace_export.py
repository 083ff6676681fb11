"""What the asyncpg instrumentation records of a failed statement, as exported: against the real
PostgreSQL, whose error DETAIL quotes the failing row and the conflicting key."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import pytest
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from samspil.runtime.tracing import CprMaskingExporter, build_tracer_provider
from tests.support import random_cpr


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
