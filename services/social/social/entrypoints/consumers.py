"""What the social service consumes from the bus. Commands from the department's case system call
the same handlers as the HTTP API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from samspil.runtime.consumer import EventHandler
from samspil.runtime.db import Connection
from samspil.runtime.errors import Forbidden
from samspil.runtime.service import Subscription
from schemas.base import EventData
from schemas.commands import (
    AddSocialCaseNote,
    AssessReadiness,
    DecideSocialPlanChange,
    ObjectToDecision,
    RecordConsent,
    RecordSocialFollowUp,
    RequestHandover,
    ReviseSocialPlan,
    RuleDispute,
    TakeOverLead,
    WithdrawConsent,
)
from schemas.decisions import PlanChangeDecided
from schemas.disputes import DisputeRaised, PlanChangeDecisionFinal, PlanConflictDetected
from schemas.envelope import Envelope
from schemas.lead_department import HandoverAccepted, HandoverRejected
from schemas.plans import JobPlanRevised
from schemas.provider_reports import PlanChangeRequested, ReadinessReportSubmitted
from schemas.referrals import OfferStarted
from schemas.topics import EMPLOYMENT_EVENTS, PROVIDER_REPORTS, SOCIAL_COMMANDS
from social.service_layer import (
    consents,
    handlers,
    handovers,
    jobcenter,
    lead,
    notes,
    plans,
    protocol,
    readiness,
    shares,
)
from social.service_layer.messages import DANISH_TIME, Actor, danish_today
from social.settings import SocialSettings

CommandHandler = Callable[[Connection, str, Any, Actor, Envelope], Awaitable[object]]


def _command(handle: CommandHandler) -> EventHandler:
    async def on_command(conn: Connection, envelope: Envelope, command: Any) -> None:
        await handle(conn, envelope.subject, command, Actor.case_system(envelope.source), envelope)

    return on_command


def subscription(settings: SocialSettings) -> Subscription:
    statute = settings.social_plan_share_statute

    async def on_report(conn: Connection, envelope: Envelope, data: Any) -> None:
        await handlers.receive_report(conn, envelope, data, settings.task_working_days)

    async def on_decision(conn: Connection, envelope: Envelope, data: Any) -> None:
        await protocol.informed_of_decision(conn, envelope, data, settings.objection_working_days)

    async def on_conflict(conn: Connection, envelope: Envelope, data: Any) -> None:
        await jobcenter.plan_conflict_detected(conn, envelope, data, settings.task_working_days)

    async def revise(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await plans.revise_social_plan(conn, ref, cmd, actor, danish_today(), statute, env)

    async def consent(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await consents.record_consent(conn, ref, cmd, actor, danish_today(), statute, env)

    async def withdraw(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await consents.withdraw_consent(conn, ref, cmd, actor, danish_today(), statute, env)

    async def take_over(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await lead.take_over_lead(conn, ref, cmd, actor, danish_today(), statute, env)

    async def follow_up(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await lead.record_follow_up(conn, ref, cmd, actor, danish_today(), env)

    async def handover(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await handovers.request_handover(conn, ref, cmd, actor, danish_today(), statute, env)

    async def objection(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        # On time is judged by when the team sent it, not when this service got to it.
        sent_on = env.time.astimezone(DANISH_TIME).date()
        await protocol.object_to_decision(
            conn, ref, cmd, actor, sent_on, settings.ruling_working_days, statute, env
        )

    async def ruling(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        # The command topic is the social department's case system; a binding ruling is the joint
        # specialist unit's, made through its role on the API.
        raise Forbidden("Rulings are made by the joint specialist unit through the API", field="dispute_id")

    async def assess(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await readiness.assess_readiness(conn, ref, cmd, actor)

    async def note(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        await notes.add_case_note(conn, ref, cmd, actor)

    async def decide(conn: Connection, ref: str, cmd: Any, actor: Actor, env: Envelope) -> None:
        today = danish_today()
        basis = await shares.share_basis(conn, ref, today, statute)
        await protocol.decide_social_plan_change(
            conn, ref, cmd, actor, today, settings.objection_working_days, basis, env
        )

    commands: dict[type[EventData], CommandHandler] = {
        ReviseSocialPlan: revise,
        RecordConsent: consent,
        WithdrawConsent: withdraw,
        TakeOverLead: take_over,
        RecordSocialFollowUp: follow_up,
        RequestHandover: handover,
        ObjectToDecision: objection,
        RuleDispute: ruling,
        AssessReadiness: assess,
        AddSocialCaseNote: note,
        DecideSocialPlanChange: decide,
    }
    return Subscription(
        topics=[PROVIDER_REPORTS, SOCIAL_COMMANDS, EMPLOYMENT_EVENTS],
        handlers={
            ReadinessReportSubmitted: on_report,
            PlanChangeRequested: on_report,
            PlanChangeDecided: on_decision,
            PlanConflictDetected: on_conflict,
            OfferStarted: jobcenter.offer_started,
            JobPlanRevised: jobcenter.job_plan_revised,
            HandoverAccepted: handovers.handover_answered,
            HandoverRejected: handovers.handover_answered,
            DisputeRaised: protocol.jobcenter_objected,
            PlanChangeDecisionFinal: protocol.jobcenter_let_stand,
            **{command: _command(handle) for command, handle in commands.items()},
        },
    )
