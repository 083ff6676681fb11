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

from samspil.runtime.calendar import add_working_days
from samspil.runtime.db import Connection
from schemas.commands import DecideSocialPlanChange, ObjectToDecision, RuleDispute
from schemas.common import CaseworkerTeam, Department
from schemas.decisions import PlanChangeDecided
from schemas.disputes import (
    DisputeOverdue,
    DisputeRaised,
    DisputeRuled,
    FinalOutcome,
    FinalVia,
    PlanChangeDecisionFinal,
)
from schemas.envelope import Envelope
from schemas.provider_reports import TargetPlan
from social.adapters import protocol, repository
from social.domain import protocol as rules
from social.domain.tasks import apply_ruling_task, dispute_task, overdue_dispute_task
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


async def informed_of_decision(
    conn: Connection, envelope: Envelope, decided: PlanChangeDecided, objection_days: int
) -> None:
    """The employment team decided on a change to the job plan: the social team is informed and
    involved, and may object by the deadline."""
    if decided.deciding_team.department is not Department.EMPLOYMENT:
        return
    received_on = envelope.time.astimezone(DANISH_TIME).date()
    task = rules.objection_window(
        received_on, objection_days, decided.decision.value, decided.objection_deadline
    )
    if not await protocol.insert_employment_decision(conn, envelope.subject, decided, task.due_on):
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
    row = await protocol.decision(conn, decision_id)
    rules.check_decision_found(None if row is None else row["citizen_ref"], citizen_ref)
    assert row is not None, "checked above"
    return row


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
    rules.check_objection(review["deciding_department"], review["status"], review["object_by"], today)
    dispute_id = uuid.uuid4()
    task = dispute_task(today, ruling_days)
    await protocol.mark_objected(conn, command.decision_id)
    await protocol.insert_dispute(
        conn,
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
    dispute = await protocol.dispute(conn, command.dispute_id)
    rules.check_ruling(
        None if dispute is None else dispute["citizen_ref"],
        citizen_ref,
        None if dispute is None else dispute["status"],
    )
    assert dispute is not None, "checked above"
    subject = dispute["citizen_ref"]
    review = await _review(conn, dispute["decision_id"], subject)
    await protocol.record_ruling(conn, command.dispute_id, command.outcome.value, command.ruling, actor.name)
    await _finalise(conn, review, FinalVia.RULING, FinalOutcome(command.outcome.value), command.ruling)
    await repository.close_tasks(
        conn, subject, "rule-dispute", "dispute_id", str(command.dispute_id), actor.name
    )
    await repository.close_tasks(
        conn, subject, "dispute-overdue", "dispute_id", str(command.dispute_id), actor.name
    )
    if rules.social_plan_follows(command.outcome):
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
    for_provider = rules.ruling_for_provider(command.outcome, command.summary_for_provider)
    outcome = FinalOutcome(command.outcome.value)
    await _emit_final(conn, review, FinalVia.RULING, outcome, for_provider, actor.name, cause)


async def _finalise(
    conn: Connection, review: asyncpg.Record, via: FinalVia, outcome: FinalOutcome, summary: str
) -> None:
    await protocol.mark_final(conn, review["decision_id"], rules.final_outcome(via, outcome), summary)


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
    objections_until = rules.objections_close_before(today, objections_handled_on)
    async with pool.acquire() as conn, conn.transaction():
        reviews = await protocol.claim_unopposed(conn, objections_until, batch)
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
        disputes = await protocol.claim_overdue_disputes(conn, today, batch)
        for dispute in disputes:
            await protocol.mark_overdue_announced(conn, dispute["dispute_id"])
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
    request = await protocol.plan_change_request(conn, command.submission_id, citizen_ref)
    # Each read only once the one before it found nothing to refuse, as the rule checks them.
    earlier = await protocol.social_decision_on(conn, command.submission_id) if request else None
    version = rules.resulting_version(command.decision, command.resulting_plan_version)
    version_exists = (
        request is not None
        and earlier is None
        and version is not None
        and await repository.plan_version(conn, citizen_ref, version) is not None
    )
    rules.check_own_decision(request is not None, earlier, version, version_exists)
    assert request is not None, "checked above"
    decision_id = uuid.uuid4()
    objection_deadline = add_working_days(today, objection_days)
    await protocol.insert_social_decision(
        conn,
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
    await protocol.close_request_tasks(conn, command.submission_id, actor.name)
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
    review = await protocol.social_decision(conn, raised.decision_id)
    if not rules.jobcenter_objection_applies(None if review is None else review["status"]):
        log.warning("objection to no open decision of ours", decision_id=str(raised.decision_id))
        return
    await protocol.mark_objected(conn, raised.decision_id)
    await protocol.insert_dispute_once(
        conn,
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
    task = rules.jobcenter_dispute_task(raised.rule_by)
    await repository.insert_task(conn, envelope.subject, task, details, source_event_id=envelope.id)


async def jobcenter_let_stand(conn: Connection, envelope: Envelope, final: PlanChangeDecisionFinal) -> None:
    """The jobcenter did not object to the social team's decision in time: it is final."""
    outcome = rules.final_outcome(final.via, final.outcome)
    await protocol.mark_social_decision_final(conn, final.decision_id, outcome, final.summary)
