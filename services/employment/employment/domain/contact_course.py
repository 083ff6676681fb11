"""The contact course (kontaktforløb) under the flexible trial, as pure rules on dates.

A follow-up falls due one cadence (3 months unless set individually) after the last qualifying
follow-up, or after the course began when there has been none. A postponement moves the due date
to its end date. While the social department is the lead department its follow-ups count and the
jobcenter does not chase the citizen. The jobcenter reminds the caseworker a number of days
before the due date and announces an overdue follow-up once per due date.
"""

from __future__ import annotations

import calendar
import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

DEFAULT_CADENCE_MONTHS = 3
CADENCE_RANGE = range(1, 13)


class Lead(StrEnum):
    """Which department holds the contact course (lead department)."""

    EMPLOYMENT = "employment"
    SOCIAL = "social"


class CourseRuleBroken(ValueError):
    """A request the contact-course rules refuse; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later, or that month's last day when it is shorter
    (31 January + 1 month = 28 or 29 February)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Course:
    """One citizen's contact course as the jobcenter keeps it."""

    started_on: date
    cadence_months: int = DEFAULT_CADENCE_MONTHS
    last_follow_up_on: date | None = None
    postponed_until: date | None = None
    postponed_on: date | None = None
    lead: Lead = Lead.EMPLOYMENT
    reminded_for: date | None = None
    overdue_announced_for: date | None = None
    lead_since: date | None = None

    @property
    def due_on(self) -> date:
        """When the next follow-up must be held at the latest."""
        base = add_months(self.last_follow_up_on or self.started_on, self.cadence_months)
        if self.postponed_until is not None and self.postponed_until > base:
            return self.postponed_until
        return base

    @property
    def chased_by_jobcenter(self) -> bool:
        return self.lead is Lead.EMPLOYMENT

    def record_follow_up(self, held_on: date, by: Lead, today: date) -> Course:
        """A qualifying follow-up took place. One held by the social department counts only
        while it is the lead department. An older follow-up than the last changes nothing."""
        if held_on > today:
            raise CourseRuleBroken("held_on", "a follow-up cannot be recorded before it is held")
        if held_on < self.started_on - timedelta(days=366):
            raise CourseRuleBroken("held_on", "is more than a year before the course began")
        if by is Lead.SOCIAL and self.lead is not Lead.SOCIAL:
            return self
        if self.last_follow_up_on is not None and held_on <= self.last_follow_up_on:
            return self
        postponement_over = self.postponed_on is not None and held_on >= self.postponed_on
        return dataclasses.replace(
            self,
            last_follow_up_on=held_on,
            postponed_until=None if postponement_over else self.postponed_until,
            postponed_on=None if postponement_over else self.postponed_on,
        )

    def postpone(self, until: date, today: date) -> Course:
        """Postpone the due follow-up to ``until``. The justification note is the schema's
        business (it is required); here: the new date must lie after the current due date."""
        if until <= today:
            raise CourseRuleBroken("until", "must be a date after today")
        if until <= self.due_on:
            raise CourseRuleBroken("until", f"must be after the current due date {self.due_on.isoformat()}")
        return dataclasses.replace(self, postponed_until=until, postponed_on=today)

    def set_cadence(self, months: int) -> Course:
        if months not in CADENCE_RANGE:
            raise CourseRuleBroken("months", "must be between 1 and 12")
        return dataclasses.replace(self, cadence_months=months)

    def switch_lead(self, lead: Lead, since: date | None = None) -> Course:
        return dataclasses.replace(self, lead=lead, lead_since=since or self.lead_since)

    def social_led_on(self, day: date) -> bool:
        """Whether the social department led the course on ``day``: since its takeover while it
        leads, or before the jobcenter took the lead back (a handover only ends a social lead)."""
        if self.lead is Lead.SOCIAL:
            return self.lead_since is None or day >= self.lead_since
        return self.lead_since is not None and day < self.lead_since

    def next_alarm_on(self, reminder_days: int) -> date | None:
        """The first day the scheduler has anything to announce for this course, or None. Kept
        in an indexed column, so finding what is due costs what is due."""
        if not self.chased_by_jobcenter or self.overdue_announced_for == self.due_on:
            return None
        if self.reminded_for != self.due_on:
            return self.due_on - timedelta(days=reminder_days)
        return self.due_on + timedelta(days=1)

    def alarm(self, today: date, reminder_days: int) -> Alarm | None:
        """What to announce today, if anything: overdue once the due date has passed, else a
        reminder once inside the reminder window; each once per due date."""
        if not self.chased_by_jobcenter:
            return None
        due = self.due_on
        if today > due:
            return None if self.overdue_announced_for == due else Alarm(AlarmKind.OVERDUE, due, 0)
        if today >= due - timedelta(days=reminder_days) and self.reminded_for != due:
            return Alarm(AlarmKind.DUE_SOON, due, (due - today).days)
        return None

    def announced(self, alarm: Alarm) -> Course:
        if alarm.kind is AlarmKind.OVERDUE:
            return dataclasses.replace(self, overdue_announced_for=alarm.due_on, reminded_for=alarm.due_on)
        return dataclasses.replace(self, reminded_for=alarm.due_on)


class AlarmKind(StrEnum):
    DUE_SOON = "due-soon"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Alarm:
    kind: AlarmKind
    due_on: date
    days_left: int
