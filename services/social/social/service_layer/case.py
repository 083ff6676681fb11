"""Handlers of the social case: enrolment, the social action plan and its shares under consent,
the lead department and handover, what the jobcenter tells the social department, notes."""

from __future__ import annotations

import json
import uuid
from datetime import date

import asyncpg
import structlog

from samspil.runtime.db import Connection
from samspil.runtime.errors import Conflict, Invalid, NotFound
from schemas.commands import (
    AddSocialCaseNote,
    AssessReadiness,
    RecordConsent,
    RecordSocialFollowUp,
    RequestHandover,
    ReviseSocialPlan,
    TakeOverLead,
    WithdrawConsent,
)
from schemas.common import CaseworkerTeam, Department
from schemas.consent import (
    ConsentRecorded,
    ConsentWithdrawn,
    MeasuresSharedWithProvider,
    ProviderShareEnded,
    SharedInformation,
    SharedMeasure,
    ShareEndReason,
)
from schemas.contact_course import SocialFollowUpRecorded
from schemas.decisions import ReportOutcome, ReportReceived
from schemas.disputes import PlanConflictDetected
from schemas.envelope import Envelope
from schemas.lead_department import (
    HandoverAccepted,
    HandoverRejected,
    HandoverRequested,
    LeadDepartmentTakenOver,
)
from schemas.plans import JobPlanRevised, SocialMeasure, SocialPlanRevised, SocialPlanSummaryWithdrawn
from schemas.referrals import OfferStarted
from social.adapters import repository
from social.domain.tasks import READINESS_TASK_KIND, handover_answer_task, plan_conflict_task
from social.service_layer.messages import DANISH_TIME, Actor, emit

log = structlog.get_logger("social.case")


async def require_citizen(conn: Connection, citizen_ref: str) -> None:
    """Lock the citizen: one change to a citizen's social case at a time."""
    if not await repository.citizen_exists(conn, citizen_ref, lock=True):
        raise NotFound("No such citizen is enrolled", field="citizen_ref")


async def enrol_citizen(conn: Connection, citizen_ref: str, cpr: str, actor: Actor) -> bool:
    return await repository.insert_citizen(conn, citizen_ref, cpr, actor.name)


# -- the social action plan, shared only on a basis ---------------------------------------------


async def share_basis(conn: Connection, citizen_ref: str, today: date, statute: str | None) -> str | None:
    """What allows the plan summary to reach the employment department: a consent in force, else
    the recorded statutory basis, else nothing (and nothing is shared)."""
    consent = await repository.active_consent(
        conn, citizen_ref, SharedInformation.SOCIAL_PLAN_SUMMARY.value, Department.EMPLOYMENT.value, today
    )
    if consent is not None:
        return f"consent:{consent}"
    return f"statute:{statute}" if statute else None


NOT_SHARED = (
    "The social team's reasons stay in the social case: no consent or statutory basis covers sharing them."
)


async def shared_text(
    conn: Connection, citizen_ref: str, text: str, today: date, statute: str | None
) -> tuple[str, str | None]:
    """A free text about the citizen's social situation may cross to the jobcenter only on the
    same basis as the social plan summary; otherwise a neutral text goes instead."""
    basis = await share_basis(conn, citizen_ref, today, statute)
    return (text, basis) if basis else (NOT_SHARED, None)


async def log_shared(
    conn: Connection, citizen_ref: str, what: str, basis: str | None, actor: Actor, envelope: Envelope
) -> None:
    if basis is not None:
        await repository.log_share(conn, citizen_ref, what, "employment", basis, actor.name, envelope.id)


async def _share_plan(
    conn: Connection, citizen_ref: str, actor: Actor, today: date, statute: str | None, cause: Envelope | None
) -> bool:
    basis = await share_basis(conn, citizen_ref, today, statute)
    plan = await repository.plan_version(conn, citizen_ref)
    if basis is None or plan is None:
        return False

    revised = SocialPlanRevised(
        plan_version=plan["version"],
        goal=plan["goal"],
        measures=[SocialMeasure.model_validate(item) for item in json.loads(plan["measures"])],
        weekly_capacity_hours=float(plan["weekly_capacity_hours"]) if plan["weekly_capacity_hours"] else None,
    )
    envelope = await emit(conn, revised, citizen_ref, cause, legal_basis=basis)
    await repository.log_share(
        conn,
        citizen_ref,
        SharedInformation.SOCIAL_PLAN_SUMMARY.value,
        "employment",
        basis,
        actor.name,
        envelope.id,
    )
    return True


async def _share_with_providers(
    conn: Connection,
    citizen_ref: str,
    actor: Actor,
    today: date,
    cause: Envelope | None,
    consent_id: uuid.UUID | None = None,
) -> None:
    """Each provider the citizen consented to show the social measures to sees the current ones."""
    plan = await repository.plan_version(conn, citizen_ref)
    if plan is None:
        return
    consents = await conn.fetch(
        "SELECT consent_id, to_provider_id, expires_on FROM consent"
        " WHERE citizen_ref = $1 AND information = $2 AND to_provider_id IS NOT NULL"
        " AND withdrawn_on IS NULL AND given_on <= $3 AND expires_on > $3"
        " AND ($4::uuid IS NULL OR consent_id = $4)",
        citizen_ref,
        SharedInformation.SOCIAL_PLAN_SUMMARY.value,
        today,
        consent_id,
    )
    measures = [SocialMeasure.model_validate(item) for item in json.loads(plan["measures"])]
    for consent in consents:
        shared = MeasuresSharedWithProvider(
            consent_id=consent["consent_id"],
            provider_id=consent["to_provider_id"],
            plan_version=plan["version"],
            measures=[
                SharedMeasure(
                    category=measure.category,
                    starts_on=measure.starts_on,
                    ends_on=measure.ends_on,
                    compatible_with_activation=measure.compatible_with_activation,
                )
                for measure in measures
            ],
            shared_until=consent["expires_on"],
        )
        basis = f"consent:{consent['consent_id']}"
        envelope = await emit(conn, shared, citizen_ref, cause, legal_basis=basis)
        recipient = f"provider:{consent['to_provider_id']}"
        await repository.log_share(
            conn, citizen_ref, "social-measures", recipient, basis, actor.name, envelope.id
        )


async def _end_provider_share(
    conn: Connection,
    citizen_ref: str,
    consent: asyncpg.Record,
    reason: ShareEndReason,
    actor: str,
    today: date,
) -> None:
    ended = ProviderShareEnded(
        consent_id=consent["consent_id"], provider_id=consent["to_provider_id"], ended_on=today, reason=reason
    )
    basis = f"consent-{reason.value}:{consent['consent_id']}"
    envelope = await emit(conn, ended, citizen_ref, legal_basis=basis)
    recipient = f"provider:{consent['to_provider_id']}"
    await repository.log_share(
        conn, citizen_ref, "social-measures-ended", recipient, basis, actor, envelope.id
    )


async def revise_social_plan(
    conn: Connection,
    citizen_ref: str,
    command: ReviseSocialPlan,
    actor: Actor,
    today: date,
    statute: str | None,
    cause: Envelope | None = None,
) -> tuple[int, bool]:
    """A new version of the social action plan if the caller saw the current one; its summary
    goes to the jobcenter only on a consent or statutory basis. Returns (version, shared)."""
    await require_citizen(conn, citizen_ref)
    current = await repository.current_plan_version(conn, citizen_ref)
    if command.expected_version != current:
        raise Conflict(
            f"The social plan is at version {current}, not {command.expected_version}",
            field="expected_version",
            current_version=current,
        )
    measures = [measure.model_dump(mode="json") for measure in command.measures]
    await repository.insert_plan_version(
        conn, citizen_ref, current + 1, command.goal, measures, command.weekly_capacity_hours, actor.name
    )
    shared = await _share_plan(conn, citizen_ref, actor, today, statute, cause)
    if not shared:
        log.info("social plan summary not shared: no consent or statutory basis")
    await _share_with_providers(conn, citizen_ref, actor, today, cause)
    return current + 1, shared


async def record_consent(
    conn: Connection,
    citizen_ref: str,
    command: RecordConsent,
    actor: Actor,
    today: date,
    statute: str | None,
    cause: Envelope | None = None,
) -> uuid.UUID:
    await require_citizen(conn, citizen_ref)
    if command.expires_on <= today:
        raise Invalid("must be after today", field="expires_on")
    consent_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO consent (consent_id, citizen_ref, information, to_department, to_provider_id, purpose,"
        " given_on, expires_on, recorded_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        consent_id,
        citizen_ref,
        command.information.value,
        command.to_department.value if command.to_department else None,
        command.to_provider_id,
        command.purpose,
        today,
        command.expires_on,
        actor.name,
    )
    recorded = ConsentRecorded(
        consent_id=consent_id,
        information=command.information,
        from_department=Department.SOCIAL,
        to_department=command.to_department,
        to_provider_id=command.to_provider_id,
        purpose=command.purpose,
        given_on=today,
        expires_on=command.expires_on,
    )
    await emit(conn, recorded, citizen_ref, cause)
    if (
        command.information is SharedInformation.SOCIAL_PLAN_SUMMARY
        and command.to_department is Department.EMPLOYMENT
    ):
        await _share_plan(conn, citizen_ref, actor, today, statute, cause)
    if command.information is SharedInformation.SOCIAL_PLAN_SUMMARY and command.to_provider_id:
        await _share_with_providers(conn, citizen_ref, actor, today, cause, consent_id)
    return consent_id


async def withdraw_consent(
    conn: Connection,
    citizen_ref: str,
    command: WithdrawConsent,
    actor: Actor,
    today: date,
    statute: str | None,
    cause: Envelope | None = None,
) -> None:
    """The consent ends; if it was what allowed the plan summary to reach the jobcenter, the
    jobcenter is told to remove its copy and no further summaries go."""
    await require_citizen(conn, citizen_ref)
    row = await conn.fetchrow(
        "SELECT consent_id, information, to_department, to_provider_id, withdrawn_on FROM consent"
        " WHERE consent_id = $1 AND citizen_ref = $2",
        command.consent_id,
        citizen_ref,
    )
    if row is None:
        raise NotFound("No such consent for the citizen", field="consent_id")
    if row["withdrawn_on"] is not None:
        raise Conflict("The consent was already withdrawn", field="consent_id")
    await conn.execute(
        "UPDATE consent SET withdrawn_on = $2 WHERE consent_id = $1", command.consent_id, today
    )
    await emit(conn, ConsentWithdrawn(consent_id=command.consent_id, withdrawn_on=today), citizen_ref, cause)
    if (
        row["to_provider_id"] is not None
        and row["information"] == SharedInformation.SOCIAL_PLAN_SUMMARY.value
    ):
        await _end_provider_share(conn, citizen_ref, row, ShareEndReason.WITHDRAWN, actor.name, today)
    summary_consent = (
        row["information"] == SharedInformation.SOCIAL_PLAN_SUMMARY.value
        and row["to_department"] == Department.EMPLOYMENT.value
    )
    if summary_consent and await share_basis(conn, citizen_ref, today, statute) is None:
        withdrawn = SocialPlanSummaryWithdrawn(withdrawn_on=today)
        envelope = await emit(
            conn, withdrawn, citizen_ref, cause, legal_basis=f"consent-withdrawn:{command.consent_id}"
        )
        await repository.log_share(
            conn,
            citizen_ref,
            "social-plan-summary-withdrawal",
            "employment",
            f"consent-withdrawn:{command.consent_id}",
            actor.name,
            envelope.id,
        )


async def expire_consents(pool: asyncpg.Pool, today: date, statute: str | None, batch: int = 200) -> int:
    """A consent that has run out ends the shares based on it, like a withdrawal: when nothing
    else allows the plan summary, the jobcenter is told to remove its copy. Once per consent."""
    candidates = await pool.fetch(
        "SELECT consent_id, citizen_ref FROM consent WHERE withdrawn_on IS NULL AND NOT expiry_handled"
        " AND expires_on <= $1 ORDER BY expires_on LIMIT $2",
        today,
        batch,
    )
    handled = 0
    for candidate in candidates:
        async with pool.acquire() as conn, conn.transaction():
            # The citizen first, as every handler of the case does; then the consent, re-read.
            await conn.execute(
                "SELECT 1 FROM citizen WHERE citizen_ref = $1 FOR UPDATE", candidate["citizen_ref"]
            )
            consent = await conn.fetchrow(
                "SELECT consent_id, citizen_ref, information, to_department, to_provider_id FROM consent"
                " WHERE consent_id = $1 AND withdrawn_on IS NULL AND NOT expiry_handled"
                " FOR UPDATE SKIP LOCKED",
                candidate["consent_id"],
            )
            if consent is None:
                continue
            handled += 1
            await conn.execute(
                "UPDATE consent SET expiry_handled = true WHERE consent_id = $1", consent["consent_id"]
            )
            if consent["to_provider_id"] is not None:
                await _end_provider_share(
                    conn, consent["citizen_ref"], consent, ShareEndReason.EXPIRED, "consent expiry", today
                )
            summary_consent = (
                consent["information"] == SharedInformation.SOCIAL_PLAN_SUMMARY.value
                and consent["to_department"] == Department.EMPLOYMENT.value
            )
            if summary_consent and await share_basis(conn, consent["citizen_ref"], today, statute) is None:
                basis = f"consent-expired:{consent['consent_id']}"
                withdrawn = SocialPlanSummaryWithdrawn(withdrawn_on=today)
                envelope = await emit(conn, withdrawn, consent["citizen_ref"], legal_basis=basis)
                await repository.log_share(
                    conn,
                    consent["citizen_ref"],
                    "social-plan-summary-withdrawal",
                    "employment",
                    basis,
                    "consent expiry",
                    envelope.id,
                )
    return handled


# -- lead department and handover ----------------------------------------------------------------


async def _lead(conn: Connection, citizen_ref: str) -> str:
    lead: str = await conn.fetchval(
        "SELECT lead FROM contact_lead WHERE citizen_ref = $1 FOR UPDATE", citizen_ref
    )
    return lead


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
    if await _lead(conn, citizen_ref) == Department.SOCIAL.value:
        raise Conflict("The social department already leads the contact course", field="citizen_ref")
    await conn.execute(
        "UPDATE contact_lead SET lead = 'social', since = $2, reason = $3 WHERE citizen_ref = $1",
        citizen_ref,
        command.from_date,
        command.reason,
    )
    reason, basis = await shared_text(conn, citizen_ref, command.reason, today, statute)
    taken = LeadDepartmentTakenOver(
        lead_department=Department.SOCIAL,
        from_date=command.from_date,
        reason=reason,
        team=CaseworkerTeam(department=Department.SOCIAL, team=command.team),
    )
    envelope = await emit(conn, taken, citizen_ref, cause, legal_basis=basis)
    await log_shared(conn, citizen_ref, "lead-department-reason", basis, actor, envelope)


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
    if await _lead(conn, citizen_ref) != Department.SOCIAL.value:
        raise Conflict("Only while the social department leads the contact course", field="citizen_ref")
    if command.held_on > today:
        raise Invalid("a follow-up cannot be recorded before it is held", field="held_on")
    since: date = await conn.fetchval("SELECT since FROM contact_lead WHERE citizen_ref = $1", citizen_ref)
    if command.held_on < since:
        raise Invalid(
            f"is before the social department took the lead on {since.isoformat()}", field="held_on"
        )
    await conn.execute(
        "INSERT INTO social_follow_up (citizen_ref, kind, held_on, note, recorded_by)"
        " VALUES ($1, $2, $3, $4, $5)",
        citizen_ref,
        command.kind.value,
        command.held_on,
        command.note,
        actor.name,
    )
    held = SocialFollowUpRecorded(kind=command.kind, department=Department.SOCIAL, held_on=command.held_on)
    await emit(conn, held, citizen_ref, cause)


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
    if await _lead(conn, citizen_ref) != Department.SOCIAL.value:
        raise Conflict("Only the lead department hands over", field="citizen_ref")
    pending = await conn.fetchval(
        "SELECT handover_id FROM handover WHERE citizen_ref = $1 AND status = 'requested'", citizen_ref
    )
    if pending is not None:
        raise Conflict("A handover is already awaiting the jobcenter's answer", field="citizen_ref")
    handover_id = uuid.uuid4()
    team = actor.team or "social department"
    await conn.execute(
        "INSERT INTO handover (handover_id, citizen_ref, justification, proposed_from, requested_by)"
        " VALUES ($1, $2, $3, $4, $5)",
        handover_id,
        citizen_ref,
        command.justification,
        command.proposed_from,
        team,
    )
    justification, basis = await shared_text(conn, citizen_ref, command.justification, today, statute)
    requested = HandoverRequested(
        handover_id=handover_id,
        justification=justification,
        proposed_from=command.proposed_from,
        team=CaseworkerTeam(department=Department.SOCIAL, team=team),
    )
    envelope = await emit(conn, requested, citizen_ref, cause, legal_basis=basis)
    await log_shared(conn, citizen_ref, "handover-justification", basis, actor, envelope)
    return handover_id


async def handover_answered(
    conn: Connection, envelope: Envelope, answer: HandoverAccepted | HandoverRejected
) -> None:
    """The jobcenter's answer: on acceptance it leads again; the social measures go on."""
    accepted = isinstance(answer, HandoverAccepted)
    updated = await conn.fetchval(
        "UPDATE handover SET status = $2, answer = $3, answered_at = now()"
        " WHERE handover_id = $1 AND status = 'requested' RETURNING citizen_ref",
        answer.handover_id,
        "accepted" if accepted else "rejected",
        f"from {answer.from_date.isoformat()}" if isinstance(answer, HandoverAccepted) else answer.reason,
    )
    if updated is None:
        log.warning("answer to an unknown or answered handover ignored", handover_id=str(answer.handover_id))
        return
    if isinstance(answer, HandoverAccepted):
        await conn.execute(
            "UPDATE contact_lead SET lead = 'employment', since = $2, reason = 'handover accepted'"
            " WHERE citizen_ref = $1",
            envelope.subject,
            answer.from_date,
        )
    received_on = envelope.time.astimezone(DANISH_TIME).date()
    details = {
        "handover_id": str(answer.handover_id),
        "team": answer.team.team,
        "reason": answer.reason if isinstance(answer, HandoverRejected) else None,
    }
    await repository.insert_task(
        conn,
        envelope.subject,
        handover_answer_task(received_on, accepted),
        details,
        source_event_id=envelope.id,
    )


# -- what the jobcenter tells the social department ---------------------------------------------


async def offer_started(conn: Connection, envelope: Envelope, started: OfferStarted) -> None:
    """The social caseworker sees which employment offer the citizen started."""
    await conn.execute(
        "INSERT INTO offer_started (referral_id, citizen_ref, provider_id, offer_kind, offer_title,"
        " hours_per_week, started_on, expected_end_on) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT DO NOTHING",
        started.referral_id,
        envelope.subject,
        started.provider_id,
        started.offer_kind.value,
        started.offer_title,
        started.hours_per_week,
        started.started_on,
        started.expected_end_on,
    )


async def job_plan_revised(conn: Connection, envelope: Envelope, revised: JobPlanRevised) -> None:
    """Keep the job plan summary, only when its event names the basis for the share."""
    if not envelope.legalbasis:
        log.warning("job plan summary without a legal basis not kept")
        return
    await conn.execute(
        "INSERT INTO job_plan_summary (citizen_ref, plan_version, goal, activities, legal_basis)"
        " VALUES ($1, $2, $3, $4::jsonb, $5) ON CONFLICT (citizen_ref) DO UPDATE SET plan_version = $2,"
        " goal = $3, activities = $4::jsonb, legal_basis = $5, received_at = now()"
        " WHERE job_plan_summary.plan_version <= $2",
        envelope.subject,
        revised.plan_version,
        revised.goal,
        json.dumps([activity.model_dump(mode="json") for activity in revised.activities]),
        envelope.legalbasis,
    )


async def plan_conflict_detected(
    conn: Connection, envelope: Envelope, conflict: PlanConflictDetected, working_days: int
) -> None:
    """The plans pull against each other: the social team gets its task too."""
    received_on = envelope.time.astimezone(DANISH_TIME).date()
    details = {
        "conflict_id": str(conflict.conflict_id),
        "rule": conflict.rule.value,
        "explanation": conflict.explanation,
        "job_plan_version": conflict.job_plan_version,
        "social_plan_version": conflict.social_plan_version,
    }
    await repository.insert_task(
        conn,
        envelope.subject,
        plan_conflict_task(received_on, working_days),
        details,
        source_event_id=envelope.id,
    )


async def assess_readiness(
    conn: Connection, citizen_ref: str, command: AssessReadiness, actor: Actor
) -> None:
    await require_citizen(conn, citizen_ref)
    await conn.execute(
        "INSERT INTO readiness_assessment (citizen_ref, ready, assessment, assessed_by)"
        " VALUES ($1, $2, $3, $4)",
        citizen_ref,
        command.ready,
        command.assessment,
        actor.name,
    )
    # The assessment answers the readiness reports that waited for it: their tasks close, and
    # each provider learns that the social department's work on its report is done.
    answered = await repository.close_report_tasks(conn, citizen_ref, READINESS_TASK_KIND, actor.name)
    for report in answered:
        completed = ReportReceived(
            submission_id=report["submission_id"],
            referral_id=report["referral_id"],
            provider_id=report["provider_id"],
            department=Department.SOCIAL,
            outcome=ReportOutcome.COMPLETED,
        )
        await emit(conn, completed, citizen_ref)


async def add_case_note(conn: Connection, citizen_ref: str, command: AddSocialCaseNote, actor: Actor) -> None:
    await require_citizen(conn, citizen_ref)
    await conn.execute(
        "INSERT INTO case_note (citizen_ref, author, text) VALUES ($1, $2, $3)",
        citizen_ref,
        actor.name,
        command.text,
    )
