"""The handover back to the jobcenter: the social department asks it to take over toward an
employment offer, and the jobcenter's answer decides who leads."""

from __future__ import annotations

import uuid
from datetime import date

import structlog

from samspil.runtime.db import Connection
from schemas.commands import RequestHandover
from schemas.common import CaseworkerTeam, Department
from schemas.envelope import Envelope
from schemas.lead_department import HandoverAccepted, HandoverRejected, HandoverRequested
from social.adapters import cases, repository
from social.domain import lead as rules
from social.domain.tasks import handover_answer_task
from social.service_layer import shares
from social.service_layer.citizens import require_citizen
from social.service_layer.messages import DANISH_TIME, Actor, emit

log = structlog.get_logger("social.case")


async def request_handover(
    conn: Connection,
    citizen_ref: str,
    command: RequestHandover,
    actor: Actor,
    today: date,
    statute: str | None,
    cause: Envelope | None = None,
) -> uuid.UUID:
    """The citizen is judged ready: ask the jobcenter to take over toward an employment offer."""
    await require_citizen(conn, citizen_ref)
    lead = await cases.lead(conn, citizen_ref)
    rules.check_can_hand_over(lead, await cases.handover_pending(conn, citizen_ref))
    handover_id = uuid.uuid4()
    team = rules.handover_team(actor.team)
    await cases.insert_handover(
        conn, handover_id, citizen_ref, command.justification, command.proposed_from, team
    )
    justification, basis = await shares.shared_text(conn, citizen_ref, command.justification, today, statute)
    requested = HandoverRequested(
        handover_id=handover_id,
        justification=justification,
        proposed_from=command.proposed_from,
        team=CaseworkerTeam(department=Department.SOCIAL, team=team),
    )
    envelope = await emit(conn, requested, citizen_ref, cause, legal_basis=basis)
    await shares.log_shared(conn, citizen_ref, "handover-justification", basis, actor, envelope)
    return handover_id


async def handover_answered(
    conn: Connection, envelope: Envelope, answer: HandoverAccepted | HandoverRejected
) -> None:
    """The jobcenter's answer: on acceptance it leads again; the social measures go on."""
    status, recorded = rules.handover_outcome(answer)
    if await cases.answer_handover(conn, answer.handover_id, status, recorded) is None:
        log.warning("answer to an unknown or answered handover ignored", handover_id=str(answer.handover_id))
        return
    if isinstance(answer, HandoverAccepted):
        await cases.set_employment_lead_by_handover(conn, envelope.subject, answer.from_date)
    received_on = envelope.time.astimezone(DANISH_TIME).date()
    await repository.insert_task(
        conn,
        envelope.subject,
        handover_answer_task(received_on, isinstance(answer, HandoverAccepted)),
        rules.handover_task_details(answer),
        source_event_id=envelope.id,
    )
