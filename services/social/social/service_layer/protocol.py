"""The plan-change protocol across departments, as the social department runs it.

When the employment team decides a change to the job plan, the social team is informed and may
object within a deadline. The social department holds that window, so it alone settles it: no
objection by the deadline makes the decision final; an objection raises a dispute that the joint
specialist unit (whose role works through this service) rules on, and the ruling is final. Every
step is one transaction with its event in the outbox, so with either service down the protocol
waits and resumes, and both sides end in the same state.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date

import asyncpg
import structlog

from samspil.runtime.calendar import add_working_days
from samspil.runtime.db import Connection
from samspil.runtime.errors import Conflict, Invalid, NotFound
from schemas.commands import DecideSocialPlanChange, ObjectToDecision, RuleDispute
from schemas.common import CaseworkerTeam, Department
from schemas.decisions import PlanChangeDecided, PlanChangeDecision
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
from social.domain.protocol import check_objection, objection_window
from social.domain.tasks import (
    apply_ruling_task,
    dispute_task,
    overdue_dispute_task,
)
from social.service_layer.citizens import require_citizen
from social.service_layer.messages import DANISH_TIME, Actor, emit
from social.service_layer.shares import NOT_SHARED, log_shared, shared_text

log = structlog.get_logger("social.protocol")

OBJECTION_TASK = "consider-employment-decision"
# The basis on which both teams read the specialist unit's ruling on their dispute.
DISPUTE_PROTOCOL_BASIS = "the joint dispute protocol of the two departments"
# The basis on which a provider reads the outcome of the change it asked for: its referral.
PROVIDER_SHARE_BASIS = "the citizen's referral to the provider"
# Who shares an outcome that became final because nobody objected by the deadline.
SHARED_BY_DEADLINE = "social (deadline passed)"
# What the provider who asked reads of a ruling when the unit wrote nothing for it.
RULED_FOR_PROVIDER = {
    RulingOutcome.EMPLOYMENT_POSITION: "The joint specialist unit upheld the jobcenter's position.",
    RulingOutcome.SOCIAL_POSITION: "The joint specialist unit upheld the social department's position.",
    RulingOutcome.COMPROMISE: (
        "The joint specialist unit ruled a compromise; the department that decided will tell you more."
    ),
}


async def informed_of_decision(
    conn: Connection, envelope: Envelope, decided: PlanChangeDecided, objection_days: int
) -> None:
    """The employment team decided on a change to the job plan: the social team is informed and
    involved, and may object by the deadline."""
    if decided.deciding_team.department is not Department.EMPLOYMENT:
        return
    received_on = envelope.time.astimezone(DANISH_TIME).date()
    task = objection_window(received_on, objection_days, decided.decision.value, decided.objection_deadline)
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
    statute: str | None = None,
    cause: Envelope | None = None,
) -> uuid.UUID:
    """The social team objects: a dispute for the specialist unit, to rule by the deadline."""
    await require_citizen(conn, citizen_ref)
    review = await _review(conn, command.decision_id, citizen_ref)
    check_objection(review["deciding_department"], review["status"], review["object_by"], today)
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
    position, basis = await shared_text(conn, citizen_ref, command.position, today, statute)
    raised = DisputeRaised(
        dispute_id=dispute_id,
        decision_id=command.decision_id,
        raised_by=CaseworkerTeam(department=Department.SOCIAL, team=command.team),
        employment_position=review["reason"],
        social_position=position,
        rule_by=task.due_on,
    )
    envelope = await emit(conn, raised, citizen_ref, cause, legal_basis=basis)
    await log_shared(conn, citizen_ref, "dispute-position", basis, actor, envelope)
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
    if command.outcome is not RulingOutcome.SOCIAL_POSITION:  # the social plan must follow the ruling
        details = {
            "dispute_id": str(command.dispute_id),
            "outcome": command.outcome.value,
            "ruling": command.ruling,
        }
        await repository.insert_task(conn, subject, apply_ruling_task(today, apply_days), details)
    ruled = DisputeRuled(dispute_id=command.dispute_id, outcome=command.outcome, ruling=command.ruling)
    envelope = await emit(conn, ruled, subject, cause)
    # The unit's ruling text goes to both teams: the jobcenter's on the bus, the social team's here.
    for team in ("employment", "social"):
        await repository.log_share(
            conn, subject, "dispute-ruling", team, DISPUTE_PROTOCOL_BASIS, actor.name, envelope.id
        )
    # The ruling's reasons may touch the citizen's health: the provider reads only what the unit
    # wrote for it, or else the outcome.
    for_provider = command.summary_for_provider or RULED_FOR_PROVIDER[command.outcome]
    outcome = FinalOutcome(command.outcome.value)
    await _emit_final(conn, review, FinalVia.RULING, outcome, for_provider, actor.name, cause)


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
    shared_by: str,
    cause: Envelope | None = None,
) -> None:
    """The final outcome, with the text meant for the provider who asked (logged as shared)."""
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
    envelope = await emit(conn, final, review["citizen_ref"], cause)
    if review["provider_id"] is not None:
        await repository.log_share(
            conn,
            review["citizen_ref"],
            "decision-outcome-summary",
            f"provider:{review['provider_id']}",
            PROVIDER_SHARE_BASIS,
            shared_by,
            envelope.id,
        )


async def settle_deadlines(
    pool: asyncpg.Pool, today: date, batch: int = 200, *, objections_handled_on: date | None = None
) -> int:
    """Decisions nobody objected to by the deadline become final; disputes the specialist unit
    has not ruled on by theirs are flagged to both teams, once. Rows are claimed with SKIP
    LOCKED, so replicas can run this side by side. ``objections_handled_on``: the day by whose
    start every objection sent on the command topic has been handled (default ``today``); a
    window closes only before it, so an objection sent in time and still unread is not refused."""
    settled = 0
    objections_until = today if objections_handled_on is None else min(today, objections_handled_on)
    async with pool.acquire() as conn, conn.transaction():
        reviews = await conn.fetch(
            "SELECT * FROM decision_review WHERE status = 'open' AND object_by < $1"
            " AND deciding_department = 'employment' ORDER BY object_by LIMIT $2 FOR UPDATE SKIP LOCKED",
            objections_until,
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
            await _emit_final(conn, review, FinalVia.UNOPPOSED, outcome, review["reason"], SHARED_BY_DEADLINE)
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


# -- the social team's own decisions: the jobcenter holds their objection window --------------


async def decide_social_plan_change(
    conn: Connection,
    citizen_ref: str,
    command: DecideSocialPlanChange,
    actor: Actor,
    today: date,
    objection_days: int,
    share_basis: str | None,
    cause: Envelope | None = None,
) -> uuid.UUID:
    """Decide a provider's request to change the social action plan. The provider sees the
    decision (not its social reasons); the jobcenter's team is informed and may object."""
    await require_citizen(conn, citizen_ref)
    request = await conn.fetchrow(
        "SELECT submission_id, referral_id, provider_id FROM provider_report"
        " WHERE submission_id = $1 AND citizen_ref = $2 AND kind = 'plan-change-request'",
        command.submission_id,
        citizen_ref,
    )
    if request is None:
        raise NotFound(
            "No request to change the social plan with this id for the citizen", field="submission_id"
        )
    earlier = await conn.fetchval(
        "SELECT decision FROM decision_review WHERE submission_id = $1 AND deciding_department = 'social'",
        command.submission_id,
    )
    if earlier is not None:
        raise Conflict(f"The request was already {earlier}", field="submission_id")
    version = command.resulting_plan_version if command.decision is PlanChangeDecision.APPROVED else None
    if version is not None and await repository.plan_version(conn, citizen_ref, version) is None:
        raise Invalid(
            f"The social plan has no version {version}; revise it first", field="resulting_plan_version"
        )
    decision_id = uuid.uuid4()
    objection_deadline = add_working_days(today, objection_days)
    await conn.execute(
        "INSERT INTO decision_review (decision_id, citizen_ref, deciding_department, deciding_team,"
        " submission_id, referral_id, provider_id, target_plan, decision, reason, resulting_plan_version,"
        " object_by)"
        " VALUES ($1, $2, 'social', $3, $4, $5, $6, 'social-plan', $7, $8, $9, $10)",
        decision_id,
        citizen_ref,
        command.team,
        command.submission_id,
        request["referral_id"],
        request["provider_id"],
        command.decision.value,
        command.reason,
        version,
        objection_deadline,
    )
    await conn.execute(
        "UPDATE caseworker_task SET status = 'closed', closed_at = now(), closed_by = $2"
        " WHERE submission_id = $1 AND status = 'open'",
        command.submission_id,
        actor.name,
    )
    decided = PlanChangeDecided(
        decision_id=decision_id,
        submission_id=command.submission_id,
        referral_id=request["referral_id"],
        provider_id=request["provider_id"],
        target_plan=TargetPlan.SOCIAL_PLAN,
        decision=command.decision,
        reason=command.reason if share_basis else NOT_SHARED,
        deciding_team=CaseworkerTeam(department=Department.SOCIAL, team=command.team),
        resulting_plan_version=version,
        objection_deadline=objection_deadline,
    )
    envelope = await emit(conn, decided, citizen_ref, cause, legal_basis=share_basis)
    await log_shared(conn, citizen_ref, "plan-change-decision-reason", share_basis, actor, envelope)
    return decision_id


async def jobcenter_objected(conn: Connection, envelope: Envelope, raised: DisputeRaised) -> None:
    """The jobcenter's team objected to one of the social team's decisions: a dispute for the
    specialist unit, with the deadline the jobcenter set from the rules both share."""
    if raised.raised_by.department is not Department.EMPLOYMENT:
        return
    review = await conn.fetchrow(
        "SELECT * FROM decision_review WHERE decision_id = $1 AND deciding_department = 'social' FOR UPDATE",
        raised.decision_id,
    )
    if review is None or review["status"] != "open":
        log.warning("objection to no open decision of ours", decision_id=str(raised.decision_id))
        return
    await conn.execute(
        "UPDATE decision_review SET status = 'objected' WHERE decision_id = $1", raised.decision_id
    )
    await conn.execute(
        "INSERT INTO dispute (dispute_id, decision_id, citizen_ref, raised_by, employment_position,"
        " social_position, rule_by) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        raised.dispute_id,
        raised.decision_id,
        envelope.subject,
        raised.raised_by.team,
        raised.employment_position,
        raised.social_position,
        raised.rule_by,
    )
    details = {
        "dispute_id": str(raised.dispute_id),
        "decision_id": str(raised.decision_id),
        "rule_by": raised.rule_by,
    }
    task = dispute_task(envelope.time.astimezone(DANISH_TIME).date(), 0)
    await repository.insert_task(
        conn,
        envelope.subject,
        dataclasses.replace(task, due_on=raised.rule_by),
        details,
        source_event_id=envelope.id,
    )


async def jobcenter_let_stand(conn: Connection, envelope: Envelope, final: PlanChangeDecisionFinal) -> None:
    """The jobcenter did not object to the social team's decision in time: it is final."""
    await conn.execute(
        "UPDATE decision_review SET status = 'final', final_outcome = $2, final_summary = $3"
        " WHERE decision_id = $1 AND deciding_department = 'social' AND status = 'open'",
        final.decision_id,
        f"{final.via.value}:{final.outcome.value}",
        final.summary,
    )
