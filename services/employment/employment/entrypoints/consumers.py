"""What the employment service consumes from the bus, and which handler each message goes to.
Commands from the department's case system call the same handlers as the HTTP API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from employment.domain.actor import Actor
from employment.service_layer import course, handlers, handover, plans, protocol, tasks
from employment.service_layer.messages import DANISH_TIME, danish_today
from employment.settings import EmploymentSettings
from samspil.runtime.consumer import EventHandler
from samspil.runtime.db import Connection
from samspil.runtime.service import Subscription
from schemas.base import EventData
from schemas.commands import (
    AcceptHandover,
    AddCaseNote,
    AssessAbsence,
    AssignTask,
    CloseTask,
    DecidePlanChange,
    ObjectToSocialPlanDecision,
    PostponeFollowUp,
    RecordFollowUp,
    ReferCitizen,
    RejectHandover,
    ReviseJobPlan,
    SetFollowUpCadence,
    WithdrawReferral,
)
from schemas.contact_course import SocialFollowUpRecorded
from schemas.decisions import PlanChangeDecided
from schemas.disputes import DisputeOverdue, DisputeRaised, DisputeRuled, PlanChangeDecisionFinal
from schemas.envelope import Envelope
from schemas.lead_department import HandoverRequested, LeadDepartmentTakenOver
from schemas.plans import SocialPlanRevised, SocialPlanSummaryWithdrawn
from schemas.provider_reports import ProviderMeetingReported
from schemas.referrals import (
    ReferralAccepted,
    ReferralCancelled,
    ReferralCompleted,
    ReferralFailed,
    ReferralPutOnHold,
    ReferralRejected,
    ReferralRequested,
    ReferralResumed,
    ReferralStarted,
)
from schemas.topics import EMPLOYMENT_COMMANDS, PROVIDER_REPORTS, SOCIAL_EVENTS

# The provider's steps in a referral's lifecycle, as the gateway publishes them.
PROVIDER_STEPS = (
    ReferralAccepted,
    ReferralRejected,
    ReferralStarted,
    ReferralPutOnHold,
    ReferralResumed,
    ReferralCompleted,
    ReferralFailed,
    ReferralCancelled,
)

CommandHandler = Callable[[Connection, str, Any, Actor, Envelope], Awaitable[object]]


def _command(handle: CommandHandler) -> EventHandler:
    """A command from the case system: the citizen is the envelope's subject, the actor the
    sending system."""

    async def on_command(conn: Connection, envelope: Envelope, command: Any) -> None:
        await handle(conn, envelope.subject, command, Actor.case_system(envelope.source), envelope)

    return on_command


def subscription(settings: EmploymentSettings) -> Subscription:
    rules = settings.course_rules()
    basis = settings.job_plan_share_basis

    progress = settings.progress_rules()

    async def on_report(conn: Connection, envelope: Envelope, data: Any) -> None:
        await handlers.receive_report(
            conn, envelope, data, settings.absence_task_working_days, rules, progress
        )

    async def on_reports(conn: Connection, reports: Sequence[tuple[Envelope, Any]]) -> None:
        await handlers.receive_reports(conn, reports, settings.absence_task_working_days, progress)

    async def record_follow_up(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await course.record_follow_up(conn, ref, cmd, actor, danish_today(), rules, env)

    async def postpone(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await course.postpone_follow_up(conn, ref, cmd, actor, danish_today(), rules, env)

    async def set_cadence(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await course.set_cadence(conn, ref, cmd, actor, rules)

    async def revise(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await plans.revise_job_plan(conn, ref, cmd, actor, basis, env)

    async def decide(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await plans.decide_plan_change(
            conn, ref, cmd, actor, basis, danish_today(), settings.objection_working_days, env
        )

    async def assess(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await tasks.assess_absence(conn, ref, cmd, actor, env)

    async def assign(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await tasks.assign_task(conn, cmd, actor, ref)

    async def close(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await tasks.close_task(conn, cmd, actor, ref)

    async def note(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await tasks.add_case_note(conn, ref, cmd, actor)

    async def refer(conn: Connection, ref: str, cmd: ReferCitizen, actor: Actor, env: Envelope) -> None:
        referral = ReferralRequested.model_validate(cmd.model_dump())
        await handlers.refer_citizen(conn, ref, referral, correlation_id=env.correlationid)

    async def withdraw(
        conn: Connection, ref: str, cmd: WithdrawReferral, actor: Actor, env: Envelope
    ) -> None:
        await handlers.withdraw_referral(
            conn,
            cmd.referral_id,
            cmd.reason,
            danish_today(),
            citizen_ref=ref,
            reason_category=cmd.reason_category,
        )

    async def taken_over(conn: Connection, envelope: Envelope, data: Any) -> None:
        await course.lead_taken_over(conn, envelope, data, rules)

    async def social_follow_up(conn: Connection, envelope: Envelope, data: Any) -> None:
        await course.social_follow_up(conn, envelope, data, rules)

    async def accept_handover(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await handover.accept_handover(conn, ref, cmd, actor, rules, env)

    async def reject_handover(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await handover.reject_handover(conn, ref, cmd, actor, env)

    async def handover_requested(conn: Connection, envelope: Envelope, data: Any) -> None:
        await handover.handover_requested(conn, envelope, data, settings.handover_task_working_days)

    async def object_to_decision(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        # On time is judged by when the team sent it, not when this service got to it.
        sent_on = env.time.astimezone(DANISH_TIME).date()
        await protocol.object_to_social_decision(
            conn, ref, cmd, actor, sent_on, settings.ruling_working_days, env
        )

    async def social_decision(conn: Connection, envelope: Envelope, data: Any) -> None:
        await protocol.informed_of_social_decision(conn, envelope, data, settings.objection_working_days)

    commands: dict[type[EventData], CommandHandler] = {
        RecordFollowUp: record_follow_up,
        PostponeFollowUp: postpone,
        SetFollowUpCadence: set_cadence,
        ReviseJobPlan: revise,
        DecidePlanChange: decide,
        AssessAbsence: assess,
        AssignTask: assign,
        CloseTask: close,
        AddCaseNote: note,
        ReferCitizen: refer,
        WithdrawReferral: withdraw,
        AcceptHandover: accept_handover,
        RejectHandover: reject_handover,
        ObjectToSocialPlanDecision: object_to_decision,
    }
    return Subscription(
        topics=[PROVIDER_REPORTS, EMPLOYMENT_COMMANDS, SOCIAL_EVENTS],
        handlers={
            **{report: on_report for report in handlers.REPORT_KINDS},
            **{step: handlers.follow_provider_step for step in PROVIDER_STEPS},
            **{command: _command(handle) for command, handle in commands.items()},
            SocialPlanRevised: plans.social_plan_revised,
            SocialPlanSummaryWithdrawn: plans.social_summary_withdrawn,
            LeadDepartmentTakenOver: taken_over,
            SocialFollowUpRecorded: social_follow_up,
            HandoverRequested: handover_requested,
            DisputeRaised: protocol.dispute_raised,
            PlanChangeDecided: social_decision,
            DisputeRuled: protocol.dispute_ruled,
            DisputeOverdue: protocol.dispute_overdue,
            PlanChangeDecisionFinal: protocol.decision_final,
        },
        # A backlog of reports is received set-wise (a meeting report moves the course: one by one).
        batch_handlers={
            kind: on_reports for kind in handlers.REPORT_KINDS if kind is not ProviderMeetingReported
        },
    )
