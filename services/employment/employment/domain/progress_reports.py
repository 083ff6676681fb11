"""Progress reports (tilbagemeldinger) a provider is obliged to send on a referral.

The rule: the provider reports in writing every agreed interval (by default four weeks). The
first report is due an interval after the offer starts; each report received starts the next
interval from the day it arrived (so the next is due an interval later). A few days before a
report is due the provider is reminded once; a report not received by the end of its due date
is overdue from the next day: announced once, it raises one caseworker task and marks the
referral until the next report arrives. A report is on time when it arrives by its due date.
Changing the interval moves the due date of the report now awaited (from the start of its
period). A closed referral awaits no report."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum


class ProgressAlarmKind(StrEnum):
    DUE_SOON = "due-soon"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class ProgressAlarm:
    kind: ProgressAlarmKind
    due_on: date
    days_left: int


@dataclass(frozen=True)
class ReportingSchedule:
    """Where a referral's reporting stands: the period of the report awaited and what was
    announced about its due date."""

    interval_days: int
    period_from: date
    overdue_since: date | None = None
    due_soon_announced_for: date | None = None
    overdue_announced_for: date | None = None

    @classmethod
    def starting(cls, starts_on: date, interval_days: int) -> ReportingSchedule:
        return cls(interval_days=interval_days, period_from=starts_on)

    @property
    def due_on(self) -> date:
        return self.period_from + timedelta(days=self.interval_days)

    def alarm(self, today: date, notice_days: int) -> ProgressAlarm | None:
        """What to announce today, if anything: overdue once the due date has passed, due soon
        from ``notice_days`` before it; each once per due date."""
        due = self.due_on
        if today > due:
            if self.overdue_announced_for == due:
                return None
            return ProgressAlarm(ProgressAlarmKind.OVERDUE, due, 0)
        if today >= due - timedelta(days=notice_days) and self.due_soon_announced_for != due:
            return ProgressAlarm(ProgressAlarmKind.DUE_SOON, due, (due - today).days)
        return None

    def announced(self, alarm: ProgressAlarm) -> ReportingSchedule:
        if alarm.kind is ProgressAlarmKind.OVERDUE:
            return replace(
                self,
                overdue_announced_for=alarm.due_on,
                overdue_since=self.overdue_since or alarm.due_on + timedelta(days=1),
            )
        return replace(self, due_soon_announced_for=alarm.due_on)

    def next_alarm_on(self, notice_days: int) -> date | None:
        """The next day something may be announced; None when nothing will be until a report
        arrives or the interval changes."""
        due = self.due_on
        if self.overdue_announced_for == due:
            return None
        if self.due_soon_announced_for == due:
            return due + timedelta(days=1)
        return due - timedelta(days=notice_days)

    def report_received(self, received_on: date) -> tuple[ReportingSchedule, bool]:
        """The schedule after a progress report arrived on ``received_on``, and whether it was on
        time: the mark is cleared and the next report is due an interval later."""
        on_time = received_on <= self.due_on
        # A report before the offer starts does not bring the first one forward.
        period_from = max(received_on, self.period_from)
        return replace(self, period_from=period_from, overdue_since=None), on_time

    def interval_changed(self, interval_days: int) -> ReportingSchedule:
        return replace(self, interval_days=interval_days)
