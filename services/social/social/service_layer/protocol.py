"""The plan-change protocol across departments, as the social department runs it.

When the employment team decides a change to the job plan, the social team is informed and may
object within a deadline. The social department holds that window, so it alone settles it: no
objection by the deadline makes the decision final; an objection raises a dispute that the joint
specialist unit (whose role works through this service) rules on, and the ruling is final. Every
step is one transaction with its event in the outbox, so with either service down the protocol
waits and resumes, and both sides end in the same state.
"""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import structlog

from samspil.runtime.db import Connection
from samspil.runtime.errors import Conflict, NotFound
from schemas.commands import ObjectToDecision, RuleDispute
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
from social.adapters import repository
from social.domain.tasks import apply_ruling_task, dispute_task, objection_task, overdue_dispute_task
from social.service_layer.case import require_citizen
from social.service_layer.messages import DANISH_TIME, Actor, emit

log = structlog.get_logger("social.protocol")

OBJECTION_TASK = "consider-employment-decision"


async def informed_of_decision(
    conn: Connection, envelope: Envelope, decided: PlanChangeDecided, objection_days: int
) -> None:
    """The employment team decided on a change to the job plan: the social team is informed and
    involved, and may object by the deadline."""
    if decided.deciding_team.department is not Department.EMPLOYMENT:
        return
    received_on = envelope.time.astimezone(DANISH_TIME).date()
    task = objection_task(received_on, objection_days, decided.decision.value)
    inserted = await conn.fetchval(
        "INSERT INTO decision_review (decision_id, citizen_ref, deciding_department, deciding_team,"
        " submission_id, referral_id, provider_id, target_plan, decision, reason, resulting_plan_version,"
        " object_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        " ON CONFLICT DO NOTHING RETURNING true",
        decided.decision_id,
        envelope.subject,
        decided.deciding_team.department.value,
        decided.deciding_team.team,
        decided.submission_id,
        decided.referral_id,
        decided.provider_id,
        decided.target_plan.value,
        decided.decision.value,
        decided.reason,
        decided.resulting_plan_version,
        task.due_on,
    )
    if not inserted:
        return
    details = {
        "decision_id": str(decided.decision_id),
        "submission_id": decided.submission_id,
        "provider_id": decided.provider_id,
        "decision": decided.decision.value,
        "reason": decided.reason,
        "deciding_team": decided.deciding_team.team,
        "resulting_plan_version": decided.resulting_plan_version,
        "object_by": task.due_on.isoformat(),
        "legal_basis": envelope.legalbasis,
    }
    await repository.insert_task(conn, envelope.subject, task, details, source_event_id=envelope.id)


async def _review(conn: Connection, decision_id: uuid.UUID, citizen_ref: str | None) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT * FROM decision_review WHERE decision_id = $1 FOR UPDATE", decision_id)
    if row is None or (citizen_ref is not None and row["citizen_ref"] != citizen_ref):
        raise NotFound("No such decision for the citizen", field="decision_id")
    found: asyncpg.Record = row
    return found


async def object_to_decision(
    conn: Connection,
    citizen_ref: str,
    command: ObjectToDecision,
    actor: Actor,
    today: date,
    ruling_days: int,
    cause: Envelope | None = None,
) -> uuid.UUID:
    """The social team objects: a dispute for the specialist unit, to rule by the deadline."""
    await require_citizen(conn, citizen_ref)
    review = await _review(conn, command.decision_id, citizen_ref)
    if review["status"] != "open":
        raise Conflict(
            f"The decision is {review['status']}", field="decision_id", current_status=review["status"]
        )
    if today > review["object_by"]:
        raise Conflict(
            f"The deadline for objections was {review['object_by'].isoformat()}",
            field="decision_id",
            object_by=review["object_by"].isoformat(),
        )
    dispute_id = uuid.uuid4()
    task = dispute_task(today, ruling_days)
    await conn.execute(
        "UPDATE decision_review SET status = 'objected' WHERE decision_id = $1", command.decision_id
    )
    await conn.execute(
        "INSERT INTO dispute (dispute_id, decision_id, citizen_ref, raised_by, employment_position,"
        " social_position, rule_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        dispute_id,
        command.decision_id,
        citizen_ref,
        command.team,
        review["reason"],
        command.position,
        task.due_on,
    )
    await repository.close_tasks(
        conn, citizen_ref, OBJECTION_TASK, "decision_id", str(command.decision_id), actor.name
    )
    details = {"dispute_id": str(dispute_id), "decision_id": str(command.decision_id), "rule_by": task.due_on}
    await repository.insert_task(conn, citizen_ref, task, details)
    raised = DisputeRaised(
        dispute_id=dispute_id,
        decision_id=command.decision_id,
        raised_by=CaseworkerTeam(department=Department.SOCIAL, team=command.team),
        employment_position=review["reason"],
        social_position=command.position,
        rule_by=task.due_on,
    )
    await emit(conn, raised, citizen_ref, cause)
    return dispute_id


async def rule_dispute(
    conn: Connection,
    command: RuleDispute,
    actor: Actor,
    today: date,
    apply_days: int,
    citizen_ref: str | None = None,
    cause: Envelope | None = None,
) -> None:
    """The joint specialist unit rules; the ruling is applied on both sides and is final."""
    dispute = await conn.fetchrow(
        "SELECT * FROM dispute WHERE dispute_id = $1 FOR UPDATE", command.dispute_id
    )
    if dispute is None or (citizen_ref is not None and dispute["citizen_ref"] != citizen_ref):
        raise NotFound("No such dispute", field="dispute_id")
    if dispute["status"] != "open":
        raise Conflict("The dispute was already ruled", field="dispute_id", current_status=dispute["status"])
    subject = dispute["citizen_ref"]
    review = await _review(conn, dispute["decision_id"], subject)
    await conn.execute(
        "UPDATE dispute SET status = 'ruled', outcome = $2, ruling = $3, ruled_by = $4, ruled_at = now()"
        " WHERE dispute_id = $1",
        command.dispute_id,
        command.outcome.value,
        command.ruling,
        actor.name,
    )
    await _finalise(conn, review, FinalVia.RULING, FinalOutcome(command.outcome.value), command.ruling)
    await repository.close_tasks(
        conn, subject, "rule-dispute", "dispute_id", str(command.dispute_id), actor.name
    )
    await repository.close_tasks(
        conn, subject, "dispute-overdue", "dispute_id", str(command.dispute_id), actor.name
    )
    if command.outcome is not RulingOutcome.EMPLOYMENT_POSITION:
        details = {
            "dispute_id": str(command.dispute_id),
            "outcome": command.outcome.value,
            "ruling": command.ruling,
        }
        await repository.insert_task(conn, subject, apply_ruling_task(today, apply_days), details)
    ruled = DisputeRuled(dispute_id=command.dispute_id, outcome=command.outcome, ruling=command.ruling)
    await emit(conn, ruled, subject, cause)
    await _emit_final(
        conn, review, FinalVia.RULING, FinalOutcome(command.outcome.value), command.ruling, cause
    )


async def _finalise(
    conn: Connection, review: asyncpg.Record, via: FinalVia, outcome: FinalOutcome, summary: str
) -> None:
    await conn.execute(
        "UPDATE decision_review SET status = 'final', final_outcome = $2, final_summary = $3"
        " WHERE decision_id = $1",
        review["decision_id"],
        f"{via.value}:{outcome.value}",
        summary,
    )


async def _emit_final(
    conn: Connection,
    review: asyncpg.Record,
    via: FinalVia,
    outcome: FinalOutcome,
    summary: str,
    cause: Envelope | None = None,
) -> None:
    final = PlanChangeDecisionFinal(
        decision_id=review["decision_id"],
        submission_id=review["submission_id"],
        referral_id=review["referral_id"],
        provider_id=review["provider_id"],
        target_plan=TargetPlan(review["target_plan"]),
        via=via,
        outcome=outcome,
        summary=summary,
    )
    await emit(conn, final, review["citizen_ref"], cause)


async def settle_deadlines(pool: asyncpg.Pool, today: date, batch: int = 200) -> int:
    """Decisions nobody objected to by the deadline become final; disputes the specialist unit
    has not ruled on by theirs are flagged to both teams, once. Rows are claimed with SKIP
    LOCKED, so replicas can run this side by side."""
    settled = 0
    async with pool.acquire() as conn, conn.transaction():
        reviews = await conn.fetch(
            "SELECT * FROM decision_review WHERE status = 'open' AND object_by < $1"
            " ORDER BY object_by LIMIT $2 FOR UPDATE SKIP LOCKED",
            today,
            batch,
        )
        for review in reviews:
            outcome = FinalOutcome(review["decision"])
            await _finalise(conn, review, FinalVia.UNOPPOSED, outcome, review["reason"])
            await repository.close_tasks(
                conn,
                review["citizen_ref"],
                OBJECTION_TASK,
                "decision_id",
                str(review["decision_id"]),
                "deadline",
            )
            await _emit_final(conn, review, FinalVia.UNOPPOSED, outcome, review["reason"])
            settled += 1
        disputes = await conn.fetch(
            "SELECT dispute_id, citizen_ref, rule_by FROM dispute"
            " WHERE status = 'open' AND NOT overdue_announced AND rule_by < $1"
            " ORDER BY rule_by LIMIT $2 FOR UPDATE SKIP LOCKED",
            today,
            batch,
        )
        for dispute in disputes:
            await conn.execute(
                "UPDATE dispute SET overdue_announced = true WHERE dispute_id = $1", dispute["dispute_id"]
            )
            details = {"dispute_id": str(dispute["dispute_id"]), "rule_by": dispute["rule_by"]}
            await repository.insert_task(conn, dispute["citizen_ref"], overdue_dispute_task(today), details)
            overdue = DisputeOverdue(dispute_id=dispute["dispute_id"], rule_by=dispute["rule_by"])
            await emit(conn, overdue, dispute["citizen_ref"])
            settled += 1
    if settled:
        log.info("protocol deadlines settled", count=settled)
    return settled
