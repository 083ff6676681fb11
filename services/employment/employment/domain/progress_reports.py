"""Progress reports (tilbagemeldinger) a provider is obliged to send on a referral.

The rule: the provider reports in writing every agreed interval (by default four weeks). The
first report is due an interval after the offer starts; each report received starts the next
interval from the day it arrived (so the next is due an interval later). A few days before a
report is due the provider is reminded once; a report not received by the end of its due date
is overdue from the next day: announced once per awaited report (its period), it raises one
caseworker task and marks the referral (overdue since the day after the due date) until the next
report arrives. A report is on time when it arrives by its due date. Changing the interval moves
the due date of the report now awaited (from the start of its period): if it is still past, the
report stays overdue (since the day after its new due date) and is not announced again; if it is
today or later, the report is no longer overdue and the chase is withdrawn, to be announced again
only if the new due date passes too. A closed referral awaits no report."""

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
    announced about it: the due date it was reminded of, and whether it was announced overdue
    (by the period it belongs to, which an interval change does not move)."""

    interval_days: int
    period_from: date
    overdue_since: date | None = None
    due_soon_announced_for: date | None = None
    overdue_announced_for_period: date | None = None

    @classmethod
    def starting(cls, starts_on: date, interval_days: int) -> ReportingSchedule:
        return cls(interval_days=interval_days, period_from=starts_on)

    @property
    def due_on(self) -> date:
        return self.period_from + timedelta(days=self.interval_days)

    @property
    def announced_overdue(self) -> bool:
        """Whether the report now awaited was announced overdue (and so has its chase task)."""
        return self.overdue_announced_for_period == self.period_from

    def alarm(self, today: date, notice_days: int) -> ProgressAlarm | None:
        """What to announce today, if anything: overdue once the due date has passed (once per
        awaited report), due soon from ``notice_days`` before it (once per due date)."""
        due = self.due_on
        if today > due:
            if self.announced_overdue:
                return None
            return ProgressAlarm(ProgressAlarmKind.OVERDUE, due, 0)
        if today >= due - timedelta(days=notice_days) and self.due_soon_announced_for != due:
            return ProgressAlarm(ProgressAlarmKind.DUE_SOON, due, (due - today).days)
        return None

    def announced(self, alarm: ProgressAlarm) -> ReportingSchedule:
        if alarm.kind is ProgressAlarmKind.OVERDUE:
            return replace(
                self, overdue_announced_for_period=self.period_from, overdue_since=self._overdue_from
            )
        return replace(self, due_soon_announced_for=alarm.due_on)

    def next_alarm_on(self, notice_days: int) -> date | None:
        """The next day something may be announced; None when nothing will be until a report
        arrives or the interval changes."""
        due = self.due_on
        if self.announced_overdue:
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
        after = replace(self, period_from=period_from, overdue_since=None, overdue_announced_for_period=None)
        return after, on_time

    def interval_changed(self, interval_days: int, today: date) -> ReportingSchedule:
        """The schedule under a new interval, for the same awaited report: once announced overdue,
        it stays so (since the day after its new due date) while that date is past; a due date
        today or later withdraws the overdue mark and the announcement (the caller closes the
        chase), so the report is announced again only if the new date passes too."""
        changed = replace(self, interval_days=interval_days)
        if not self.announced_overdue:
            return changed
        if changed.due_on >= today:
            return replace(changed, overdue_since=None, overdue_announced_for_period=None)
        return replace(changed, overdue_since=changed._overdue_from)

    @property
    def _overdue_from(self) -> date:
        return self.due_on + timedelta(days=1)
