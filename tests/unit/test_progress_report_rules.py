"""The progress-report rules pinned as tables of concrete dates: when a report is due, when the
provider is reminded and when a report is overdue, each once, and what a report received or a
new interval changes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from employment.domain.progress_reports import ProgressAlarm, ProgressAlarmKind, ReportingSchedule

# Started on 4 January 2027 with the default four weeks: the first report is due 1 February
# 2027; with 5 days' notice the provider is reminded on 27 January.
STARTED = date(2027, 1, 4)
DUE = date(2027, 2, 1)
NOTICE = 5


def run_scheduler(schedule: ReportingSchedule, first: date, last: date) -> list[tuple[date, ProgressAlarm]]:
    """Look at the schedule on the days the scheduler would (its next alarm day), as it does."""
    announced: list[tuple[date, ProgressAlarm]] = []
    day = first
    while day <= last:
        alarm_on = schedule.next_alarm_on(NOTICE)
        if alarm_on is not None and alarm_on <= day:
            alarm = schedule.alarm(day, NOTICE)
            if alarm is not None:
                schedule = schedule.announced(alarm)
                announced.append((day, alarm))
        day += timedelta(days=1)
    return announced


def test_the_first_report_is_due_an_interval_after_the_start() -> None:
    assert ReportingSchedule.starting(STARTED, 28).due_on == DUE


def test_a_report_not_sent_is_reminded_once_and_overdue_once_the_day_after_its_due_date() -> None:
    announced = run_scheduler(ReportingSchedule.starting(STARTED, 28), STARTED, DUE + timedelta(days=60))
    assert announced == [
        (date(2027, 1, 27), ProgressAlarm(ProgressAlarmKind.DUE_SOON, DUE, 5)),
        (date(2027, 2, 2), ProgressAlarm(ProgressAlarmKind.OVERDUE, DUE, 0)),
    ]


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2027, 1, 26), None),
        (date(2027, 1, 27), ProgressAlarmKind.DUE_SOON),
        (DUE, ProgressAlarmKind.DUE_SOON),
        (date(2027, 2, 2), ProgressAlarmKind.OVERDUE),
    ],
)
def test_what_is_announced_on_each_day(today: date, expected: ProgressAlarmKind | None) -> None:
    alarm = ReportingSchedule.starting(STARTED, 28).alarm(today, NOTICE)
    assert (alarm.kind if alarm else None) is expected


def test_an_overdue_report_marks_the_schedule_from_the_day_after_its_due_date() -> None:
    schedule = ReportingSchedule.starting(STARTED, 28)
    overdue = schedule.announced(ProgressAlarm(ProgressAlarmKind.OVERDUE, DUE, 0))
    assert overdue.overdue_since == date(2027, 2, 2)
    assert overdue.next_alarm_on(NOTICE) is None  # nothing more until a report arrives


@pytest.mark.parametrize(
    ("received_on", "on_time", "next_due"),
    [
        (date(2027, 1, 30), True, date(2027, 2, 27)),
        (DUE, True, date(2027, 3, 1)),
        (date(2027, 2, 10), False, date(2027, 3, 10)),
        (date(2027, 1, 1), True, DUE),  # before the start: the first stays due as it was
    ],
)
def test_a_report_received_clears_the_mark_and_the_next_is_due_an_interval_later(
    received_on: date, on_time: bool, next_due: date
) -> None:
    schedule = ReportingSchedule.starting(STARTED, 28).announced(
        ProgressAlarm(ProgressAlarmKind.OVERDUE, DUE, 0)
    )
    after, was_on_time = schedule.report_received(received_on)
    assert (was_on_time, after.due_on, after.overdue_since) == (on_time, next_due, None)


def test_after_a_late_report_the_next_due_date_is_reminded_and_announced_again() -> None:
    schedule = ReportingSchedule.starting(STARTED, 28).announced(
        ProgressAlarm(ProgressAlarmKind.OVERDUE, DUE, 0)
    )
    after, _ = schedule.report_received(date(2027, 2, 10))
    assert after.next_alarm_on(NOTICE) == date(2027, 3, 5)
    assert [alarm.kind for _, alarm in run_scheduler(after, date(2027, 2, 10), date(2027, 4, 1))] == [
        ProgressAlarmKind.DUE_SOON,
        ProgressAlarmKind.OVERDUE,
    ]


def test_a_new_interval_counts_from_the_start_of_the_period_awaited() -> None:
    schedule = ReportingSchedule.starting(STARTED, 28).interval_changed(14, STARTED)
    assert schedule.due_on == date(2027, 1, 18)


def overdue_on(today: date) -> ReportingSchedule:
    """Announced overdue on ``today`` (after 1 February) on the default four weeks."""
    [(_, alarm)] = [
        (day, alarm)
        for day, alarm in run_scheduler(ReportingSchedule.starting(STARTED, 28), STARTED, today)
        if alarm.kind is ProgressAlarmKind.OVERDUE
    ]
    return ReportingSchedule.starting(STARTED, 28).announced(alarm)


def test_an_interval_shortened_after_an_overdue_report_keeps_it_overdue_without_announcing_it_again() -> None:
    schedule = overdue_on(date(2027, 2, 5)).interval_changed(14, date(2027, 2, 5))
    assert schedule.announced_overdue
    assert (schedule.due_on, schedule.overdue_since) == (date(2027, 1, 18), date(2027, 1, 19))
    assert schedule.next_alarm_on(NOTICE) is None
    assert run_scheduler(schedule, date(2027, 2, 5), date(2027, 4, 1)) == []


def test_an_interval_lengthened_past_today_withdraws_the_overdue_mark_until_the_new_due_date_passes() -> None:
    schedule = overdue_on(date(2027, 2, 5)).interval_changed(42, date(2027, 2, 5))
    assert not schedule.announced_overdue
    assert (schedule.due_on, schedule.overdue_since) == (date(2027, 2, 15), None)
    assert run_scheduler(schedule, date(2027, 2, 5), date(2027, 4, 1)) == [
        (date(2027, 2, 10), ProgressAlarm(ProgressAlarmKind.DUE_SOON, date(2027, 2, 15), 5)),
        (date(2027, 2, 16), ProgressAlarm(ProgressAlarmKind.OVERDUE, date(2027, 2, 15), 0)),
    ]


def test_an_interval_lengthened_to_a_due_date_still_past_keeps_the_report_overdue_from_the_new_date() -> None:
    schedule = overdue_on(date(2027, 2, 10)).interval_changed(35, date(2027, 2, 10))
    assert schedule.announced_overdue
    assert (schedule.due_on, schedule.overdue_since) == (date(2027, 2, 8), date(2027, 2, 9))
    assert run_scheduler(schedule, date(2027, 2, 10), date(2027, 4, 1)) == []
