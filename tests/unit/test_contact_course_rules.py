"""The contact-course rules (kontaktforløb) pinned as tables of concrete dates.

Every case names the date it expects, so a change to a rule shows up as a named failing case.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from employment.domain.contact_course import (
    Alarm,
    AlarmKind,
    Course,
    CourseRuleBroken,
    Lead,
    add_months,
)

# A course that began on 10 January 2027 with the default cadence falls due on 10 April 2027;
# with a 14-day reminder window the reminder is due on 27 March 2027.
STARTED = date(2027, 1, 10)
DUE = date(2027, 4, 10)
REMINDER_DAYS = 14
WINDOW_OPENS = date(2027, 3, 27)


def days(first: date, last: date) -> Iterator[date]:
    """Every day from ``first`` to ``last``, both included."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def run_scheduler(course: Course, first: date, last: date, reminder_days: int) -> list[tuple[date, Alarm]]:
    """Ask the course once a day, as the scheduler does, and mark each alarm as announced."""
    announced: list[tuple[date, Alarm]] = []
    for today in days(first, last):
        alarm = course.alarm(today, reminder_days)
        if alarm is not None:
            announced.append((today, alarm))
            course = course.announced(alarm)
    return announced


def test_the_fixture_course_falls_due_three_months_after_it_began() -> None:
    course = Course(started_on=STARTED)
    assert course.due_on == DUE
    assert course.next_alarm_on(REMINDER_DAYS) == WINDOW_OPENS


# --- Month arithmetic ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        pytest.param(date(2027, 1, 31), 1, date(2027, 2, 28), id="31-jan+1-common-year-is-28-feb"),
        pytest.param(date(2028, 1, 31), 1, date(2028, 2, 29), id="31-jan+1-leap-year-is-29-feb"),
        pytest.param(date(2027, 3, 31), 1, date(2027, 4, 30), id="31-mar+1-is-30-apr"),
        pytest.param(date(2026, 11, 30), 3, date(2027, 2, 28), id="30-nov+3-into-common-year"),
        pytest.param(date(2027, 11, 30), 3, date(2028, 2, 29), id="30-nov+3-into-leap-year"),
        pytest.param(date(2026, 8, 31), 6, date(2027, 2, 28), id="31-aug+6-into-common-year"),
        pytest.param(date(2027, 8, 31), 6, date(2028, 2, 29), id="31-aug+6-into-leap-year"),
        pytest.param(date(2028, 2, 29), 12, date(2029, 2, 28), id="29-feb+12-is-28-feb-next-year"),
        pytest.param(date(2028, 2, 29), 3, date(2028, 5, 29), id="29-feb+3-keeps-the-29th"),
        pytest.param(date(2027, 10, 31), 3, date(2028, 1, 31), id="31-oct+3-rolls-into-january"),
        pytest.param(date(2027, 12, 15), 1, date(2028, 1, 15), id="december+1-rolls-the-year"),
        pytest.param(date(2027, 12, 31), 12, date(2028, 12, 31), id="31-dec+12-stays-in-december"),
        pytest.param(date(2027, 5, 15), 3, date(2027, 8, 15), id="mid-month-keeps-the-day"),
    ],
)
def test_add_months_keeps_the_day_or_clamps_to_the_month_end(
    start: date, months: int, expected: date
) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("course", "expected_due"),
    [
        pytest.param(Course(started_on=STARTED), DUE, id="no-follow-up-counts-from-the-start"),
        pytest.param(
            Course(started_on=date(2027, 11, 30)), date(2028, 2, 29), id="start-30-nov-due-on-leap-day"
        ),
        pytest.param(
            Course(started_on=date(2027, 1, 10), last_follow_up_on=date(2027, 8, 31), cadence_months=6),
            date(2028, 2, 29),
            id="follow-up-31-aug-cadence-6-due-on-leap-day",
        ),
        pytest.param(
            Course(started_on=date(2027, 1, 10), last_follow_up_on=date(2028, 2, 29), cadence_months=12),
            date(2029, 2, 28),
            id="follow-up-on-leap-day-cadence-12",
        ),
        pytest.param(
            Course(started_on=date(2027, 1, 10), last_follow_up_on=date(2027, 1, 31), cadence_months=1),
            date(2027, 2, 28),
            id="follow-up-31-jan-cadence-1",
        ),
    ],
)
def test_due_date_is_the_last_follow_up_or_start_plus_the_cadence(course: Course, expected_due: date) -> None:
    assert course.due_on == expected_due


# --- Postponement --------------------------------------------------------------------------------


def test_postponement_moves_the_due_date_to_the_until_date() -> None:
    postponed = Course(started_on=STARTED).postpone(date(2027, 5, 15), today=date(2027, 4, 1))
    assert postponed.due_on == date(2027, 5, 15)
    assert postponed.postponed_on == date(2027, 4, 1)


def test_postponement_can_be_extended_beyond_an_earlier_postponement() -> None:
    once = Course(started_on=STARTED).postpone(date(2027, 5, 15), today=date(2027, 4, 1))
    twice = once.postpone(date(2027, 6, 20), today=date(2027, 5, 10))
    assert twice.due_on == date(2027, 6, 20)


@pytest.mark.parametrize(
    ("until", "today", "message_part"),
    [
        pytest.param(date(2027, 4, 10), date(2027, 4, 1), "due date 2027-04-10", id="until-equals-due"),
        pytest.param(date(2027, 4, 5), date(2027, 4, 1), "due date 2027-04-10", id="until-before-due"),
        pytest.param(date(2027, 5, 1), date(2027, 5, 1), "after today", id="until-is-today-on-overdue"),
        pytest.param(date(2027, 4, 20), date(2027, 4, 25), "after today", id="until-after-due-but-past"),
    ],
)
def test_postponement_not_after_the_due_date_or_today_is_refused(
    until: date, today: date, message_part: str
) -> None:
    with pytest.raises(CourseRuleBroken) as refused:
        Course(started_on=STARTED).postpone(until, today=today)
    assert refused.value.field == "until"
    assert message_part in refused.value.message


def test_postponement_not_after_an_existing_postponement_is_refused() -> None:
    postponed = Course(started_on=STARTED).postpone(date(2027, 5, 15), today=date(2027, 4, 1))
    with pytest.raises(CourseRuleBroken) as refused:
        postponed.postpone(date(2027, 5, 1), today=date(2027, 4, 2))
    assert refused.value.field == "until"
    assert "due date 2027-05-15" in refused.value.message


def test_expired_postponement_is_announced_overdue_for_the_until_date() -> None:
    reminded = Course(started_on=STARTED).announced(Alarm(AlarmKind.DUE_SOON, DUE, 9))
    postponed = reminded.postpone(date(2027, 5, 15), today=date(2027, 4, 1))
    assert run_scheduler(postponed, date(2027, 4, 1), date(2027, 6, 30), REMINDER_DAYS) == [
        (date(2027, 5, 1), Alarm(AlarmKind.DUE_SOON, date(2027, 5, 15), 14)),
        (date(2027, 5, 16), Alarm(AlarmKind.OVERDUE, date(2027, 5, 15), 0)),
    ]


def test_postponement_of_an_overdue_course_brings_a_new_reminder_and_overdue() -> None:
    overdue = Course(started_on=STARTED).announced(Alarm(AlarmKind.OVERDUE, DUE, 0))
    postponed = overdue.postpone(date(2027, 6, 1), today=date(2027, 4, 20))
    assert postponed.next_alarm_on(REMINDER_DAYS) == date(2027, 5, 18)
    assert run_scheduler(postponed, date(2027, 4, 20), date(2027, 7, 31), REMINDER_DAYS) == [
        (date(2027, 5, 18), Alarm(AlarmKind.DUE_SOON, date(2027, 6, 1), 14)),
        (date(2027, 6, 2), Alarm(AlarmKind.OVERDUE, date(2027, 6, 1), 0)),
    ]


# The postponement is recorded on 1 April 2027 and runs until 30 September 2027.
POSTPONED = Course(started_on=STARTED).postpone(date(2027, 9, 30), today=date(2027, 4, 1))


@pytest.mark.parametrize(
    ("held_on", "expected_due", "expected_postponed_until"),
    [
        pytest.param(date(2027, 4, 20), date(2027, 7, 20), None, id="held-after-recording-ends-it"),
        pytest.param(date(2027, 6, 30), date(2027, 9, 30), None, id="held-after-recording-end-coincides"),
        pytest.param(
            date(2027, 3, 20), date(2027, 9, 30), date(2027, 9, 30), id="back-dated-before-recording-keeps-it"
        ),
        pytest.param(
            date(2027, 1, 15), date(2027, 9, 30), date(2027, 9, 30), id="back-dated-far-before-keeps-it"
        ),
    ],
)
def test_follow_up_held_after_the_postponement_was_recorded_ends_it(
    held_on: date, expected_due: date, expected_postponed_until: date | None
) -> None:
    followed = POSTPONED.record_follow_up(held_on, Lead.EMPLOYMENT, today=date(2027, 7, 1))
    assert followed.last_follow_up_on == held_on
    assert followed.due_on == expected_due
    assert followed.postponed_until == expected_postponed_until


def test_ignored_social_follow_up_does_not_end_a_postponement() -> None:
    followed = POSTPONED.record_follow_up(date(2027, 4, 20), Lead.SOCIAL, today=date(2027, 4, 21))
    assert followed == POSTPONED
    assert followed.due_on == date(2027, 9, 30)


# --- Cadence -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("course", "months", "expected_due"),
    [
        pytest.param(
            Course(started_on=date(2027, 1, 31), last_follow_up_on=date(2027, 3, 31)),
            1,
            date(2027, 4, 30),
            id="monthly-from-31-mar",
        ),
        pytest.param(
            Course(started_on=date(2027, 1, 31), last_follow_up_on=date(2027, 3, 31)),
            6,
            date(2027, 9, 30),
            id="half-yearly-from-31-mar",
        ),
        pytest.param(
            Course(started_on=date(2027, 1, 31), last_follow_up_on=date(2027, 3, 31)),
            12,
            date(2028, 3, 31),
            id="yearly-from-31-mar",
        ),
        pytest.param(
            Course(started_on=date(2027, 1, 31), last_follow_up_on=date(2027, 3, 31), cadence_months=6),
            3,
            date(2027, 6, 30),
            id="back-to-default-from-31-mar",
        ),
        pytest.param(
            Course(started_on=date(2027, 8, 31)), 6, date(2028, 2, 29), id="no-follow-up-from-start"
        ),
    ],
)
def test_cadence_change_recomputes_the_due_date_from_the_last_follow_up(
    course: Course, months: int, expected_due: date
) -> None:
    changed = course.set_cadence(months)
    assert changed.cadence_months == months
    assert changed.due_on == expected_due


@pytest.mark.parametrize("months", [pytest.param(m, id=f"{m}-months") for m in (-1, 0, 13, 24)])
def test_cadence_outside_one_to_twelve_months_is_refused(months: int) -> None:
    with pytest.raises(CourseRuleBroken) as refused:
        Course(started_on=STARTED).set_cadence(months)
    assert refused.value.field == "months"


# --- Follow-ups ----------------------------------------------------------------------------------

# Last follow-up on 15 February 2027, so the next one is due on 15 May 2027.
FOLLOWED_UP = Course(started_on=STARTED, last_follow_up_on=date(2027, 2, 15))


@pytest.mark.parametrize(
    ("course", "held_on", "today", "expected_last", "expected_due"),
    [
        pytest.param(
            FOLLOWED_UP,
            date(2027, 3, 1),
            date(2027, 3, 2),
            date(2027, 3, 1),
            date(2027, 6, 1),
            id="later-moves",
        ),
        pytest.param(
            FOLLOWED_UP,
            date(2027, 3, 2),
            date(2027, 3, 2),
            date(2027, 3, 2),
            date(2027, 6, 2),
            id="held-today",
        ),
        pytest.param(
            FOLLOWED_UP,
            date(2027, 2, 15),
            date(2027, 3, 2),
            date(2027, 2, 15),
            date(2027, 5, 15),
            id="same-day-as-last-changes-nothing",
        ),
        pytest.param(
            FOLLOWED_UP,
            date(2027, 2, 1),
            date(2027, 3, 2),
            date(2027, 2, 15),
            date(2027, 5, 15),
            id="older-than-last-changes-nothing",
        ),
        pytest.param(
            Course(started_on=STARTED),
            date(2027, 1, 20),
            date(2027, 1, 21),
            date(2027, 1, 20),
            date(2027, 4, 20),
            id="first-follow-up-replaces-the-start",
        ),
        pytest.param(
            Course(started_on=STARTED),
            date(2027, 11, 30),
            date(2027, 12, 1),
            date(2027, 11, 30),
            date(2028, 2, 29),
            id="30-nov-follow-up-due-on-leap-day",
        ),
    ],
)
def test_later_follow_up_moves_the_due_date_and_an_older_one_changes_nothing(
    course: Course, held_on: date, today: date, expected_last: date, expected_due: date
) -> None:
    followed = course.record_follow_up(held_on, Lead.EMPLOYMENT, today=today)
    assert followed.last_follow_up_on == expected_last
    assert followed.due_on == expected_due


@pytest.mark.parametrize(
    ("held_on", "today"),
    [
        pytest.param(date(2027, 3, 3), date(2027, 3, 2), id="tomorrow"),
        pytest.param(date(2027, 6, 1), date(2027, 3, 2), id="months-ahead"),
        pytest.param(date(2025, 1, 10), date(2027, 3, 2), id="two-years-before-the-start"),
    ],
)
def test_follow_up_in_the_future_or_long_before_the_course_is_refused(held_on: date, today: date) -> None:
    with pytest.raises(CourseRuleBroken) as refused:
        FOLLOWED_UP.record_follow_up(held_on, Lead.EMPLOYMENT, today=today)
    assert refused.value.field == "held_on"


# --- Lead department -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "today",
    [
        pytest.param(date(2027, 3, 1), id="before-the-window"),
        pytest.param(WINDOW_OPENS, id="window-opens"),
        pytest.param(DUE, id="due-date"),
        pytest.param(date(2027, 4, 11), id="day-after-due"),
        pytest.param(date(2028, 1, 1), id="long-overdue"),
    ],
)
def test_social_lead_gets_no_alarm_even_when_overdue(today: date) -> None:
    social = Course(started_on=STARTED).switch_lead(Lead.SOCIAL)
    assert social.lead is Lead.SOCIAL
    assert social.due_on == DUE
    assert social.alarm(today, REMINDER_DAYS) is None
    assert social.next_alarm_on(REMINDER_DAYS) is None


@pytest.mark.parametrize(
    ("lead", "by", "expected_due"),
    [
        pytest.param(Lead.SOCIAL, Lead.SOCIAL, date(2027, 6, 1), id="social-while-social-leads-counts"),
        pytest.param(
            Lead.SOCIAL, Lead.EMPLOYMENT, date(2027, 6, 1), id="employment-while-social-leads-counts"
        ),
        pytest.param(
            Lead.EMPLOYMENT, Lead.EMPLOYMENT, date(2027, 6, 1), id="employment-while-employment-leads"
        ),
        pytest.param(Lead.EMPLOYMENT, Lead.SOCIAL, DUE, id="social-while-employment-leads-is-ignored"),
    ],
)
def test_social_follow_ups_count_only_while_social_leads(lead: Lead, by: Lead, expected_due: date) -> None:
    course = Course(started_on=STARTED, lead=lead)
    followed = course.record_follow_up(date(2027, 3, 1), by, today=date(2027, 3, 2))
    assert followed.due_on == expected_due


def test_after_switching_back_the_due_date_counts_from_the_social_follow_up() -> None:
    course = (
        Course(started_on=STARTED)
        .switch_lead(Lead.SOCIAL)
        .record_follow_up(date(2027, 3, 1), Lead.SOCIAL, today=date(2027, 3, 1))
        .switch_lead(Lead.EMPLOYMENT)
    )
    assert course.lead is Lead.EMPLOYMENT
    assert course.due_on == date(2027, 6, 1)
    assert course.next_alarm_on(REMINDER_DAYS) == date(2027, 5, 18)


def test_course_that_became_overdue_under_social_lead_is_announced_after_switching_back() -> None:
    social = (
        Course(started_on=STARTED)
        .switch_lead(Lead.SOCIAL)
        .record_follow_up(date(2027, 3, 1), Lead.SOCIAL, today=date(2027, 3, 1))
    )
    assert run_scheduler(social, date(2027, 3, 1), date(2027, 7, 1), REMINDER_DAYS) == []

    back = social.switch_lead(Lead.EMPLOYMENT)
    assert back.alarm(date(2027, 7, 1), REMINDER_DAYS) == Alarm(AlarmKind.OVERDUE, date(2027, 6, 1), 0)
    assert run_scheduler(back, date(2027, 7, 1), date(2027, 8, 31), REMINDER_DAYS) == [
        (date(2027, 7, 1), Alarm(AlarmKind.OVERDUE, date(2027, 6, 1), 0)),
    ]


# --- Alarms --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "reminder_days", "expected"),
    [
        pytest.param(date(2027, 3, 26), 14, None, id="day-before-the-window"),
        pytest.param(date(2027, 3, 27), 14, Alarm(AlarmKind.DUE_SOON, DUE, 14), id="window-opens"),
        pytest.param(date(2027, 4, 1), 14, Alarm(AlarmKind.DUE_SOON, DUE, 9), id="inside-the-window"),
        pytest.param(DUE, 14, Alarm(AlarmKind.DUE_SOON, DUE, 0), id="due-date-is-not-overdue"),
        pytest.param(date(2027, 4, 11), 14, Alarm(AlarmKind.OVERDUE, DUE, 0), id="day-after-due-is-overdue"),
        pytest.param(date(2027, 12, 1), 14, Alarm(AlarmKind.OVERDUE, DUE, 0), id="long-overdue"),
        pytest.param(date(2027, 4, 9), 0, None, id="no-window-day-before-due"),
        pytest.param(DUE, 0, Alarm(AlarmKind.DUE_SOON, DUE, 0), id="no-window-reminds-on-due-date"),
        pytest.param(date(2027, 4, 11), 0, Alarm(AlarmKind.OVERDUE, DUE, 0), id="no-window-overdue-next-day"),
        pytest.param(date(2027, 3, 9), 31, None, id="month-window-day-before"),
        pytest.param(date(2027, 3, 10), 31, Alarm(AlarmKind.DUE_SOON, DUE, 31), id="month-window-opens"),
        pytest.param(date(2027, 3, 11), 31, Alarm(AlarmKind.DUE_SOON, DUE, 30), id="month-window-inside"),
    ],
)
def test_alarm_reminds_inside_the_window_and_is_overdue_after_the_due_date(
    today: date, reminder_days: int, expected: Alarm | None
) -> None:
    assert Course(started_on=STARTED).alarm(today, reminder_days) == expected


@pytest.mark.parametrize(
    ("first", "reminder_days", "expected"),
    [
        pytest.param(
            date(2027, 3, 1),
            14,
            [
                (date(2027, 3, 27), Alarm(AlarmKind.DUE_SOON, DUE, 14)),
                (date(2027, 4, 11), Alarm(AlarmKind.OVERDUE, DUE, 0)),
            ],
            id="reminder-then-overdue",
        ),
        pytest.param(
            date(2027, 4, 5),
            14,
            [
                (date(2027, 4, 5), Alarm(AlarmKind.DUE_SOON, DUE, 5)),
                (date(2027, 4, 11), Alarm(AlarmKind.OVERDUE, DUE, 0)),
            ],
            id="scheduler-starts-inside-the-window",
        ),
        pytest.param(
            date(2027, 4, 20),
            14,
            [(date(2027, 4, 20), Alarm(AlarmKind.OVERDUE, DUE, 0))],
            id="overdue-without-reminder-announces-only-overdue",
        ),
        pytest.param(
            date(2027, 3, 1),
            0,
            [
                (DUE, Alarm(AlarmKind.DUE_SOON, DUE, 0)),
                (date(2027, 4, 11), Alarm(AlarmKind.OVERDUE, DUE, 0)),
            ],
            id="zero-reminder-days",
        ),
    ],
)
def test_each_alarm_is_announced_once_per_due_date(
    first: date, reminder_days: int, expected: list[tuple[date, Alarm]]
) -> None:
    assert run_scheduler(Course(started_on=STARTED), first, date(2027, 8, 31), reminder_days) == expected


@pytest.mark.parametrize(
    "today",
    [pytest.param(d, id=d.isoformat()) for d in (date(2027, 3, 28), date(2027, 4, 5), DUE)],
)
def test_announced_reminder_does_not_recur_inside_the_window(today: date) -> None:
    reminded = Course(started_on=STARTED).announced(Alarm(AlarmKind.DUE_SOON, DUE, 14))
    assert reminded.alarm(today, REMINDER_DAYS) is None
    assert reminded.alarm(date(2027, 4, 11), REMINDER_DAYS) == Alarm(AlarmKind.OVERDUE, DUE, 0)


@pytest.mark.parametrize(
    "today",
    [pytest.param(d, id=d.isoformat()) for d in (date(2027, 4, 11), date(2027, 5, 1), date(2028, 4, 11))],
)
def test_announced_overdue_does_not_recur(today: date) -> None:
    overdue = Course(started_on=STARTED).announced(Alarm(AlarmKind.OVERDUE, DUE, 0))
    assert overdue.alarm(today, REMINDER_DAYS) is None
    assert overdue.next_alarm_on(REMINDER_DAYS) is None


def test_later_follow_up_after_an_announced_overdue_starts_a_new_reminder_cycle() -> None:
    overdue = Course(started_on=STARTED).announced(Alarm(AlarmKind.OVERDUE, DUE, 0))
    followed = overdue.record_follow_up(date(2027, 4, 20), Lead.EMPLOYMENT, today=date(2027, 4, 20))
    assert followed.due_on == date(2027, 7, 20)
    assert followed.next_alarm_on(REMINDER_DAYS) == date(2027, 7, 6)
    assert followed.alarm(date(2027, 7, 6), REMINDER_DAYS) == Alarm(AlarmKind.DUE_SOON, date(2027, 7, 20), 14)


# --- next_alarm_on agrees with alarm -------------------------------------------------------------

_REMINDED = Course(started_on=STARTED).announced(Alarm(AlarmKind.DUE_SOON, DUE, 14))
_OVERDUE_ANNOUNCED = Course(started_on=STARTED).announced(Alarm(AlarmKind.OVERDUE, DUE, 0))


@pytest.mark.parametrize(
    ("course", "reminder_days", "first", "expected_next"),
    [
        pytest.param(Course(started_on=STARTED), 14, date(2027, 1, 10), WINDOW_OPENS, id="fresh"),
        pytest.param(Course(started_on=STARTED), 0, date(2027, 1, 10), DUE, id="fresh-no-window"),
        pytest.param(
            Course(started_on=STARTED), 60, date(2027, 1, 10), date(2027, 2, 9), id="fresh-wide-window"
        ),
        pytest.param(_REMINDED, 14, date(2027, 1, 10), date(2027, 4, 11), id="reminded"),
        pytest.param(_OVERDUE_ANNOUNCED, 14, date(2027, 1, 10), None, id="overdue-announced"),
        pytest.param(
            Course(started_on=STARTED, lead=Lead.SOCIAL), 14, date(2027, 1, 10), None, id="social-lead"
        ),
        pytest.param(
            _REMINDED.postpone(date(2027, 5, 15), today=date(2027, 4, 1)),
            14,
            date(2027, 4, 1),
            date(2027, 5, 1),
            id="postponed-after-reminder",
        ),
        pytest.param(
            Course(started_on=date(2027, 11, 30)),
            30,
            date(2027, 11, 30),
            date(2028, 1, 30),
            id="leap-day-due",
        ),
        pytest.param(
            Course(started_on=STARTED),
            14,
            date(2027, 4, 20),
            WINDOW_OPENS,
            id="scheduler-starts-when-overdue",
        ),
    ],
)
def test_next_alarm_on_is_the_first_day_alarm_has_something(
    course: Course, reminder_days: int, first: date, expected_next: date | None
) -> None:
    next_alarm = course.next_alarm_on(reminder_days)
    assert next_alarm == expected_next
    checked = list(days(first, course.due_on + timedelta(days=40)))
    if next_alarm is None:
        assert [d for d in checked if course.alarm(d, reminder_days) is not None] == []
        return
    assert [d for d in checked if d < next_alarm and course.alarm(d, reminder_days) is not None] == []
    if next_alarm >= first:
        assert course.alarm(next_alarm, reminder_days) is not None
    else:
        # The scheduler started late: what was due before it is due on its first day.
        assert course.alarm(first, reminder_days) is not None
