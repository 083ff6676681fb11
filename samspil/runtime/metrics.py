"""Prometheus metrics for a service, on prometheus-client: HTTP requests and their latency by
route template, consumption (handler duration and event age by type, dead letters by reason, lag
per partition), scheduler runs, and the state of its reliable messaging read from its database
(outbox backlog and the age of its oldest row, parked records, dead letters, relay leadership)
with the size of the tables that grow with traffic (so bounded retention can be seen to hold).

Each service has its own registry (tests build several in one process). The database-backed
gauges are read on each scrape under a short timeout; when the database does not answer the page
still answers 200, with ``samspil_database_up 0`` and those gauges left out, so an alert sees a
database problem rather than a scrape failure. A service's own gauges (``DatabaseGauge``) are read
after the runtime's, each on its own and under its own timeout: one that fails or is slow is left
out alone and counted in ``samspil_database_gauge_errors_total``, and says nothing about whether
the database is up. Gauges that cost too much to read on every scrape (a report over a period)
are read by a worker on a schedule instead (``ScheduledGauges``), and each scrape shows the latest
reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import structlog
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.responses import Response

log = structlog.get_logger("samspil.metrics")

# A *_created series per counter and histogram doubles the page and no rule here reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# How long a scrape waits for the database before reporting it down.
DATABASE_TIMEOUT_SECONDS = 2.0
# How long a scrape waits for each of the service's own gauges before leaving it out (they are
# read one after another, so a page waits at most the above plus this once per gauge).
GAUGE_TIMEOUT_SECONDS = 1.0

# Operational tables whose size is reported, where the service's database has them; any table
# whose name starts with "audit" is reported too.
SIZED_TABLES = ("inbox", "outbox", "dead_letter", "idempotency_key", "audit_log", "share_log")

# Seconds; from a fast route's millisecond to a slow database's tens of seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Event age: from a healthy pipeline's fraction of a second to a backlog of hours.
AGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)


@dataclass(frozen=True)
class DatabaseGauge:
    """A gauge of the service's own, read from its database on each scrape after the runtime's
    (and, like them, left out while the database does not answer). ``query`` returns one number;
    it runs on every scrape, so it should be cheap (an index, or a small table). One that fails
    or takes longer than ``GAUGE_TIMEOUT_SECONDS`` is left out of that scrape and counted."""

    name: str
    documentation: str
    query: str


@dataclass
class ScheduledGauges:
    """Gauges read from the database by a worker every ``every_seconds`` (started with the
    service, its rounds counted like any scheduled worker's) rather than on each scrape; a scrape
    shows the latest reading, and nothing until the first. A round that fails keeps the reading
    before it: the worker's failed rounds say that it is stale."""

    name: str
    read: Callable[[Any], Awaitable[list[Metric]]]
    every_seconds: float
    latest: list[Metric] = field(default_factory=list)

    async def run(self, pool: Any) -> None:
        while True:
            try:
                with scheduler_run():
                    self.latest = await self.read(pool)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away: the next round tries again
                log.exception("metrics: scheduled gauges not read", gauges=self.name)
            await asyncio.sleep(self.every_seconds)


@dataclass
class ServiceMetrics:
    """One service's process-side metrics, in a registry of its own."""

    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    database_gauges: Sequence[DatabaseGauge] = ()
    scheduled_gauges: Sequence[ScheduledGauges] = ()

    def __post_init__(self) -> None:
        r = self.registry
        # FastStream's own consumption metrics (received, processed by status, in process,
        # duration, exceptions, message size), per topic, with our service label; registered
        # here so the page names them before the first record. The service's broker uses it.
        self.faststream = KafkaPrometheusMiddleware(
            registry=r,
            app_name=self.service,
            metrics_prefix="samspil_faststream",
            custom_labels={"service": self.service},
        )
        self.http_requests = Counter(
            "samspil_http_requests",
            "HTTP requests answered, by method, route and status.",
            ["service", "method", "route", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "samspil_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status class.",
            ["service", "method", "route", "status_class"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.handler_duration = Histogram(
            "samspil_consumer_handling_duration_seconds",
            "Time to handle one consumed record (retries included), by event type and outcome.",
            ["service", "event_type", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.event_age = Histogram(
            "samspil_consumer_event_age_seconds",
            "Age of an event when its handling starts (now minus its ce_time), by event type.",
            ["service", "event_type"],
            buckets=AGE_BUCKETS,
            registry=r,
        )
        self.dead_lettered = Counter(
            "samspil_consumer_dead_lettered",
            "Records this process sent to the dead letters, by reason.",
            ["service", "reason"],
            registry=r,
        )
        self.scheduler_runs = Counter(
            "samspil_scheduler_runs",
            "Rounds of a scheduled worker, by worker and result (ok or failed).",
            ["service", "worker", "result"],
            registry=r,
        )
        self.scheduler_duration = Histogram(
            "samspil_scheduler_run_duration_seconds",
            "Time one round of a scheduled worker took, by worker.",
            ["service", "worker"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.database_gauge_errors = Counter(
            "samspil_database_gauge_errors",
            "Scrapes that left out one of the service's own database gauges (it failed or was slow).",
            ["service", "gauge"],
            registry=r,
        )
        # Labelled children found once (labels() costs more than inc() or observe(), and is
        # called per request and per consumed record); the label values are bounded: the
        # app's methods and route templates, HTTP statuses, known event types and outcomes.
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.relay_leader = Gauge(
            "samspil_outbox_relay_leader",
            "1 when this process's relay publishes.",
            ["service"],
            registry=r,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self._child(self.http_requests, method, route, str(status)).inc()
        self._child(self.http_latency, method, route, f"{status // 100}xx").observe(seconds)

    def observe_handling(self, event_type: str, outcome: str, seconds: float) -> None:
        self._child(self.handler_duration, event_type, outcome).observe(seconds)

    def observe_event_age(self, event_type: str, seconds: float) -> None:
        self._child(self.event_age, event_type).observe(max(0.0, seconds))

    def _child(self, metric: Any, *labels: str) -> Any:
        """The metric's child for this service and these label values, found once."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(self.service, *labels)
        return child

    def count_dead_letter(self, reason: str) -> None:
        self.dead_lettered.labels(self.service, reason).inc()

    @contextlib.contextmanager
    def scheduler_run(self, worker: str) -> Iterator[None]:
        started = time.perf_counter()
        result = "failed"
        try:
            yield
            result = "ok"
        except asyncio.CancelledError:
            result = "cancelled"  # the service is stopping: not a round, not counted
            raise
        finally:
            if result != "cancelled":
                self.scheduler_runs.labels(self.service, worker, result).inc()
                self.scheduler_duration.labels(self.service, worker).observe(time.perf_counter() - started)


# The service and worker a scheduled worker's task runs for; set by the runtime when it starts the
# task (a task copies the context it was created in), so a worker's loop needs no extra parameter.
_current_worker: ContextVar[tuple[ServiceMetrics, str] | None] = ContextVar("samspil_worker", default=None)


@contextlib.contextmanager
def worker_context(metrics: ServiceMetrics, worker: str) -> Iterator[None]:
    """Tasks created inside count their scheduler runs as ``worker`` of ``metrics``' service."""
    token = _current_worker.set((metrics, worker))
    try:
        yield
    finally:
        _current_worker.reset(token)


@contextlib.contextmanager
def scheduler_run() -> Iterator[None]:
    """One round of the current scheduled worker, counted and timed (nothing outside a worker)."""
    current = _current_worker.get()
    if current is None:
        yield
        return
    metrics, worker = current
    with metrics.scheduler_run(worker):
        yield


class ResponseStatus:
    """Passes an ASGI app's messages on and remembers the status it answered (500 if none)."""

    def __init__(self, send: Any) -> None:
        self._send = send
        self.status = 500

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)


class RequestCounter:
    """ASGI middleware counting and timing answered requests by method, route template and status."""

    def __init__(self, app: Any, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response = ResponseStatus(send)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, response.send)
        finally:
            # The route's template, not the path, so ids do not explode the label set.
            path = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            self.metrics.observe_request(method, path, response.status, time.perf_counter() - started)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _Families(Collector):
    """Hands a registry families read once, for one scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


async def render(metrics: ServiceMetrics, runtime: Any) -> Response:
    """The whole page: the process's metrics, then the database's (or ``samspil_database_up 0``)."""
    relay = getattr(runtime, "relay", None)
    metrics.relay_leader.labels(metrics.service).set(int(bool(relay is not None and relay.is_leader)))
    families = await database_families(metrics, runtime)
    families.append(await consumer_lag_family(metrics.service, runtime))
    families.extend(family for scheduled in metrics.scheduled_gauges for family in scheduled.latest)
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_Families(families))
    body = generate_latest(metrics.registry) + generate_latest(scrape)
    return Response(body, media_type=CONTENT_TYPE)


async def database_families(metrics: ServiceMetrics, runtime: Any) -> list[Metric]:
    """The runtime's database gauges, then the service's own; ``samspil_database_up`` says only
    whether the runtime's queries were answered."""
    service = metrics.service
    up = GaugeMetricFamily(
        "samspil_database_up",
        "1 when the service's database answered this scrape; 0 and its gauges left out otherwise.",
        labels=["service"],
    )
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS):
            families = await _read_database(service, runtime.pool)
    except Exception as error:  # not started yet, stopping, or the database is away or slow
        log.warning("metrics: database unavailable", error=type(error).__name__)
        up.add_metric([service], 0)
        return [up]
    up.add_metric([service], 1)
    for gauge in metrics.database_gauges:
        try:
            async with asyncio.timeout(GAUGE_TIMEOUT_SECONDS), runtime.pool.acquire() as conn:
                reading = float(await conn.fetchval(gauge.query))
        except Exception as error:  # a broken or slow query of the service's: this gauge only
            log.warning("metrics: database gauge left out", gauge=gauge.name, error=type(error).__name__)
            metrics.database_gauge_errors.labels(service, gauge.name).inc()
            continue
        families.append(_gauge(gauge.name, gauge.documentation, service, reading))
    return [up, *families]


async def consumer_lag_family(service: str, runtime: Any) -> Metric:
    lag = GaugeMetricFamily(
        "samspil_consumer_lag",
        "Records behind the newest on each partition this process consumes (from its last fetch).",
        labels=["service", "topic", "partition"],
    )
    read = getattr(runtime, "consumer_lag", None)
    if read is not None:
        try:
            for (topic, partition), behind in sorted((await read()).items()):
                lag.add_metric([service, topic, str(partition)], behind)
        except Exception as error:  # stopping or rebalancing: leave it out this time
            log.warning("metrics: consumer lag unavailable", error=type(error).__name__)
    return lag


def _gauge(name: str, help_text: str, service: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text, labels=["service"])
    family.add_metric([service], value)
    return family


async def _read_database(service: str, pool: Any) -> list[Metric]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM outbox"
            "   WHERE published_at IS NULL AND parked_at IS NULL) AS pending,"
            " (SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM outbox"
            "   WHERE published_at IS NULL AND parked_at IS NULL) AS oldest,"
            " (SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL) AS parked,"
            " (SELECT count(*) FROM dead_letter WHERE replayed_at IS NULL) AS dead_letters"
        )
        reasons = await conn.fetch(
            "SELECT reason, count(*) AS n FROM dead_letter WHERE replayed_at IS NULL GROUP BY reason"
            " ORDER BY reason"
        )
        # Estimates from the statistics PostgreSQL keeps anyway: a count(*) on every scrape would
        # read whole tables.
        tables = await conn.fetch(
            "SELECT c.relname AS name, coalesce(s.n_live_tup, greatest(c.reltuples, 0))::bigint AS rows,"
            " pg_total_relation_size(c.oid) AS bytes"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
            " WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()"
            " AND (c.relname = ANY($1::text[]) OR c.relname LIKE 'audit%')"
            " ORDER BY c.relname",
            list(SIZED_TABLES),
        )
    by_reason = GaugeMetricFamily(
        "samspil_dead_letters_by_reason",
        "Dead letters not yet replayed, by reason.",
        labels=["service", "reason"],
    )
    for item in reasons:
        by_reason.add_metric([service, item["reason"]], item["n"])
    rows = GaugeMetricFamily(
        "samspil_table_rows_estimate",
        "Rows in an operational table (PostgreSQL's estimate).",
        labels=["service", "table"],
    )
    size = GaugeMetricFamily(
        "samspil_table_bytes",
        "Disk used by an operational table, its indexes and TOAST data.",
        labels=["service", "table"],
    )
    for table in tables:
        rows.add_metric([service, table["name"]], table["rows"])
        size.add_metric([service, table["name"]], table["bytes"])
    return [
        _gauge("samspil_outbox_pending", "Outbox records not yet published.", service, row["pending"]),
        _gauge(
            "samspil_outbox_oldest_pending_age_seconds",
            "Age of the oldest outbox record not yet published (0 when none is waiting).",
            service,
            float(row["oldest"]),
        ),
        _gauge("samspil_outbox_parked", "Outbox records the broker can never take.", service, row["parked"]),
        _gauge("samspil_dead_letters", "Dead letters not yet replayed.", service, row["dead_letters"]),
        by_reason,
        rows,
        size,
    ]
