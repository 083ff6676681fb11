"""Handlers of the job plan, the plan-change decisions on it, and the social plan summary the
jobcenter keeps so the job plan is made with regard to it."""

from __future__ import annotations

import json
import uuid
from datetime import date

import structlog

from employment.adapters import cases, repository
from employment.domain.actor import Actor
from employment.domain.plan_conflicts import Plans, find_conflicts
from employment.domain.tasks import plan_conflict_task
from employment.service_layer.messages import (
    PROVIDER_SHARE_BASIS,
    SHARED_BY_SYSTEM,
    danish_today,
    emit,
    log_share,
    provider_recipient,
)
from samspil.runtime.calendar import add_working_days
from samspil.runtime.db import Connection
from samspil.runtime.errors import Conflict, Invalid, NotFound
from schemas.commands import DecidePlanChange, ReviseJobPlan
from schemas.common import CaseworkerTeam, Department
from schemas.consent import SharedInformation
from schemas.decisions import PlanChangeDecided, PlanChangeDecision
from schemas.disputes import PlanConflictDetected
from schemas.envelope import Envelope
from schemas.plans import (
    JobPlanActivity,
    JobPlanRevised,
    SocialMeasure,
    SocialPlanRevised,
    SocialPlanSummaryWithdrawn,
)
from schemas.provider_reports import TargetPlan

DECISION_REASON = "plan-change-decision-reason"

log = structlog.get_logger("employment.plans")


async def require_citizen(conn: Connection, citizen_ref: str) -> None:
    """Lock the citizen's row: changes to one citizen's case are made one at a time."""
    if await cases.citizen(conn, citizen_ref, lock=True) is None:
        raise NotFound("No such citizen is enrolled", field="citizen_ref")


async def revise_job_plan(
    conn: Connection,
    citizen_ref: str,
    command: ReviseJobPlan,
    actor: Actor,
    share_basis: str,
    cause: Envelope | None = None,
) -> int:
    """A new version of the job plan, if the caller saw the current one; the social department
    receives the summary it may see, with the basis that allows the share."""
    await require_citizen(conn, citizen_ref)
    current = await cases.current_plan_version(conn, citizen_ref)
    if command.expected_version != current:
        raise Conflict(
            f"The job plan is at version {current}, not {command.expected_version}",
            field="expected_version",
            current_version=current,
        )
    version = current + 1
    activities = [activity.model_dump(mode="json") for activity in command.activities]
    await cases.insert_plan_version(conn, citizen_ref, version, command.goal, activities, actor.name)
    revised = JobPlanRevised(plan_version=version, goal=command.goal, activities=command.activities)
    envelope = await emit(conn, revised, citizen_ref, cause, legal_basis=share_basis)
    summary = SharedInformation.JOB_PLAN_SUMMARY.value
    await log_share(conn, envelope, summary, "social", share_basis, actor.name)
    await check_plan_conflicts(conn, citizen_ref, cause)
    return version


async def decide_plan_change(
    conn: Connection,
    citizen_ref: str,
    command: DecidePlanChange,
    actor: Actor,
    share_basis: str,
    today: date,
    objection_days: int,
    cause: Envelope | None = None,
) -> uuid.UUID:
    """Decide a provider's request to change the job plan. The provider sees the decision
    through the gateway; the social team is informed and may object."""
    await require_citizen(conn, citizen_ref)
    request = await repository.report(conn, command.submission_id)
    if request is None or request["citizen_ref"] != citizen_ref or request["kind"] != "plan-change-request":
        raise NotFound("No plan-change request with this id for the citizen", field="submission_id")
    if request["target_plan"] != TargetPlan.JOB_PLAN.value:
        raise Conflict(
            "The request concerns the social plan: the social team decides it", field="submission_id"
        )
    earlier = await conn.fetchrow(
        "SELECT decision_id, decision FROM plan_change_decision WHERE submission_id = $1",
        command.submission_id,
    )
    if earlier is not None:
        raise Conflict(
            f"The request was already {earlier['decision']}",
            field="submission_id",
            decision_id=str(earlier["decision_id"]),
        )
    version = command.resulting_plan_version
    if command.decision is PlanChangeDecision.APPROVED:
        assert version is not None  # the command's schema requires it with an approval
        if await cases.plan_version(conn, citizen_ref, version) is None:
            raise Invalid(
                f"The job plan has no version {version}; revise the plan first",
                field="resulting_plan_version",
            )
    else:
        version = None
    decision_id = uuid.uuid4()
    objection_deadline = add_working_days(today, objection_days)
    await conn.execute(
        "INSERT INTO plan_change_decision (decision_id, submission_id, citizen_ref, decision, reason, team,"
        " resulting_plan_version, decided_by, object_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        decision_id,
        command.submission_id,
        citizen_ref,
        command.decision.value,
        command.reason,
        command.team,
        version,
        actor.name,
        objection_deadline,
    )
    await repository.close_task_for_source(
        conn,
        request["source_event_id"],
        closed_by=actor.name,
        note=f"{command.decision.value}: {command.reason}",
    )
    decided = PlanChangeDecided(
        decision_id=decision_id,
        submission_id=command.submission_id,
        referral_id=request["referral_id"],
        provider_id=request["provider_id"],
        target_plan=TargetPlan.JOB_PLAN,
        decision=command.decision,
        reason=command.reason,
        deciding_team=CaseworkerTeam(department=Department.EMPLOYMENT, team=command.team),
        resulting_plan_version=version,
        objection_deadline=objection_deadline,
    )
    envelope = await emit(conn, decided, citizen_ref, cause, legal_basis=share_basis)
    # The reason goes to the social department and to the provider who asked.
    await log_share(conn, envelope, DECISION_REASON, "social", share_basis, actor.name)
    recipient = provider_recipient(request["provider_id"])
    await log_share(conn, envelope, DECISION_REASON, recipient, PROVIDER_SHARE_BASIS, actor.name)
    return decision_id


async def social_plan_revised(conn: Connection, envelope: Envelope, event: SocialPlanRevised) -> None:
    """Keep the summary of the social plan, but only when its event names the basis (consent or
    statute) that allows the share."""
    if not envelope.legalbasis:
        log.warning("social plan summary without a legal basis not kept")
        return
    await cases.store_social_summary(
        conn,
        envelope.subject,
        plan_version=event.plan_version,
        goal=event.goal,
        measures=[measure.model_dump(mode="json") for measure in event.measures],
        weekly_capacity_hours=event.weekly_capacity_hours,
        legal_basis=envelope.legalbasis,
        source_event_id=envelope.id,
    )
    await check_plan_conflicts(conn, envelope.subject, envelope)


async def social_summary_withdrawn(
    conn: Connection, envelope: Envelope, event: SocialPlanSummaryWithdrawn
) -> None:
    """No basis is left for sharing the social plan with the jobcenter: its copy goes, and so does
    every social free text it received on such a basis (decision reasons, objections, handover
    justifications), in the tables and in the tasks that quote them."""
    await cases.remove_social_summary(conn, envelope.subject)
    await cases.forget_social_texts(conn, envelope.subject)
    log.info("social plan summary and social texts removed", withdrawn_on=event.withdrawn_on.isoformat())


async def check_plan_conflicts(conn: Connection, citizen_ref: str, cause: Envelope | None = None) -> int:
    """Check the current job plan against the stored social plan summary. Each conflict new for
    this pair of plan versions becomes a task for the jobcenter's team and an event from which
    the social department raises its own, under the basis the summary was shared on. Returns how
    many conflicts were new."""
    # The citizen's lock orders this check after any job-plan revision in flight, so a revision
    # and a new summary arriving together cannot each miss the other.
    if await cases.citizen(conn, citizen_ref, lock=True) is None:
        return 0
    plan = await cases.plan_version(conn, citizen_ref)
    summary = await cases.social_summary(conn, citizen_ref)
    if plan is None or summary is None:
        return 0
    capacity = summary["weekly_capacity_hours"]
    today = danish_today()
    plans = Plans(
        activities=[JobPlanActivity.model_validate(item) for item in json.loads(plan["activities"])],
        measures=[SocialMeasure.model_validate(item) for item in json.loads(summary["measures"])],
        weekly_capacity_hours=float(capacity) if capacity is not None else None,
        today=today,
    )
    new = 0
    for conflict in find_conflicts(plans):
        row = await cases.insert_plan_conflict(
            conn,
            citizen_ref,
            conflict_id=uuid.uuid4(),
            rule=conflict.rule.value,
            explanation=conflict.explanation,
            job_plan_version=plan["version"],
            social_plan_version=summary["plan_version"],
        )
        if row is None:
            continue
        new += 1
        await repository.insert_task_once(
            conn,
            plan_conflict_task(today, conflict.rule.value),
            citizen_ref=citizen_ref,
            referral_id=None,
            provider_id=None,
            source_event_id=row["conflict_id"],
            source_time=row["detected_at"],
            details={
                "conflict_id": str(row["conflict_id"]),
                "rule": conflict.rule.value,
                "explanation": conflict.explanation,
                "job_plan_version": plan["version"],
                "social_plan_version": summary["plan_version"],
            },
        )
        detected = PlanConflictDetected(
            conflict_id=row["conflict_id"],
            rule=conflict.rule,
            explanation=conflict.explanation,
            job_plan_version=plan["version"],
            social_plan_version=summary["plan_version"],
        )
        envelope = await emit(conn, detected, citizen_ref, cause, legal_basis=summary["legal_basis"])
        await log_share(conn, envelope, "plan-conflict", "social", summary["legal_basis"], SHARED_BY_SYSTEM)
        log.info("plan conflict detected", rule=conflict.rule.value, conflict_id=str(row["conflict_id"]))
    return new
