from __future__ import annotations

from datetime import date

import pytest

from employment.domain.tasks import TaskKind, add_working_days, recontact_task_for_absence


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 11, 23), 2, date(2026, 11, 25)),  # Monday -> Wednesday
        (date(2026, 11, 26), 2, date(2026, 11, 30)),  # Thursday -> Monday
        (date(2026, 11, 27), 2, date(2026, 12, 1)),  # Friday -> Tuesday
        (date(2026, 11, 28), 2, date(2026, 12, 1)),  # Saturday -> Tuesday
        (date(2026, 11, 22), 2, date(2026, 11, 24)),  # Sunday -> Tuesday
        (date(2028, 2, 28), 1, date(2028, 2, 29)),  # leap day is a working day (Tuesday)
        (date(2026, 12, 31), 1, date(2027, 1, 1)),  # year end
        (date(2026, 11, 23), 0, date(2026, 11, 23)),
    ],
)
def test_working_days_skip_weekends(start: date, days: int, expected: date) -> None:
    assert add_working_days(start, days) == expected


def test_absence_notice_gives_a_recontact_task_due_in_two_working_days() -> None:
    task = recontact_task_for_absence(date(2026, 11, 27), 2)
    assert task.kind is TaskKind.RECONTACT_CITIZEN
    assert task.due_on == date(2026, 12, 1)
