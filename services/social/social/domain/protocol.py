"""The plan-change protocol's windows, as the social department holds them: when the social team
must object to the jobcenter's decision by, and whether an objection is still allowed. Plain
Python, no I/O."""

from __future__ import annotations

import dataclasses
from datetime import date

from samspil.runtime.errors import Conflict, NotFound
from schemas.common import Department
from social.domain.tasks import NewTask, objection_task


def objection_window(
    received_on: date, objection_days: int, decision: str, announced_deadline: date | None
) -> NewTask:
    """The social team's task to consider the jobcenter's decision, due when its window closes.
    The deadline the jobcenter announced holds, unless the decision reached this side so late
    that the team would get less than its full window: then the window counts from arrival (the
    jobcenter's view shows its own date; the outcome is the same on both)."""
    task = objection_task(received_on, objection_days, decision)
    if announced_deadline is not None and announced_deadline > task.due_on:
        task = dataclasses.replace(task, due_on=announced_deadline)
    return task


def check_objection(deciding_department: str, status: str, object_by: date, sent_on: date) -> None:
    """The social team may object only to the jobcenter's decision, while it is open, and on or
    before the deadline (judged by when the team sent the objection)."""
    if deciding_department != Department.EMPLOYMENT.value:
        # The jobcenter holds the window on the social team's own decisions.
        raise NotFound("No decision of the jobcenter with this id for the citizen", field="decision_id")
    if status != "open":
        raise Conflict(f"The decision is {status}", field="decision_id", current_status=status)
    if sent_on > object_by:
        raise Conflict(
            f"The deadline for objections was {object_by.isoformat()}",
            field="decision_id",
            object_by=object_by.isoformat(),
        )
