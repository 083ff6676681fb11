"""Caseworker tasks (opgaver) that incoming provider reports create."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class TaskKind(StrEnum):
    RECONTACT_CITIZEN = "recontact-citizen"


class TaskStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class NewTask:
    kind: TaskKind
    title: str
    due_on: date


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days (Monday to Friday) after ``start``.

    Public holidays are not yet taken into account; a task falls due no later than it should.
    """
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def recontact_task_for_absence(received_on: date, working_days: int) -> NewTask:
    """An absence notice obliges the jobcenter, not the provider, to re-contact the citizen."""
    return NewTask(
        kind=TaskKind.RECONTACT_CITIZEN,
        title="Re-contact the citizen after an absence notice from the provider",
        due_on=add_working_days(received_on, working_days),
    )
