from __future__ import annotations

from datetime import date

import pytest

from employment.domain.tasks import TaskKind, recontact_task_for_absence
from samspil.runtime.calendar import add_working_days, danish_public_holidays, easter_sunday


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 11, 23), 2, date(2026, 11, 25)),  # Monday -> Wednesday
        (date(2026, 11, 26), 2, date(2026, 11, 30)),  # Thursday -> Monday
        (date(2026, 11, 27), 2, date(2026, 12, 1)),  # Friday -> Tuesday
        (date(2026, 11, 28), 2, date(2026, 12, 1)),  # Saturday -> Tuesday
        (date(2026, 11, 22), 2, date(2026, 11, 24)),  # Sunday -> Tuesday
        (date(2028, 2, 28), 1, date(2028, 2, 29)),  # leap day is a working day (Tuesday)
        (date(2026, 12, 30), 1, date(2026, 12, 31)),  # New Year's Eve is a working day
        (date(2026, 12, 31), 1, date(2027, 1, 4)),  # New Year's Day, then the weekend
        (date(2026, 12, 23), 2, date(2026, 12, 28)),  # Christmas Eve counts; Christmas and Boxing Day do not
        (date(2027, 3, 24), 2, date(2027, 3, 31)),  # Maundy Thursday to Easter Monday are holidays
        (date(2027, 5, 5), 1, date(2027, 5, 7)),  # Ascension Day, Thursday 6 May 2027
        (date(2027, 5, 14), 1, date(2027, 5, 18)),  # Whit Monday, 17 May 2027
        (date(2024, 4, 25), 1, date(2024, 4, 26)),  # Great Prayer Day is a working day from 2024
        (date(2023, 5, 4), 1, date(2023, 5, 8)),  # ... but was a holiday, Friday 5 May 2023
        (date(2026, 11, 23), 0, date(2026, 11, 23)),
    ],
)
def test_working_days_skip_weekends_and_public_holidays(start: date, days: int, expected: date) -> None:
    assert add_working_days(start, days) == expected


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
    ],
)
def test_easter_sunday_is_computed_for_each_year(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_there_are_ten_public_holidays_a_year_since_great_prayer_day_was_abolished() -> None:
    assert len(danish_public_holidays(2023)) == 11
    assert len(danish_public_holidays(2027)) == 10


def test_absence_notice_gives_a_recontact_task_due_in_two_working_days() -> None:
    task = recontact_task_for_absence(date(2026, 11, 27), 2)
    assert task.kind is TaskKind.RECONTACT_CITIZEN
    assert task.due_on == date(2026, 12, 1)
