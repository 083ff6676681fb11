"""The jobcenter's side of the plan-change protocol: its decisions stay provisional while the social
team may object; a dispute, the specialist unit's ruling and the final outcome come from the
social department's events and are kept with the decision, so both sides see the same state."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import structlog

from employment.adapters import repository
from employment.domain.actor import Actor
from employment.domain.tasks import NewTask, TaskKind
from employment.service_layer.messages import DANISH_TIME, DISPUTE_PROTOCOL_BASIS, emit, log_share
from samspil.runtime.calendar import add_working_days
from samspil.runtime.db import Connection
from samspil.runtime.errors import Conflict, NotFound
from schemas.commands import ObjectToSocialPlanDecision
from schemas.common import CaseworkerTeam, Department
from schemas.decisions import PlanChangeDecided
from schemas.disputes import (
    DisputeOverdue,
    DisputeRaised,
    DisputeRuled,
    FinalOutcome,
    FinalVia,
    PlanChangeDecisionFinal,
    RulingOutcome,
)
from schemas.envelope import Envelope
from schemas.provider_reports import TargetPlan

log = structlog.get_logger("employment.protocol")


async def dispute_raised(conn: Connection, envelope: Envelope, raised: DisputeRaised) -> None:
    """The social team objected to one of the jobcenter's decisions: the specialist unit rules."""
    decision_id = await conn.fetchval(
        "UPDATE plan_change_decision SET status = 'disputed', dispute_id = $2, social_position = $3,"
        " rule_by = $4 WHERE decision_id = $1 AND status = 'provisional' RETURNING decision_id",
        raised.decision_id,
        raised.dispute_id,
        raised.social_position,
        raised.rule_by,
    )
    if decision_id is None:
        log.warning("dispute about no provisional decision of ours", decision_id=str(raised.decision_id))
        return
    task = NewTask(
        kind=TaskKind.FOLLOW_DISPUTE,
        title="The social team objected to the decision: the joint specialist unit rules",
        due_on=raised.rule_by,
    )
    details = {
        "decision_id": str(raised.decision_id),
        "dispute_id": str(raised.dispute_id),
        "social_position": raised.social_position,
        "rule_by": raised.rule_by.isoformat(),
    }
    await repository.insert_task_for_event(conn, task, envelope, details)


async def dispute_ruled(conn: Connection, envelope: Envelope, ruled: DisputeRuled) -> None:
    """The specialist unit ruled: the ruling is kept with the decision, and unless it upheld the
    jobcenter's position the team brings the job plan in line with it."""
    decision_id = await conn.fetchval(
        "UPDATE plan_change_decision SET ruling_outcome = $2, ruling = $3 WHERE dispute_id = $1"
        " RETURNING decision_id",
        ruled.dispute_id,
        ruled.outcome.value,
        ruled.ruling,
    )
    await conn.execute(
        "UPDATE social_decision_review SET ruling_outcome = $2, ruling = $3 WHERE dispute_id = $1",
        ruled.dispute_id,
        ruled.outcome.value,
        ruled.ruling,
    )
    if decision_id is None and not await _our_objection(conn, ruled.dispute_id):
        log.warning("ruling on no dispute of ours", dispute_id=str(ruled.dispute_id))
        return
    await repository.close_tasks_about(
        conn,
        TaskKind.FOLLOW_DISPUTE,
        "dispute_id",
        str(ruled.dispute_id),
        closed_by="specialist unit",
        note=ruled.ruling,
    )
    if decision_id is not None and ruled.outcome is not RulingOutcome.EMPLOYMENT_POSITION:
        # A ruling on the jobcenter's own decision about the job plan: the plan must follow it.
        received_on = envelope.time.astimezone(DANISH_TIME).date()
        task = NewTask(
            kind=TaskKind.APPLY_RULING,
            title="The specialist unit ruled: bring the job plan in line with the ruling",
            due_on=add_working_days(received_on, 5),
        )
        details = {
            "dispute_id": str(ruled.dispute_id),
            "outcome": ruled.outcome.value,
            "ruling": ruled.ruling,
        }
        await repository.insert_task_for_event(conn, task, envelope, details)


async def _our_objection(conn: Connection, dispute_id: uuid.UUID) -> bool:
    return bool(
        await conn.fetchval("SELECT true FROM social_decision_review WHERE dispute_id = $1", dispute_id)
    )


async def decision_final(conn: Connection, envelope: Envelope, final: PlanChangeDecisionFinal) -> None:
    await conn.execute(
        "UPDATE social_decision_review SET status = 'final', final_via = $2, final_outcome = $3"
        " WHERE decision_id = $1",
        final.decision_id,
        final.via.value,
        final.outcome.value,
    )
    await conn.execute(
        "UPDATE plan_change_decision SET status = 'final', final_via = $2, final_outcome = $3,"
        " final_summary = $4 WHERE decision_id = $1",
        final.decision_id,
        final.via.value,
        final.outcome.value,
        final.summary,
    )


async def dispute_overdue(conn: Connection, envelope: Envelope, overdue: DisputeOverdue) -> None:
    """The specialist unit has not ruled in time: the jobcenter's team is told too."""
    task = NewTask(
        kind=TaskKind.DISPUTE_OVERDUE,
        title="The specialist unit's ruling is overdue",
        due_on=envelope.time.astimezone(DANISH_TIME).date(),
    )
    details = {"dispute_id": str(overdue.dispute_id), "rule_by": overdue.rule_by.isoformat()}
    await repository.insert_task_for_event(conn, task, envelope, details)


# -- the social team's decisions: the jobcenter holds their objection window -----------------


async def informed_of_social_decision(
    conn: Connection, envelope: Envelope, decided: PlanChangeDecided, objection_days: int
) -> None:
    """The social team decided a change to the social action plan: the jobcenter's team is
    informed and involved, and may object by the deadline. The reasons are kept only when the
    event names a basis for sharing them."""
    if decided.deciding_team.department is not Department.SOCIAL:
        return
    received_on = envelope.time.astimezone(DANISH_TIME).date()
    # The deadline the social department announced holds, so both sides show the same one, unless
    # the decision arrived too late for a full window: then the window counts from arrival.
    full_window = add_working_days(received_on, objection_days)
    object_by = max(decided.objection_deadline or full_window, full_window)
    inserted = await conn.fetchval(
        "INSERT INTO social_decision_review (decision_id, citizen_ref, deciding_team, submission_id,"
        " decision, reason, resulting_plan_version, legal_basis, object_by, source_event_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING true",
        decided.decision_id,
        envelope.subject,
        decided.deciding_team.team,
        decided.submission_id,
        decided.decision.value,
        decided.reason if envelope.legalbasis else None,
        decided.resulting_plan_version,
        envelope.legalbasis,
        object_by,
        envelope.id,
    )
    if not inserted:
        return
    task = NewTask(
        kind=TaskKind.CONSIDER_SOCIAL_DECISION,
        title=f"The social team {decided.decision.value} a change to the social action plan: "
        "object by the due date if the job plan speaks against it",
        due_on=object_by,
    )
    details = {
        "decision_id": str(decided.decision_id),
        "decision": decided.decision.value,
        "reason": decided.reason if envelope.legalbasis else None,
        "deciding_team": decided.deciding_team.team,
        "object_by": object_by.isoformat(),
    }
    await repository.insert_task_for_event(conn, task, envelope, details)


async def object_to_social_decision(
    conn: Connection,
    citizen_ref: str,
    command: ObjectToSocialPlanDecision,
    actor: Actor,
    today: date,
    ruling_days: int,
    cause: Envelope | None = None,
) -> uuid.UUID:
    """The jobcenter's team objects: the joint specialist unit rules by the deadline."""
    review = await conn.fetchrow(
        "SELECT * FROM social_decision_review WHERE decision_id = $1 AND citizen_ref = $2 FOR UPDATE",
        command.decision_id,
        citizen_ref,
    )
    if review is None:
        raise NotFound("No such decision of the social team for the citizen", field="decision_id")
    if review["status"] != "open":
        raise Conflict(
            f"The decision is {review['status']}", field="decision_id", current_status=review["status"]
        )
    if today > review["object_by"]:
        raise Conflict(
            f"The deadline for objections was {review['object_by'].isoformat()}", field="decision_id"
        )
    dispute_id = uuid.uuid4()
    rule_by = add_working_days(today, ruling_days)
    await conn.execute(
        "UPDATE social_decision_review SET status = 'objected', dispute_id = $2 WHERE decision_id = $1",
        command.decision_id,
        dispute_id,
    )
    await repository.close_tasks_about(
        conn,
        TaskKind.CONSIDER_SOCIAL_DECISION,
        "decision_id",
        str(command.decision_id),
        closed_by=actor.name,
        note="objected",
    )
    raised = DisputeRaised(
        dispute_id=dispute_id,
        decision_id=command.decision_id,
        raised_by=CaseworkerTeam(department=Department.EMPLOYMENT, team=command.team),
        employment_position=command.position,
        social_position=review["reason"] or "The social team's decision (its reasons were not shared).",
        rule_by=rule_by,
    )
    envelope = await emit(conn, raised, citizen_ref, cause, legal_basis=review["legal_basis"])
    # The position goes to the social team and the joint specialist unit.
    basis = review["legal_basis"] or DISPUTE_PROTOCOL_BASIS
    await log_share(conn, envelope, "dispute-position", "social", basis, actor.name)
    return dispute_id


async def settle_objection_windows(pool: asyncpg.Pool, today: date, batch: int = 200) -> int:
    """Social decisions the jobcenter did not object to by the deadline become final; rows are
    claimed with SKIP LOCKED so replicas can run this side by side."""
    async with pool.acquire() as conn, conn.transaction():
        reviews = await conn.fetch(
            "SELECT * FROM social_decision_review WHERE status = 'open' AND object_by < $1"
            " ORDER BY object_by LIMIT $2 FOR UPDATE SKIP LOCKED",
            today,
            batch,
        )
        for review in reviews:
            await conn.execute(
                "UPDATE social_decision_review SET status = 'final', final_via = 'unopposed',"
                " final_outcome = $2 WHERE decision_id = $1",
                review["decision_id"],
                review["decision"],
            )
            await repository.close_tasks_about(
                conn,
                TaskKind.CONSIDER_SOCIAL_DECISION,
                "decision_id",
                str(review["decision_id"]),
                closed_by="deadline",
                note="no objection by the deadline",
            )
            final = PlanChangeDecisionFinal(
                decision_id=review["decision_id"],
                submission_id=review["submission_id"],
                target_plan=TargetPlan.SOCIAL_PLAN,
                via=FinalVia.UNOPPOSED,
                outcome=FinalOutcome(review["decision"]),
                summary="No objection from the jobcenter's team within the deadline.",
            )
            await emit(conn, final, review["citizen_ref"])
    return len(reviews)
