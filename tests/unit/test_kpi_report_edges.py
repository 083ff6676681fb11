"""The KPI reports' shared parts (samspil/runtime/reports.py)."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from samspil.runtime.errors import Invalid
from samspil.runtime.reports import Period, danish_csv

TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (None, date(1, 1, 10)),  # the default 'from' is 29 days before year 1
        (date(1, 1, 1), date(1, 1, 2)),  # Copenhagen midnight of 1 Jan 1 is in year 0 in UTC
        (date(9999, 12, 31), date(9999, 12, 31)),  # the first instant after the period is year 10000
    ],
)
def test_a_period_at_the_ends_of_the_calendar_is_refused_naming_the_field_not_a_500(
    first: date | None, last: date
) -> None:
    """GET /v1/reports/kpis?to=0001-01-10 (or from=to=9999-12-31) raises OverflowError in
    Period.asked / starts_at / ends_before, which the app answers with 500 internal-error."""
    try:
        period = Period.asked(first, last, TODAY)
        assert period.starts_at < period.ends_before  # what the queries bind
    except Invalid:
        return  # a 422 naming the field: fine
    except OverflowError as error:
        pytest.fail(f"OverflowError (a 500) instead of a 422: {error}")


@pytest.mark.parametrize(
    "team", ['=HYPERLINK("https://evil.example","Team 3")', "+1+cmd", "-2+3", "@SUM(A1)"]
)
def test_a_team_that_looks_like_a_formula_is_not_a_formula_in_the_csv(team: str) -> None:
    """`team` is the caller's query text (Name allows any printable text) and is echoed into the
    CSV's team cell as it is: a link such as /v1/reports/kpis?team==HYPERLINK(...) sent to a
    caseworker produces a CSV that Excel/LibreOffice opens with a live formula (OWASP CSV
    injection). A text cell starting with = + - @ (or tab/CR) must be neutralised (e.g. a
    leading apostrophe)."""
    period = Period(date(2026, 11, 1), date(2026, 11, 30))
    rows = list(csv.reader(io.StringIO(danish_csv(period, team, []).decode("utf-8-sig")), delimiter=";"))
    cells = [cell for row in rows for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_csv_refused_with_q_zero_is_not_chosen() -> None:
    """RFC 9110 12.4.2: q=0 means 'not acceptable'; wants_csv ignores the weight, so a client that
    says `Accept: text/csv;q=0, application/json` gets CSV."""
    from samspil.runtime.reports import wants_csv

    assert wants_csv("text/csv;q=0, application/json") is False
