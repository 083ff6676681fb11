"""What the departments' KPI reports share: the period asked for (whole days in Danish time,
``to`` included, checked with a 422 naming the field), its bounds as instants, and the CSV a
municipality's spreadsheet opens as it is: one row per figure, ``;`` between cells and a decimal
comma (as Excel and LibreOffice read CSV with Danish regional settings), UTF-8 with a byte-order
mark so ``æøå`` survive, dates as ISO 8601."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Header, Query
from prometheus_client.core import GaugeMetricFamily, Metric
from pydantic import BaseModel

from samspil.runtime.errors import Invalid
from schemas.common import Name

DANISH_TIME = ZoneInfo("Europe/Copenhagen")
# A year and a day: a calendar year, a leap year included, fits; more is a job for the warehouse.
MAX_PERIOD_DAYS = 366
# The rolling period the KPI gauges show: the last 30 days, today included.
GAUGE_PERIOD_DAYS = 30
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_HEADER = ("figure", "breakdown", "value", "unit")
# Days a period may name: the instants around them must exist in UTC (no year 0 or 10000).
FIRST_DAY, LAST_DAY = date(2, 1, 1), date(9998, 12, 31)
# What a spreadsheet reads as the start of a formula in a text cell (OWASP: CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Period:
    """Whole Danish days, ``first`` to ``last`` inclusive."""

    first: date
    last: date

    @classmethod
    def checked(cls, first: date, last: date) -> Period:
        for day, field in ((first, "query.from"), (last, "query.to")):
            if not FIRST_DAY <= day <= LAST_DAY:
                raise Invalid(f"must be between {FIRST_DAY} and {LAST_DAY}", field=field)
        if first > last:
            raise Invalid("must not be after 'to'", field="query.from")
        if (last - first).days + 1 > MAX_PERIOD_DAYS:
            raise Invalid(f"the period may span at most {MAX_PERIOD_DAYS} days", field="query.to")
        return cls(first, last)

    @classmethod
    def asked(cls, first: date | None, last: date | None, today: date) -> Period:
        """The period a query asked for: ``to`` defaults to today, ``from`` to the gauges'
        span before it."""
        last = last or today
        if first is None:
            if not FIRST_DAY <= last <= LAST_DAY:
                raise Invalid(f"must be between {FIRST_DAY} and {LAST_DAY}", field="query.to")
            first = max(FIRST_DAY, last - timedelta(days=GAUGE_PERIOD_DAYS - 1))
        return cls.checked(first, last)

    @classmethod
    def last_days(cls, today: date, days: int = GAUGE_PERIOD_DAYS) -> Period:
        return cls(today - timedelta(days=days - 1), today)

    @property
    def starts_at(self) -> datetime:
        """The first instant of the period (midnight in Copenhagen, whatever the daylight saving)."""
        return datetime.combine(self.first, time(), DANISH_TIME).astimezone(UTC)

    @property
    def ends_before(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(), DANISH_TIME).astimezone(UTC)


@dataclass(frozen=True)
class KpiQuery:
    """What a department's KPI report was asked for: the period, the team, and whether as CSV."""

    period: Period
    team: str | None
    as_csv: bool


def kpi_query(
    period_from: Annotated[
        date | None,
        Query(
            alias="from",
            description=f"First day (Danish time); default {GAUGE_PERIOD_DAYS} days before 'to'.",
        ),
    ] = None,
    period_to: Annotated[
        date | None, Query(alias="to", description="Last day, included; default today.")
    ] = None,
    team: Annotated[
        Name | None, Query(description="Only this caseworker team, where the data names one.")
    ] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> KpiQuery:
    """The query parameters every department's ``GET /v1/reports/kpis`` takes (a dependency)."""
    today = datetime.now(DANISH_TIME).date()
    return KpiQuery(Period.asked(period_from, period_to, today), team, wants_csv(accept))


# The 200 of a KPI report, which may also be CSV.
KPI_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "The figures"}
}


@dataclass(frozen=True)
class Figure:
    """One row of the CSV: a figure, what part of it (an outcome, a quantile; empty for the
    whole), its value (empty when there is nothing to measure) and its unit."""

    figure: str
    breakdown: str
    value: float | int | None
    unit: str


def danish_number(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return f"{value:.1f}".replace(".", ",")


def danish_csv(period: Period, team: str | None, figures: Iterable[Figure]) -> bytes:
    """The report as CSV: the period and team first, then one row per figure."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerow(("period_from", "", period.first.isoformat(), "date"))
    writer.writerow(("period_to", "", period.last.isoformat(), "date"))
    writer.writerow(("team", "", _as_text(team or ""), "text"))
    for item in figures:
        writer.writerow((item.figure, item.breakdown, danish_number(item.value), item.unit))
    return ("\ufeff" + out.getvalue()).encode()


def _as_text(cell: str) -> str:
    """A caller's text as a cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def wants_csv(accept: str | None) -> bool:
    """True when the client prefers CSV to JSON (``Accept: text/csv``; weights honoured, q=0
    meaning not at all; on equal weights the one listed first)."""
    if not accept:
        return False
    csv_at = json_at = None  # (weight, -position) of the first mention of each
    for position, part in enumerate(accept.split(",")):
        kind, *params = (piece.strip().lower() for piece in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if kind == "text/csv" and csv_at is None:
            csv_at = (weight, -position)
        elif kind in ("application/json", "*/*", "application/*") and json_at is None:
            json_at = (weight, -position)
    if csv_at is None or csv_at[0] <= 0:
        return False
    return json_at is None or csv_at > json_at


@dataclass(frozen=True)
class Durations:
    """How long something took, in seconds: how many, the median and the 90th percentile
    (interpolated between the nearest two, as PostgreSQL's percentile_cont); None when none."""

    count: int
    median_seconds: float | None
    p90_seconds: float | None

    @classmethod
    def of(cls, row: Any) -> Durations:
        """From a row of ``quantiles_sql``."""
        return cls(row["n"], row["median"], row["p90"])

    def rows(self, name: str) -> list[Figure]:
        return [
            Figure(name, "count", self.count, "number"),
            Figure(name, "median", self.median_seconds, "seconds"),
            Figure(name, "p90", self.p90_seconds, "seconds"),
        ]

    def out(self) -> DurationsOut:
        return DurationsOut(
            count=self.count, median_seconds=self.median_seconds, p90_seconds=self.p90_seconds
        )

    def families(self, service: str, name: str, what: str) -> list[Metric]:
        """``<name>_seconds`` by quantile (left out while nothing was measured) and ``<name>_count``."""
        seconds = GaugeMetricFamily(
            f"{name}_seconds",
            f"{what} in the last {GAUGE_PERIOD_DAYS} days: median (0.5) and 90th percentile (0.9).",
            labels=["service", "quantile"],
        )
        for quantile, value in (("0.5", self.median_seconds), ("0.9", self.p90_seconds)):
            if value is not None:
                seconds.add_metric([service, quantile], value)
        count = GaugeMetricFamily(f"{name}_count", f"How many {name}_seconds measured.", labels=["service"])
        count.add_metric([service], self.count)
        return [seconds, count]


class DurationsOut(BaseModel):
    """How long it took, in seconds (median and 90th percentile; null when nothing was measured)."""

    count: int
    median_seconds: float | None
    p90_seconds: float | None


def quantiles_sql(seconds: str) -> str:
    """The select list ``Durations.of`` reads, over the expression ``seconds``."""
    return (
        f"count(*) AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY {seconds}) AS median,"
        f" percentile_cont(0.9) WITHIN GROUP (ORDER BY {seconds}) AS p90"
    )


def gauge(service: str, name: str, documentation: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["service"])
    family.add_metric([service], value)
    return family
