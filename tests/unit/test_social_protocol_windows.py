"""The windows of the plan-change protocol as the social department holds them: when the social
team's objection is due, and which objections are still allowed."""

from __future__ import annotations

from datetime import date

import pytest

from samspil.runtime.calendar import add_working_days
from samspil.runtime.errors import Conflict, NotFound, Rejected
from social.domain.protocol import check_objection, objection_window, objections_close_before

RECEIVED = date(2027, 3, 1)  # a Monday
FULL_WINDOW = add_working_days(RECEIVED, 5)


@pytest.mark.parametrize(
    ("announced", "due_on"),
    [
        (None, FULL_WINDOW),
        (date(2027, 3, 3), FULL_WINDOW),
        (FULL_WINDOW, FULL_WINDOW),
        (date(2027, 3, 20), date(2027, 3, 20)),
    ],
    ids=["none-announced", "announced-shorter-than-the-full-window", "announced-equal", "announced-later"],
)
def test_the_team_gets_at_least_its_full_window_from_arrival(announced: date | None, due_on: date) -> None:
    task = objection_window(RECEIVED, 5, "approved", announced)
    assert task.due_on == due_on
    assert task.kind == "consider-employment-decision"
    assert "approved" in task.title


@pytest.mark.parametrize(
    ("department", "status", "sent_on", "refusal", "detail"),
    [
        ("employment", "open", FULL_WINDOW, None, None),
        ("employment", "open", RECEIVED, None, None),
        ("social", "open", RECEIVED, NotFound, "No decision of the jobcenter with this id for the citizen"),
        ("employment", "final", RECEIVED, Conflict, "The decision is final"),
        ("employment", "objected", date(2027, 4, 1), Conflict, "The decision is objected"),
        ("employment", "open", add_working_days(FULL_WINDOW, 1), Conflict, "The deadline for objections was"),
    ],
    ids=["on-the-deadline", "early", "social-teams-own", "already-final", "already-objected", "late"],
)
def test_an_objection_is_allowed_only_on_an_open_jobcenter_decision_by_the_deadline(
    department: str, status: str, sent_on: date, refusal: type[Rejected] | None, detail: str | None
) -> None:
    if refusal is None:
        check_objection(department, status, FULL_WINDOW, sent_on)
        return
    with pytest.raises(refusal) as refused:
        check_objection(department, status, FULL_WINDOW, sent_on)
    assert refused.value.field == "decision_id"
    assert detail is not None and refused.value.detail.startswith(detail)


@pytest.mark.parametrize(
    ("handled_on", "closes_before"),
    [
        (None, RECEIVED),
        (date(2027, 2, 26), date(2027, 2, 26)),
        (RECEIVED, RECEIVED),
        (date(2027, 3, 2), RECEIVED),
    ],
    ids=["all-handled", "objections-unread-since-before-today", "handled-through-today", "handled-later"],
)
def test_a_window_closes_only_before_the_day_whose_objections_are_all_handled(
    handled_on: date | None, closes_before: date
) -> None:
    assert objections_close_before(RECEIVED, handled_on) == closes_before
