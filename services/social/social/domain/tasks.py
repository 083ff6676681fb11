"""Social caseworker tasks made from providers' reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from samspil.runtime.calendar import add_working_days


class TaskKind(StrEnum):
    """Every kind of task the social team gets."""

    READY_FOR_FURTHER_OFFERS = "ready-for-further-offers"
    DECIDE_SOCIAL_PLAN_CHANGE = "decide-social-plan-change"
    CONSIDER_EMPLOYMENT_DECISION = "consider-employment-decision"
    RULE_DISPUTE = "rule-dispute"
    DISPUTE_OVERDUE = "dispute-overdue"
    APPLY_RULING = "apply-ruling"
    HANDOVER_ACCEPTED = "handover-accepted"
    HANDOVER_REJECTED = "handover-rejected"
    RESOLVE_PLAN_CONFLICT = "resolve-plan-conflict"


class TaskStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class NewTask:
    kind: str
    title: str
    due_on: date


READINESS_TASK_KIND = "ready-for-further-offers"


def readiness_task(received_on: date, working_days: int) -> NewTask:
    """A provider judges the citizen ready for more: social support should come at the right time.
    The social department's own readiness assessment answers it (closes the task)."""
    return NewTask(
        READINESS_TASK_KIND,
        "The provider reports the citizen ready for further offers",
        add_working_days(received_on, working_days),
    )


def social_plan_change_task(received_on: date, working_days: int) -> NewTask:
    """The social team is obliged to act on a request to change the social action plan."""
    return NewTask(
        "decide-social-plan-change",
        "Decide the provider's request to change the social action plan",
        add_working_days(received_on, working_days),
    )


def objection_task(received_on: date, working_days: int, decision: str) -> NewTask:
    """The employment team decided a change to the job plan: the social team is informed and may
    object within the deadline, after which the decision is final."""
    return NewTask(
        "consider-employment-decision",
        f"The employment team {decision} a change to the job plan: object by the due date if the "
        "social action plan speaks against it",
        add_working_days(received_on, working_days),
    )


def dispute_task(raised_on: date, working_days: int) -> NewTask:
    """The joint specialist unit must rule on the teams' disagreement by the deadline."""
    return NewTask(
        "rule-dispute",
        "The teams disagree on a plan change: the joint specialist unit rules",
        add_working_days(raised_on, working_days),
    )


def overdue_dispute_task(today: date) -> NewTask:
    return NewTask("dispute-overdue", "The specialist unit's ruling is overdue", today)


def apply_ruling_task(ruled_on: date, working_days: int) -> NewTask:
    return NewTask(
        "apply-ruling",
        "The specialist unit ruled: bring the social action plan in line with the ruling",
        add_working_days(ruled_on, working_days),
    )


def handover_answer_task(received_on: date, accepted: bool) -> NewTask:
    verb = "accepted" if accepted else "rejected"
    return NewTask(
        f"handover-{verb}",
        f"The jobcenter {verb} the handover",
        received_on,
    )


def plan_conflict_task(received_on: date, working_days: int) -> NewTask:
    return NewTask(
        "resolve-plan-conflict",
        "The job plan and the social action plan pull against each other",
        add_working_days(received_on, working_days),
    )
