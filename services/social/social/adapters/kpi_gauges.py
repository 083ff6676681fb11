"""The social department's key figures as Prometheus gauges over the last 30 days (Danish days,
today included), read on a schedule rather than on each scrape."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import asyncpg
from prometheus_client.core import GaugeMetricFamily, Metric

from samspil.runtime.metrics import ScheduledGauges
from samspil.runtime.reports import GAUGE_PERIOD_DAYS, Period, gauge
from social.adapters import kpis

SERVICE = "social"


async def read(pool: asyncpg.Pool, today: date) -> list[Metric]:
    async with pool.acquire() as conn:
        figures = await kpis.read(conn, Period.last_days(today), None, today)
    ruled = GaugeMetricFamily(
        "samspil_kpi_disputes_ruled",
        f"Disputes ruled in the last {GAUGE_PERIOD_DAYS} days, on time or late.",
        labels=["service", "on_time"],
    )
    ruled.add_metric([SERVICE, "true"], figures.disputes_ruled.on_time)
    ruled.add_metric([SERVICE, "false"], figures.disputes_ruled.late)
    return [
        ruled,
        gauge(
            SERVICE,
            "samspil_kpi_disputes_overdue",
            "Disputes open past their ruling deadline now.",
            figures.disputes_overdue_now,
        ),
        *figures.plan_change_request_to_final.families(
            SERVICE,
            "samspil_kpi_plan_change_request_to_final",
            "Time from a plan-change request to its final outcome (the social team's decisions)",
        ),
    ]


def scheduled(every_seconds: float, today: Callable[[], date]) -> ScheduledGauges:
    async def read_now(pool: asyncpg.Pool) -> list[Metric]:
        return await read(pool, today())

    return ScheduledGauges("kpi-gauges", read_now, every_seconds)
