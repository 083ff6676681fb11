"""The lead department of the contact course: the social department takes it over, and while it
leads, its follow-ups satisfy the 3-month rule."""

from __future__ import annotations

from datetime import date

from samspil.runtime.db import Connection
from schemas.commands import RecordSocialFollowUp, TakeOverLead
from schemas.common import CaseworkerTeam, Department
from schemas.contact_course import SocialFollowUpRecorded
from schemas.envelope import Envelope
from schemas.lead_department import LeadDepartmentTakenOver
from social.adapters import cases
from social.domain import lead as rules
from social.service_layer import shares
from social.service_layer.citizens import require_citizen
from social.service_layer.messages import Actor, emit


async def take_over_lead(
    conn: Connection,
    citizen_ref: str,
    command: TakeOverLead,
    actor: Actor,
    today: date,
    statute: str | None,
    cause: Envelope | None = None,
) -> None:
    """The social department takes over the contact course; the jobcenter stops chasing."""
    await require_citizen(conn, citizen_ref)
    rules.check_can_take_over(await cases.lead(conn, citizen_ref))
    await cases.set_social_lead(conn, citizen_ref, command.from_date, command.reason)
    reason, basis = await shares.shared_text(conn, citizen_ref, command.reason, today, statute)
    taken = LeadDepartmentTakenOver(
        lead_department=Department.SOCIAL,
        from_date=command.from_date,
        reason=reason,
        team=CaseworkerTeam(department=Department.SOCIAL, team=command.team),
    )
    envelope = await emit(conn, taken, citizen_ref, cause, legal_basis=basis)
    await shares.log_shared(conn, citizen_ref, "lead-department-reason", basis, actor, envelope)


async def record_follow_up(
    conn: Connection,
    citizen_ref: str,
    command: RecordSocialFollowUp,
    actor: Actor,
    today: date,
    cause: Envelope | None = None,
) -> None:
    """A follow-up the social department held; it satisfies the 3-month rule while it leads."""
    await require_citizen(conn, citizen_ref)
    lead = await cases.lead(conn, citizen_ref)
    since = await cases.lead_since(conn, citizen_ref)
    rules.check_follow_up(lead, since, command.held_on, today)
    await cases.insert_follow_up(
        conn, citizen_ref, command.kind.value, command.held_on, command.note, actor.name
    )
    held = SocialFollowUpRecorded(kind=command.kind, department=Department.SOCIAL, held_on=command.held_on)
    await emit(conn, held, citizen_ref, cause)
