"""Handover (overdragelse) from the social department back to the jobcenter: the request becomes
a task; accepting makes the jobcenter the lead department again, toward an employment offer."""

from __future__ import annotations

import asyncpg

from employment.adapters import cases, repository
from employment.domain.actor import Actor
from employment.domain.contact_course import Lead
from employment.domain.tasks import handover_decision_task
from employment.service_layer.course import CourseRules, course_for_social_event
from employment.service_layer.messages import DANISH_TIME, emit
from employment.service_layer.plans import require_citizen
from samspil.runtime.db import Connection
from samspil.runtime.errors import Conflict, Invalid, NotFound
from schemas.commands import AcceptHandover, RejectHandover
from schemas.common import CaseworkerTeam, Department
from schemas.envelope import Envelope
from schemas.lead_department import HandoverAccepted, HandoverRejected, HandoverRequested


async def handover_requested(
    conn: Connection, envelope: Envelope, request: HandoverRequested, working_days: int
) -> None:
    inserted = await conn.fetchval(
        "INSERT INTO handover (handover_id, citizen_ref, justification, proposed_from, requested_by,"
        " source_event_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
        request.handover_id,
        envelope.subject,
        request.justification,
        request.proposed_from,
        request.team.team,
        envelope.id,
    )
    if not inserted:
        return
    task = handover_decision_task(envelope.time.astimezone(DANISH_TIME).date(), working_days)
    await repository.insert_task_for_event(
        conn,
        task,
        envelope,
        {
            "handover_id": str(request.handover_id),
            "justification": request.justification,
            "proposed_from": request.proposed_from.isoformat(),
            "requested_by": request.team.team,
        },
    )


async def _open_handover(conn: Connection, citizen_ref: str, handover_id: object) -> asyncpg.Record:
    await require_citizen(conn, citizen_ref)
    row = await conn.fetchrow(
        "SELECT handover_id, status, source_event_id FROM handover"
        " WHERE handover_id = $1 AND citizen_ref = $2 FOR UPDATE",
        handover_id,
        citizen_ref,
    )
    if row is None:
        raise NotFound("No such handover request for the citizen", field="handover_id")
    found: asyncpg.Record = row
    if found["status"] != "requested":
        raise Conflict(
            f"The handover was already {row['status']}", field="handover_id", current_status=row["status"]
        )
    return found


async def _answer(conn: Connection, row: asyncpg.Record, status: str, answer: str, actor: Actor) -> None:
    await conn.execute(
        "UPDATE handover SET status = $2, answer = $3, answered_by = $4, answered_at = now()"
        " WHERE handover_id = $1",
        row["handover_id"],
        status,
        answer,
        actor.name,
    )
    await repository.close_task_for_source(conn, row["source_event_id"], closed_by=actor.name, note=answer)


async def accept_handover(
    conn: Connection,
    citizen_ref: str,
    command: AcceptHandover,
    actor: Actor,
    rules: CourseRules,
    cause: Envelope | None = None,
) -> None:
    row = await _open_handover(conn, citizen_ref, command.handover_id)
    if (
        command.job_plan_version is not None
        and await cases.plan_version(conn, citizen_ref, command.job_plan_version) is None
    ):
        raise Invalid(f"The job plan has no version {command.job_plan_version}", field="job_plan_version")
    if command.referral_id is not None:
        referral = await repository.referral(conn, command.referral_id)
        if referral is None or referral["citizen_ref"] != citizen_ref:
            raise Invalid("No such referral for the citizen", field="referral_id")
    await _answer(conn, row, "accepted", f"accepted from {command.from_date.isoformat()}", actor)
    course = await course_for_social_event(conn, citizen_ref, command.from_date)
    updated = course.switch_lead(Lead.EMPLOYMENT, command.from_date)
    await cases.save_course(conn, citizen_ref, updated, updated.next_alarm_on(rules.reminder_days))
    accepted = HandoverAccepted(
        handover_id=command.handover_id,
        from_date=command.from_date,
        job_plan_version=command.job_plan_version,
        referral_id=command.referral_id,
        team=CaseworkerTeam(department=Department.EMPLOYMENT, team=command.team),
    )
    await emit(conn, accepted, citizen_ref, cause)


async def reject_handover(
    conn: Connection, citizen_ref: str, command: RejectHandover, actor: Actor, cause: Envelope | None = None
) -> None:
    row = await _open_handover(conn, citizen_ref, command.handover_id)
    await _answer(conn, row, "rejected", command.reason, actor)
    rejected = HandoverRejected(
        handover_id=command.handover_id,
        reason=command.reason,
        team=CaseworkerTeam(department=Department.EMPLOYMENT, team=command.team),
    )
    await emit(conn, rejected, citizen_ref, cause)
