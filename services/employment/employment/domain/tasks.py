"""Caseworker tasks (opgaver) that incoming provider reports create."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from samspil.runtime.calendar import add_working_days


class TaskKind(StrEnum):
    RECONTACT_CITIZEN = "recontact-citizen"
    REVIEW_PROGRESS = "review-progress-report"
    DECIDE_PLAN_CHANGE = "decide-plan-change"
    DECIDE_HANDOVER = "decide-handover"
    RESOLVE_PLAN_CONFLICT = "resolve-plan-conflict"
    FOLLOW_DISPUTE = "follow-dispute"
    APPLY_RULING = "apply-ruling"
    DISPUTE_OVERDUE = "dispute-overdue"
    CONSIDER_SOCIAL_DECISION = "consider-social-decision"
    CHASE_PROGRESS_REPORT = "chase-progress-report"


class TaskStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class NewTask:
    kind: TaskKind
    title: str
    due_on: date


def recontact_task_for_absence(received_on: date, working_days: int) -> NewTask:
    """An absence notice obliges the jobcenter, not the provider, to re-contact the citizen."""
    return NewTask(
        kind=TaskKind.RECONTACT_CITIZEN,
        title="Re-contact the citizen after an absence notice from the provider",
        due_on=add_working_days(received_on, working_days),
    )


def progress_review_task(
    received_on: date, recommendation: str, concern: bool, working_days: int
) -> NewTask | None:
    """A progress report needs the caseworker only when it asks for a change or raises a concern."""
    if recommendation == "continue" and not concern:
        return None
    reason = "raises a concern" if concern else f"recommends '{recommendation}'"
    return NewTask(
        kind=TaskKind.REVIEW_PROGRESS,
        title=f"Review the provider's progress report: it {reason}",
        due_on=add_working_days(received_on, working_days),
    )


# Working days to decide a plan-change request, by its urgency.
DECISION_DAYS = {"urgent": 1, "soon": 3, "routine": 10}


def plan_change_decision_task(received_on: date, urgency: str) -> NewTask:
    """The team is obliged to act on a request to change the job plan."""
    return NewTask(
        kind=TaskKind.DECIDE_PLAN_CHANGE,
        title="Decide the provider's request to change the job plan",
        due_on=add_working_days(received_on, DECISION_DAYS[urgency]),
    )


def handover_decision_task(received_on: date, working_days: int) -> NewTask:
    """The social department judges the citizen ready: the jobcenter accepts or rejects."""
    return NewTask(
        kind=TaskKind.DECIDE_HANDOVER,
        title="Accept or reject the social department's handover of the citizen",
        due_on=add_working_days(received_on, working_days),
    )


# Working days for the two teams to settle a conflict between the plans.
PLAN_CONFLICT_DAYS = 5


def plan_conflict_task(detected_on: date, rule: str) -> NewTask:
    """The job plan and the social plan pull against each other: the jobcenter's team must
    settle it with the social team (the social department raises its own task)."""
    return NewTask(
        kind=TaskKind.RESOLVE_PLAN_CONFLICT,
        title=f"Resolve a conflict between the job plan and the social plan ({rule})",
        due_on=add_working_days(detected_on, PLAN_CONFLICT_DAYS),
    )


def overdue_progress_report_task(noticed_on: date, due_on: date, working_days: int) -> NewTask:
    """The provider did not send a progress report it was obliged to send by ``due_on``: the
    caseworker chases it (the next report that arrives closes the task)."""
    return NewTask(
        kind=TaskKind.CHASE_PROGRESS_REPORT,
        title=f"Chase the provider's progress report, due {due_on.isoformat()} and not received",
        due_on=add_working_days(noticed_on, working_days),
    )
