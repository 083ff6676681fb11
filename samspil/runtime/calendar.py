"""Working days in Denmark: Monday to Friday, less the public holidays (helligdage). The same
fact for every department, like the time zone, so it lives here rather than in each service."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache


def easter_sunday(year: int) -> date:
    """Easter Sunday in the Gregorian calendar (the anonymous algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    j = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * j) // 451
    month, day = divmod(h + j - 7 * m + 114, 31)
    return date(year, month, day + 1)


@cache
def danish_public_holidays(year: int) -> frozenset[date]:
    """The public holidays: New Year's Day, Maundy Thursday, Good Friday, Easter Sunday and
    Monday, Ascension Day, Whit Sunday and Monday, Christmas Day and Boxing Day. Great Prayer
    Day (store bededag) was abolished from 2024."""
    easter = easter_sunday(year)
    movable = {easter + timedelta(days=offset) for offset in (-3, -2, 0, 1, 39, 49, 50)}
    if year < 2024:
        movable.add(easter + timedelta(days=26))
    return frozenset({date(year, 1, 1), date(year, 12, 25), date(year, 12, 26), *movable})


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in danish_public_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
    current, remaining = start, days
    while remaining > 0:
        current += timedelta(days=1)
        remaining -= is_working_day(current)
    return current
