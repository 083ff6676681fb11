"""The KPI reports' shared parts: the period asked for, checked naming the field, as whole Danish
days; and the CSV a Danish spreadsheet opens as it is."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from samspil.runtime.errors import Invalid
from samspil.runtime.reports import MAX_PERIOD_DAYS, Durations, Figure, Period, danish_csv, wants_csv

TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (None, None, Period(date(2026, 11, 2), TODAY)),  # the last 30 days, today included
        (date(2026, 11, 1), None, Period(date(2026, 11, 1), TODAY)),
        (None, date(2026, 6, 30), Period(date(2026, 6, 1), date(2026, 6, 30))),
        (TODAY, TODAY, Period(TODAY, TODAY)),
        (date(2024, 1, 1), date(2024, 12, 31), Period(date(2024, 1, 1), date(2024, 12, 31))),  # a leap year
    ],
)
def test_a_period_defaults_to_the_last_30_days_ending_today(
    first: date | None, last: date | None, expected: Period
) -> None:
    assert Period.asked(first, last, TODAY) == expected


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        (date(2026, 12, 2), date(2026, 12, 1), "query.from"),
        (date(2025, 1, 1), date(2026, 1, 2), "query.to"),  # 367 days
        (date(2026, 12, 5), None, "query.from"),  # after today, the default end
    ],
)
def test_a_period_backwards_or_too_long_is_refused_naming_the_field(
    first: date, last: date | None, field: str
) -> None:
    with pytest.raises(Invalid) as refused:
        Period.asked(first, last, TODAY)
    assert refused.value.field == field


def test_the_longest_period_is_a_leap_year() -> None:
    period = Period.asked(date(2024, 1, 1), date(2024, 12, 31), TODAY)
    assert (period.last - period.first).days + 1 == MAX_PERIOD_DAYS


def test_a_period_is_whole_days_in_copenhagen_across_daylight_saving() -> None:
    # 29 March 2026: Danish summer time begins; the day has 23 hours.
    period = Period(date(2026, 3, 29), date(2026, 3, 29))
    assert period.starts_at == datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert period.ends_before == datetime(2026, 3, 29, 22, tzinfo=UTC)


def test_the_csv_has_a_bom_semicolons_and_decimal_commas() -> None:
    figures = [
        *Durations(3, 5400.25, None).rows("absence_notice_to_assessment"),
        Figure("referrals_ended", "completed", 4, "number"),
    ]
    body = danish_csv(Period(date(2026, 11, 1), TODAY), "Jobcenter Nord, team 3", figures)
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows == [
        ["figure", "breakdown", "value", "unit"],
        ["period_from", "", "2026-11-01", "date"],
        ["period_to", "", "2026-12-01", "date"],
        ["team", "", "Jobcenter Nord, team 3", "text"],
        ["absence_notice_to_assessment", "count", "3", "number"],
        ["absence_notice_to_assessment", "median", "5400,2", "seconds"],
        ["absence_notice_to_assessment", "p90", "", "seconds"],
        ["referrals_ended", "completed", "4", "number"],
    ]


@pytest.mark.parametrize(
    ("accept", "csv_wanted"),
    [
        (None, False),
        ("text/csv", True),
        ("text/csv; charset=utf-8", True),
        ("application/json, text/csv", False),
        ("text/csv;q=1, application/json", True),
        ("*/*", False),
        ("text/html", False),
    ],
)
def test_csv_only_when_asked_for_before_json(accept: str | None, csv_wanted: bool) -> None:
    assert wants_csv(accept) is csv_wanted
