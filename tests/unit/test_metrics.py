"""The metrics page: parseable Prometheus text on prometheus-client, one registry per service, and
an answer (200, ``samspil_database_up 0``) when the database is refused or does not answer."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.core import GaugeMetricFamily

from samspil.runtime import metrics as metrics_module
from samspil.runtime.http import metrics_app
from samspil.runtime.metrics import ScheduledGauges, ServiceMetrics, render, scheduler_run, worker_context
from samspil.runtime.service import ServiceRuntime
from samspil.runtime.settings import RuntimeSettings
from tests.support import samples, value


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


def runtime(database_url: str) -> ServiceRuntime:
    settings = RuntimeSettings(database_url=database_url, dead_letter_key="k" * 32)
    return ServiceRuntime(name="metrics-test", settings=settings, migration_packages=[])


async def page_of(service_runtime: ServiceRuntime) -> httpx.Response:
    app = metrics_app(service_runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://metrics") as client:
        return await client.get("/metrics")


@contextlib.asynccontextmanager
async def pool_at(url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(url, min_size=0, max_size=1)  # connects only when used
    try:
        yield pool
    finally:
        pool.terminate()


async def test_metrics_answer_200_with_database_down_when_the_database_refuses_connections() -> None:
    url = f"postgresql://samspil@127.0.0.1:{closed_port()}/samspil"
    service = runtime(url)
    async with pool_at(url) as pool:
        service.pool = pool
        response = await page_of(service)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    page = samples(response.text)
    assert value(page, "samspil_database_up", service="metrics-test") == 0
    for gauge in ("samspil_outbox_pending", "samspil_dead_letters", "samspil_table_bytes"):
        assert gauge not in page  # left out, not reported as zero
    assert value(page, "samspil_outbox_relay_leader", service="metrics-test") == 0


async def test_metrics_answer_within_the_timeout_when_the_database_accepts_but_never_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # keep the connection open and say nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(metrics_module, "DATABASE_TIMEOUT_SECONDS", 0.3)
    url = f"postgresql://samspil@127.0.0.1:{port}/samspil"
    service = runtime(url)
    try:
        async with pool_at(url) as pool:
            service.pool = pool
            response = await page_of(service)
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert response.status_code == 200
    assert value(samples(response.text), "samspil_database_up", service="metrics-test") == 0
    assert accepted, "the scrape should have reached the silent database"


async def test_metrics_of_a_service_not_started_yet_still_answer() -> None:
    response = await page_of(runtime("postgresql://unused@127.0.0.1:1/x"))
    assert response.status_code == 200
    assert value(samples(response.text), "samspil_database_up", service="metrics-test") == 0


async def test_label_values_with_quotes_backslashes_and_newlines_read_back_unchanged() -> None:
    metrics = ServiceMetrics("escaping")
    awkward = 'a "quoted" \\path\\\nwith a newline'
    metrics.observe_request("GET", awkward, 404, 0.01)
    metrics.count_dead_letter(awkward)
    page = samples(bytes((await render(metrics, object())).body).decode())
    assert value(page, "samspil_http_requests_total", route=awkward, status="404") == 1
    assert value(page, "samspil_consumer_dead_lettered_total", reason=awkward) == 1


async def test_http_latency_is_a_histogram_by_route_template_and_status_class() -> None:
    metrics = ServiceMetrics("latency")
    for seconds in (0.001, 0.2, 3.0):
        metrics.observe_request("POST", "/v1/referrals/{referral_id}", 201, seconds)
    metrics.observe_request("POST", "/v1/referrals/{referral_id}", 422, 0.002)
    page = samples(bytes((await render(metrics, object())).body).decode())
    name = "samspil_http_request_duration_seconds"
    route = "/v1/referrals/{referral_id}"
    assert value(page, f"{name}_count", route=route, status_class="2xx") == 3
    assert value(page, f"{name}_count", route=route, status_class="4xx") == 1
    assert value(page, f"{name}_bucket", route=route, status_class="2xx", le="0.25") == 2
    assert value(page, f"{name}_sum", route=route, status_class="2xx") == pytest.approx(3.201)


def test_each_service_has_its_own_registry() -> None:
    first, second = ServiceMetrics("same"), ServiceMetrics("same")  # no duplicate-name error
    first.count_dead_letter("rejected")
    assert first.registry.get_sample_value(
        "samspil_consumer_dead_lettered_total", {"service": "same", "reason": "rejected"}
    )
    assert (
        second.registry.get_sample_value(
            "samspil_consumer_dead_lettered_total", {"service": "same", "reason": "rejected"}
        )
        is None
    )


async def test_scheduler_rounds_are_counted_by_worker_and_result_in_the_task_they_were_started_for() -> None:
    metrics = ServiceMetrics("clock")

    async def worker() -> None:
        with scheduler_run():
            await asyncio.sleep(0)
        with contextlib.suppress(RuntimeError), scheduler_run():
            raise RuntimeError("database away")

    with worker_context(metrics, "contact-course-scheduler"):
        task = asyncio.create_task(worker())
    await task
    with scheduler_run():  # outside any worker: counted nowhere
        pass

    def runs(result: str) -> Any:
        return metrics.registry.get_sample_value(
            "samspil_scheduler_runs_total",
            {"service": "clock", "worker": "contact-course-scheduler", "result": result},
        )

    assert runs("ok") == 1 and runs("failed") == 1
    assert (
        metrics.registry.get_sample_value(
            "samspil_scheduler_run_duration_seconds_count",
            {"service": "clock", "worker": "contact-course-scheduler"},
        )
        == 2
    )


async def test_scheduled_gauges_show_their_latest_reading_and_keep_it_through_a_failed_round() -> None:
    readings: list[float | Exception] = [3.0, RuntimeError("database away"), 5.0]
    read_once = asyncio.Event()

    async def read(pool: Any) -> list[Any]:
        reading = readings.pop(0)
        read_once.set()
        if isinstance(reading, Exception):
            raise reading
        family = GaugeMetricFamily("samspil_kpi_example", "An example.", labels=["service"])
        family.add_metric(["kpis"], reading)
        return [family]

    scheduled = ScheduledGauges("kpi-gauges", read, every_seconds=3600)
    metrics = ServiceMetrics("kpis", scheduled_gauges=[scheduled])

    async def shown() -> list[tuple[dict[str, str], float]]:
        return samples(bytes((await render(metrics, object())).body).decode()).get("samspil_kpi_example", [])

    assert await shown() == []  # nothing until the first round
    for expected in (3.0, 3.0, 5.0):  # the failed round keeps the reading before it
        read_once.clear()
        with worker_context(metrics, scheduled.name):
            task = asyncio.create_task(scheduled.run(None))
        await read_once.wait()
        await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert await shown() == [({"service": "kpis"}, expected)]
    failed = metrics.registry.get_sample_value(
        "samspil_scheduler_runs_total", {"service": "kpis", "worker": "kpi-gauges", "result": "failed"}
    )
    assert failed == 1
