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
from zoneinfo import ZoneInfo

from samspil.runtime.errors import Invalid

DANISH_TIME = ZoneInfo("Europe/Copenhagen")
# A year and a day: a calendar year, a leap year included, fits; more is a job for the warehouse.
MAX_PERIOD_DAYS = 366
# The rolling period the KPI gauges show: the last 30 days, today included.
GAUGE_PERIOD_DAYS = 30
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
CSV_HEADER = ("figure", "breakdown", "value", "unit")


@dataclass(frozen=True)
class Period:
    """Whole Danish days, ``first`` to ``last`` inclusive."""

    first: date
    last: date

    @classmethod
    def checked(cls, first: date, last: date) -> Period:
        if first > last:
            raise Invalid("must not be after 'to'", field="query.from")
        if (last - first).days + 1 > MAX_PERIOD_DAYS:
            raise Invalid(f"the period may span at most {MAX_PERIOD_DAYS} days", field="query.to")
        return cls(first, last)

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
    writer.writerow(("team", "", team or "", "text"))
    for item in figures:
        writer.writerow((item.figure, item.breakdown, danish_number(item.value), item.unit))
    return ("\ufeff" + out.getvalue()).encode()


def wants_csv(accept: str | None) -> bool:
    """True when the client asks for CSV before JSON (``Accept: text/csv``)."""
    if not accept:
        return False
    for part in accept.split(","):
        kind = part.split(";")[0].strip().lower()
        if kind == "text/csv":
            return True
        if kind in ("application/json", "*/*", "application/*"):
            return False
    return False
