"""The lead department of the citizen's contact course and the handover back to the jobcenter:
who may do what while which department leads. Plain Python, no I/O."""

from __future__ import annotations

from datetime import date

from samspil.runtime.errors import Conflict, Invalid
from schemas.common import Department
from schemas.lead_department import HandoverAccepted, HandoverRejected

# Who requested a handover when the caseworker's team is not known.
DEFAULT_HANDOVER_TEAM = "social department"


def check_can_take_over(lead: str) -> None:
    if lead == Department.SOCIAL.value:
        raise Conflict("The social department already leads the contact course", field="citizen_ref")


def check_follow_up(lead: str, since: date, held_on: date, today: date) -> None:
    """A follow-up the social department held counts only while it leads, once held, and not
    before it took the lead."""
    check_leads_for_follow_up(lead)
    check_follow_up_held(held_on, today)
    if held_on < since:
        raise Invalid(
            f"is before the social department took the lead on {since.isoformat()}", field="held_on"
        )


def check_leads_for_follow_up(lead: str) -> None:
    if lead != Department.SOCIAL.value:
        raise Conflict("Only while the social department leads the contact course", field="citizen_ref")


def check_follow_up_held(held_on: date, today: date) -> None:
    if held_on > today:
        raise Invalid("a follow-up cannot be recorded before it is held", field="held_on")


def check_can_hand_over(lead: str, handover_pending: bool) -> None:
    """Only the lead department hands over, and one handover awaits an answer at a time."""
    if lead != Department.SOCIAL.value:
        raise Conflict("Only the lead department hands over", field="citizen_ref")
    if handover_pending:
        raise Conflict("A handover is already awaiting the jobcenter's answer", field="citizen_ref")


def handover_team(team: str | None) -> str:
    return team or DEFAULT_HANDOVER_TEAM


def handover_outcome(answer: HandoverAccepted | HandoverRejected) -> tuple[str, str]:
    """The handover's status and the answer recorded with it: the date the jobcenter leads
    from, or its reason for rejecting."""
    if isinstance(answer, HandoverAccepted):
        return "accepted", f"from {answer.from_date.isoformat()}"
    return "rejected", answer.reason


def handover_task_details(answer: HandoverAccepted | HandoverRejected) -> dict[str, str | None]:
    return {
        "handover_id": str(answer.handover_id),
        "team": answer.team.team,
        "reason": answer.reason if isinstance(answer, HandoverRejected) else None,
    }
