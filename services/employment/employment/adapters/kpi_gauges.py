"""The jobcenter's key figures as Prometheus gauges over the last 30 days (Danish days, today
included) for the whole department, read on a schedule rather than on each scrape (a report over
a period costs more than a scrape should). Overdue follow-ups now are the per-scrape gauge
``samspil_overdue_follow_ups`` (``gauges.py``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import asyncpg
from prometheus_client.core import GaugeMetricFamily, Metric

from employment.adapters import kpis
from employment.domain.contact_course import add_months
from samspil.runtime.metrics import ScheduledGauges
from samspil.runtime.reports import GAUGE_PERIOD_DAYS, Period, gauge

SERVICE = "employment"
_WINDOW = f"in the last {GAUGE_PERIOD_DAYS} days"


async def read(pool: asyncpg.Pool, today: date, parked_after_months: int) -> list[Metric]:
    period = Period.last_days(today)
    async with pool.acquire() as conn:
        figures = await kpis.read(conn, period, None, today, add_months(today, -parked_after_months))
    ended = GaugeMetricFamily(
        "samspil_kpi_referrals_ended",
        f"Referrals ended {_WINDOW}, by outcome and by who ended them (provider or jobcenter).",
        labels=["service", "outcome", "ended_by"],
    )
    for (outcome, ended_by), count in figures.referrals_by_who().items():
        ended.add_metric([SERVICE, outcome.value, ended_by], count)
    by_reason = GaugeMetricFamily(
        "samspil_kpi_referrals_ended_by_reason",
        f"Referrals ended {_WINDOW}, by outcome and category: completions by outcome category, other"
        " endings by reason category ('unspecified' when none was given).",
        labels=["service", "outcome", "category"],
    )
    for (outcome, category), count in figures.referrals_by_reason().items():
        by_reason.add_metric([SERVICE, outcome.value, category], count)
    by_outcome = GaugeMetricFamily(
        "samspil_kpi_referrals_ended_by_outcome",
        f"Referrals ended {_WINDOW}, by outcome.",
        labels=["service", "outcome"],
    )
    for outcome, count in figures.referrals_by_outcome().items():
        by_outcome.add_metric([SERVICE, outcome.value], count)
    progress = GaugeMetricFamily(
        "samspil_kpi_progress_reports",
        f"Progress reports received {_WINDOW}, on time (by their due date) or late.",
        labels=["service", "on_time"],
    )
    progress.add_metric([SERVICE, "true"], figures.progress_reports.on_time)
    progress.add_metric([SERVICE, "false"], figures.progress_reports.late)
    return [
        *figures.absence_notice_to_assessment.families(
            SERVICE,
            "samspil_kpi_absence_notice_to_assessment",
            "Time from an absence notice to its assessment",
        ),
        gauge(
            SERVICE,
            "samspil_kpi_follow_ups_overdue_in_period",
            f"Follow-ups whose due date passed unheld {_WINDOW}.",
            figures.follow_ups_overdue_in_period,
        ),
        ended,
        by_outcome,
        by_reason,
        *figures.plan_change_request_to_final.families(
            SERVICE,
            "samspil_kpi_plan_change_request_to_final",
            "Time from a plan-change request to its final outcome",
        ),
        progress,
        gauge(
            SERVICE,
            "samspil_kpi_progress_reports_overdue",
            "Referrals whose progress report is overdue now.",
            figures.progress_reports_overdue_now,
        ),
        gauge(
            SERVICE,
            "samspil_kpi_parked_citizens",
            "Citizens in the parked-citizens report now.",
            figures.parked_citizens,
        ),
    ]


def scheduled(every_seconds: float, parked_after_months: int, today: Callable[[], date]) -> ScheduledGauges:
    async def read_now(pool: asyncpg.Pool) -> list[Metric]:
        return await read(pool, today(), parked_after_months)

    return ScheduledGauges("kpi-gauges", read_now, every_seconds)
