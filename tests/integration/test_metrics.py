"""The metrics a running service reports about its consumption and its outbox, read back through
prometheus-client's own parser, against the real broker and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from prometheus_client.parser import text_string_to_metric_families

from samspil.runtime.codec import encode
from samspil.runtime.db import create_pool, migrate
from samspil.runtime.metrics import ServiceMetrics, render
from samspil.runtime.outbox import add_event
from schemas.provider_reports import AbsenceNoticeSubmitted
from tests.infra import Infra
from tests.integration.conftest import RuntimeFactory
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
    assert value(metrics, "samspil_database_up", service=service) == 1
    handled = "samspil_consumer_handling_duration_seconds_count"
    assert value(metrics, handled, event_type=NOTICE, outcome="processed") == 1
    assert value(metrics, handled, event_type=NOTICE, outcome="dead-lettered") == 1
    age = "samspil_consumer_event_age_seconds_bucket"
    # The old event is older than five minutes; the fresh one (the poison) is not.
    assert value(metrics, age, event_type=NOTICE, le="300.0") == 1
    assert value(metrics, age, event_type=NOTICE, le="900.0") == 2
    assert value(metrics, "samspil_consumer_dead_lettered_total", reason="invalid-data") == 1
    assert value(metrics, "samspil_dead_letters_by_reason", reason="invalid-data") == 1
    assert value(metrics, "samspil_dead_letters", service=service) == 1


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


async def test_the_alert_rules_and_dashboard_read_only_metrics_a_service_serves(infra: Infra) -> None:
    pool = await create_pool(infra.create_database())
    try:
        await migrate(pool, "samspil.runtime.migrations")
        text = bytes((await render(ServiceMetrics("names"), SimpleNamespace(pool=pool, relay=None))).body)
    finally:
        await pool.close()
    served = {family.name for family in text_string_to_metric_families(text.decode())}
    assert "samspil_database_up" in served
    assert metric_names_used() <= served, metric_names_used() - served
