"""The plan-change protocol's rules, as the social department holds them: when the social team
must object to the jobcenter's decision by, whether an objection is still allowed, when the
specialist unit may rule and what follows from its ruling, and when the social team may decide a
provider's request to change the social plan. Plain Python, no I/O."""

from __future__ import annotations

import dataclasses
from datetime import date

from samspil.runtime.errors import Conflict, Invalid, NotFound
from schemas.common import Department
from schemas.decisions import PlanChangeDecision
from schemas.disputes import FinalOutcome, FinalVia, RulingOutcome
from social.domain.tasks import NewTask, dispute_task, objection_task

# What the provider who asked reads of a ruling when the unit wrote nothing for it.
RULED_FOR_PROVIDER = {
    RulingOutcome.EMPLOYMENT_POSITION: "The joint specialist unit upheld the jobcenter's position.",
    RulingOutcome.SOCIAL_POSITION: "The joint specialist unit upheld the social department's position.",
    RulingOutcome.COMPROMISE: (
        "The joint specialist unit ruled a compromise; the department that decided will tell you more."
    ),
}


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


def objections_close_before(today: date, objections_handled_on: date | None) -> date:
    """An objection window closes only before the day by whose start every objection sent on the
    command topic has been handled (``today`` unless told otherwise): an objection sent in time
    and still unread is not refused."""
    return today if objections_handled_on is None else min(today, objections_handled_on)


def check_decision_found(owner: str | None, citizen_ref: str | None) -> None:
    """A decision is found only for its own citizen (``owner``: the citizen it was found for, None
    if none was); asked about no citizen (the specialist unit), any decision is found."""
    if owner is None or (citizen_ref is not None and owner != citizen_ref):
        raise NotFound("No such decision for the citizen", field="decision_id")


def check_ruling(owner: str | None, citizen_ref: str | None, status: str | None) -> None:
    """The specialist unit rules on a dispute of the citizen asked about (any, if none was), once:
    a ruling is final."""
    if owner is None or (citizen_ref is not None and owner != citizen_ref):
        raise NotFound("No such dispute", field="dispute_id")
    if status != "open":
        raise Conflict("The dispute was already ruled", field="dispute_id", current_status=status)


def social_plan_follows(outcome: RulingOutcome) -> bool:
    """Unless the unit upheld the social department's position, the social plan must be brought in
    line with the ruling (a task for the social team)."""
    return outcome is not RulingOutcome.SOCIAL_POSITION


def ruling_for_provider(outcome: RulingOutcome, summary_for_provider: str | None) -> str:
    """The ruling's reasons may touch the citizen's health: the provider reads only what the unit
    wrote for it, or else the outcome."""
    return summary_for_provider or RULED_FOR_PROVIDER[outcome]


def final_outcome(via: FinalVia, outcome: FinalOutcome) -> str:
    """How a final decision's outcome is kept: the way it became final, and what it is."""
    return f"{via.value}:{outcome.value}"


def resulting_version(decision: PlanChangeDecision, requested_version: int | None) -> int | None:
    """Only an approval moves the social plan to a version; a rejection leaves it as it is."""
    return requested_version if decision is PlanChangeDecision.APPROVED else None


def check_own_decision(
    request_found: bool, earlier_decision: str | None, version: int | None, version_exists: bool
) -> None:
    """The social team decides a provider's request to change the social plan once, and an
    approval names a version the social plan has (revised before the decision)."""
    if not request_found:
        raise NotFound(
            "No request to change the social plan with this id for the citizen", field="submission_id"
        )
    if earlier_decision is not None:
        raise Conflict(f"The request was already {earlier_decision}", field="submission_id")
    if version is not None and not version_exists:
        raise Invalid(
            f"The social plan has no version {version}; revise it first", field="resulting_plan_version"
        )


def jobcenter_objection_applies(status: str | None) -> bool:
    """The jobcenter's objection raises a dispute only on an open decision of the social team's
    (``status`` None: no such decision)."""
    return status == "open"


def jobcenter_dispute_task(rule_by: date) -> NewTask:
    """The jobcenter objected to the social team's decision: the specialist unit's task is due by
    the deadline the jobcenter set from the rules both departments share."""
    return dataclasses.replace(dispute_task(rule_by, 0), due_on=rule_by)
