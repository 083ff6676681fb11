"""The metrics a running service reports about its consumption and its outbox, read back through
prometheus-client's own parser, against the real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from employment.adapters import gauges
from samspil.runtime import metrics as metrics_module
from samspil.runtime.codec import encode
from samspil.runtime.db import Connection, create_pool, migrate
from samspil.runtime.metrics import DatabaseGauge, ServiceMetrics, render
from samspil.runtime.outbox import add_event
from schemas.envelope import Envelope
from schemas.provider_reports import AbsenceNoticeSubmitted
from schemas.topics import PROVIDER_REPORTS
from tests.infra import Infra
from tests.integration.conftest import RuntimeFactory, record_effect
from tests.support import absence_notice, encoded_notice, produce, samples, value, wait_for
from tests.unit.test_observability import metric_names_used

NOTICE = AbsenceNoticeSubmitted.event_type


async def page(metrics: ServiceMetrics, runtime: object) -> dict[str, list[tuple[dict[str, str], float]]]:
    return samples(bytes((await render(metrics, runtime)).body).decode())


async def test_consumption_reports_handling_time_event_age_and_dead_letters_by_reason(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    envelope, notice = absence_notice()
    sent_ten_minutes_ago = envelope.model_copy(update={"time": datetime.now(UTC) - timedelta(minutes=10)})
    old = encode(sent_ten_minutes_ago, notice)
    poison_envelope, poison = encoded_notice()
    broken = type(poison)(
        topic=poison.topic, key=poison.key, value=b'{"absent_from": "not a date"', headers=poison.headers
    )

    async with consumer_runtime() as runtime:
        # A new group reads what earlier tests left on the topic: count only what follows.
        await wait_for(lambda: caught_up(runtime))
        before = await page(runtime.metrics, runtime)
        await produce(infra.bootstrap_servers, old, broken)

        async def both_handled() -> bool:
            found = await runtime.pool.fetchval(
                "SELECT (SELECT count(*) FROM effect WHERE event_id = $1)"
                " + (SELECT count(*) FROM dead_letter WHERE event_id = $2)",
                envelope.id,
                str(poison_envelope.id),
            )
            return bool(found == 2)

        await wait_for(both_handled)
        metrics = await page(runtime.metrics, runtime)

    service = runtime.name

    def added(name: str, **labels: str) -> float:
        earlier = value(before, name, **labels) if _has(before, name, **labels) else 0.0
        return value(metrics, name, **labels) - earlier

    assert value(metrics, "samspil_database_up", service=service) == 1
    handled = "samspil_consumer_handling_duration_seconds_count"
    assert added(handled, event_type=NOTICE, outcome="processed") == 1
    assert added(handled, event_type=NOTICE, outcome="dead-lettered") == 1
    age = "samspil_consumer_event_age_seconds_bucket"
    # The old event is older than five minutes; the fresh one (the poison) is not.
    assert added(age, event_type=NOTICE, le="300.0") == 1
    assert added(age, event_type=NOTICE, le="900.0") == 2
    assert added("samspil_consumer_dead_lettered_total", reason="invalid-data") == 1
    assert added("samspil_dead_letters_by_reason", reason="invalid-data") == 1
    assert added("samspil_dead_letters", service=service) == 1


async def test_outbox_backlog_and_the_age_of_its_oldest_row_come_from_the_database(infra: Infra) -> None:
    pool = await create_pool(infra.create_database())
    try:
        await migrate(pool, "samspil.runtime.migrations")
        service = SimpleNamespace(pool=pool, relay=None)  # no relay: the rows stay unpublished
        metrics = ServiceMetrics("outbox-test")
        empty = await page(metrics, service)
        assert value(empty, "samspil_outbox_pending", service="outbox-test") == 0
        assert value(empty, "samspil_outbox_oldest_pending_age_seconds", service="outbox-test") == 0

        async with pool.acquire() as conn, conn.transaction():
            for _ in range(3):
                await add_event(conn, *absence_notice())
        await pool.execute(
            "UPDATE outbox SET created_at = now() - interval '20 minutes'"
            " WHERE seq = (SELECT min(seq) FROM outbox)"
        )
        waiting = await page(metrics, service)
        assert value(waiting, "samspil_outbox_pending", service="outbox-test") == 3
        oldest = value(waiting, "samspil_outbox_oldest_pending_age_seconds", service="outbox-test")
        assert 20 * 60 <= oldest < 60 * 60
    finally:
        await pool.close()


async def test_a_failing_or_slow_service_gauge_is_left_out_alone_and_the_database_stays_up(
    infra: Infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_module, "GAUGE_TIMEOUT_SECONDS", 0.5)
    broken = DatabaseGauge(
        "samspil_broken_gauge", "A query of a table that is not there.", "SELECT count(*) FROM nowhere"
    )
    slow = DatabaseGauge(
        "samspil_slow_gauge", "A query slower than its timeout.", "SELECT 1 FROM pg_sleep(30)"
    )
    fine = DatabaseGauge("samspil_fine_gauge", "A query that answers.", "SELECT 7")
    pool = await create_pool(infra.create_database())
    try:
        await migrate(pool, "samspil.runtime.migrations")
        metrics = ServiceMetrics("gauges", database_gauges=(broken, slow, fine))
        first = await page(metrics, SimpleNamespace(pool=pool, relay=None))
        second = await page(metrics, SimpleNamespace(pool=pool, relay=None))
    finally:
        await pool.close()
    for found in (first, second):
        assert value(found, "samspil_database_up", service="gauges") == 1
        assert value(found, "samspil_outbox_pending", service="gauges") == 0
        assert value(found, "samspil_dead_letters", service="gauges") == 0
        assert value(found, "samspil_fine_gauge", service="gauges") == 7
        assert "samspil_broken_gauge" not in found and "samspil_slow_gauge" not in found
    errors = "samspil_database_gauge_errors_total"
    assert value(second, errors, gauge="samspil_broken_gauge") == 2
    assert value(second, errors, gauge="samspil_slow_gauge") == 2
    assert not _has(second, errors, gauge="samspil_fine_gauge")


async def test_the_alert_rules_and_dashboard_read_only_metrics_a_service_serves(infra: Infra) -> None:
    # The employment service: the runtime's metrics and its own (overdue follow-ups and tasks).
    pool = await create_pool(infra.create_database("employment"))
    try:
        await migrate(pool, "samspil.runtime.migrations", "employment.migrations")
        metrics = ServiceMetrics("names", database_gauges=gauges.GAUGES)
        text = bytes((await render(metrics, SimpleNamespace(pool=pool, relay=None))).body)
    finally:
        await pool.close()
    served = {family.name for family in text_string_to_metric_families(text.decode())}
    assert "samspil_database_up" in served
    assert metric_names_used() <= served, metric_names_used() - served


async def test_consumer_lag_shows_the_records_waiting_behind_a_slow_handler(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    first, first_record = encoded_notice()
    behind = [encoded_notice(subject=first.subject) for _ in range(4)]  # same key: same partition
    handling, release = asyncio.Event(), asyncio.Event()

    async def slow_on_the_first(conn: Connection, envelope: Envelope, data: Any) -> None:
        if envelope.id == first.id:
            handling.set()
            await release.wait()
        await record_effect(conn, envelope, data)

    async with consumer_runtime(handler=slow_on_the_first) as runtime:
        placed = await produce(infra.bootstrap_servers, first_record, *(record for _, record in behind))
        partition = str(placed[0][0])

        async def lag() -> float | None:
            found = (await page(runtime.metrics, runtime)).get("samspil_consumer_lag", [])
            on_ours = [
                v
                for labels, v in found
                if labels["topic"] == PROVIDER_REPORTS.name and labels["partition"] == partition
            ]
            return on_ours[0] if on_ours else None

        try:
            await asyncio.wait_for(handling.wait(), 30)
            # The first is being handled (not yet committed); the four behind it on its partition
            # wait, and so does anything before it in the same batch (one transaction, committed
            # together): records of earlier tests on the topic, read by this new group.
            await wait_for(lambda: _at_least(lag, 5))
        finally:
            release.set()  # never leave the handler waiting: the session could not end
        await wait_for(lambda: effects(runtime, behind[-1][0].id))
        await wait_for(lambda: _equals(lag, 0))  # fails the test if it never drains


def _has(found: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> bool:
    return any(labels.items() <= sample.items() for sample, _ in found.get(name, []))


async def caught_up(runtime: Any) -> bool:
    lag = await runtime.consumer_lag()
    return bool(lag) and not any(lag.values())


async def _at_least(read: Any, minimum: float) -> bool:
    value = await read()
    return value is not None and bool(value >= minimum)


async def _equals(read: Any, expected: float) -> bool:
    return bool(await read() == expected)


async def effects(runtime: Any, event_id: Any) -> int:
    count: int = await runtime.pool.fetchval("SELECT count(*) FROM effect WHERE event_id = $1", event_id)
    return count


async def test_faststreams_own_metrics_count_a_consumed_record_per_topic(
    infra: Infra, consumer_runtime: RuntimeFactory
) -> None:
    envelope, record = encoded_notice()
    received = "samspil_faststream_received_messages_total"
    processed = "samspil_faststream_received_processed_messages_total"

    def count(found: dict[str, list[tuple[dict[str, str], float]]], name: str, service: str) -> float:
        return sum(
            v
            for labels, v in found.get(name, [])
            if labels["service"] == service and labels["handler"] == PROVIDER_REPORTS.name
        )

    async with consumer_runtime() as runtime:
        await wait_for(lambda: caught_up(runtime))  # what earlier tests left is counted before
        before = await page(runtime.metrics, runtime)
        await produce(infra.bootstrap_servers, record)
        await wait_for(lambda: effects(runtime, envelope.id))

        # FastStream counts the record once the handler has returned, after the offset commit
        # (a round trip to the broker) that follows the effect's transaction: wait for it.
        async def counted() -> dict[str, list[tuple[dict[str, str], float]]] | None:
            found = await page(runtime.metrics, runtime)
            return (
                found
                if count(found, processed, runtime.name) > count(before, processed, runtime.name)
                else None
            )

        after = await wait_for(counted)
    assert count(after, received, runtime.name) - count(before, received, runtime.name) == 1
    assert count(after, processed, runtime.name) - count(before, processed, runtime.name) == 1
    statuses = {labels["status"] for labels, _ in after[processed] if labels["service"] == runtime.name}
    assert statuses == {"acked"}
