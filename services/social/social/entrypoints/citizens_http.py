"""The social caseworkers' and the joint specialist unit's API. Each command route takes the same
model as the command topic and calls the same handler."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel, ValidationError

from samspil.runtime.auth import Caller, Role, caller_with
from samspil.runtime.errors import NotFound
from samspil.runtime.http import problem_from_validation, problem_responses, unit_of_work
from samspil.runtime.idempotency import KeyedRoute
from samspil.runtime.paging import Cursor, Limit, page_of, read_cursor
from samspil.runtime.pseudonym import Cpr, citizen_ref_for
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
from schemas.common import LongText, RequiredBecause, ShortText, Strict
from schemas.disputes import RulingOutcome
from schemas.envelope import CITIZEN_REF_PATTERN
from social.adapters import overview, repository
from social.entrypoints import views
from social.service_layer import (
    citizens,
    consents,
    handovers,
    lead,
    notes,
    plans,
    protocol,
    readiness,
    shares,
)
from social.service_layer.messages import Actor, danish_today
from social.settings import SocialSettings

Caseworker = Annotated[Caller, Depends(caller_with(Role.SOCIAL_CASEWORKER))]
SpecialistUnit = Annotated[Caller, Depends(caller_with(Role.SPECIALIST_UNIT))]
Reader = Annotated[Caller, Depends(caller_with(Role.SOCIAL_CASEWORKER, Role.SPECIALIST_UNIT))]
CitizenRefPath = Annotated[str, Path(pattern=CITIZEN_REF_PATTERN)]

router = APIRouter(
    prefix="/v1", responses=problem_responses(400, 401, 403, 404, 409, 422), route_class=KeyedRoute
)


def actor_of(caller: Caller) -> Actor:
    return Actor(name=caller.name or caller.subject, team=caller.team)


def settings_of(request: Request) -> SocialSettings:
    settings: SocialSettings = request.app.state.runtime.settings
    return settings


async def _known(request: Request, citizen_ref: str) -> None:
    if not await repository.citizen_exists(request.app.state.runtime.pool, citizen_ref):
        raise NotFound("No such citizen is enrolled", field="citizen_ref")


class EnrolmentIn(Strict):
    cpr: Cpr


class Enrolled(BaseModel):
    citizen_ref: str
    created: bool


@router.post(
    "/citizens",
    response_model=Enrolled,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": Enrolled, "description": "Already enrolled: the same reference"}},
)
async def enrol_citizen(
    body: EnrolmentIn, request: Request, response: Response, caller: Caseworker
) -> Enrolled:
    """The citizen's pseudonymous reference: the same the jobcenter arrives at for the CPR number."""
    settings = settings_of(request)
    citizen_ref = citizen_ref_for(body.cpr, settings.citizen_ref_key, settings.citizen_ref_key_id)
    async with unit_of_work(request) as conn:
        created = await citizens.enrol_citizen(conn, citizen_ref, body.cpr, actor_of(caller))
    if not created:
        response.status_code = status.HTTP_200_OK
    return Enrolled(citizen_ref=citizen_ref, created=created)


@router.get("/citizens/{citizen_ref}", response_model=views.SocialCaseOut)
async def get_citizen(citizen_ref: CitizenRefPath, request: Request, caller: Reader) -> dict[str, Any]:
    """The social case at a glance: lead department, the social plan beside the job plan summary,
    the offers the citizen started, handovers, decisions under review, disputes, consents and shares."""
    await _known(request, citizen_ref)
    return await overview.case_overview(request.app.state.runtime.pool, citizen_ref)


class PlanRevised(BaseModel):
    plan_version: int
    shared_with_employment: bool


@router.post("/citizens/{citizen_ref}/social-plan", response_model=PlanRevised, status_code=201)
async def revise_social_plan(
    citizen_ref: CitizenRefPath, body: ReviseSocialPlan, request: Request, caller: Caseworker
) -> PlanRevised:
    """A new version of the social action plan; 409 when ``expected_version`` is stale. Its summary
    reaches the jobcenter only on a consent or a recorded statutory basis."""
    statute = settings_of(request).social_plan_share_statute
    async with unit_of_work(request) as conn:
        version, shared = await plans.revise_social_plan(
            conn, citizen_ref, body, actor_of(caller), danish_today(), statute
        )
    return PlanRevised(plan_version=version, shared_with_employment=shared)


class ConsentOut(BaseModel):
    consent_id: uuid.UUID


@router.post("/citizens/{citizen_ref}/consents", response_model=ConsentOut, status_code=201)
async def record_consent(
    citizen_ref: CitizenRefPath, body: RecordConsent, request: Request, caller: Caseworker
) -> ConsentOut:
    statute = settings_of(request).social_plan_share_statute
    async with unit_of_work(request) as conn:
        consent_id = await consents.record_consent(
            conn, citizen_ref, body, actor_of(caller), danish_today(), statute
        )
    return ConsentOut(consent_id=consent_id)


@router.post("/citizens/{citizen_ref}/consents/{consent_id}/withdraw", status_code=204)
async def withdraw_consent(
    citizen_ref: CitizenRefPath, consent_id: uuid.UUID, request: Request, caller: Caseworker
) -> None:
    """The citizen withdraws a consent: shares based on it stop, and copies are removed."""
    statute = settings_of(request).social_plan_share_statute
    command = WithdrawConsent(consent_id=consent_id)
    async with unit_of_work(request) as conn:
        await consents.withdraw_consent(conn, citizen_ref, command, actor_of(caller), danish_today(), statute)


@router.post("/citizens/{citizen_ref}/lead", status_code=204)
async def take_over_lead(
    citizen_ref: CitizenRefPath, body: TakeOverLead, request: Request, caller: Caseworker
) -> None:
    """The social department takes over the contact course (lead department)."""
    async with unit_of_work(request) as conn:
        await lead.take_over_lead(
            conn,
            citizen_ref,
            body,
            actor_of(caller),
            danish_today(),
            settings_of(request).social_plan_share_statute,
        )


@router.post("/citizens/{citizen_ref}/follow-ups", status_code=204)
async def record_follow_up(
    citizen_ref: CitizenRefPath, body: RecordSocialFollowUp, request: Request, caller: Caseworker
) -> None:
    """A follow-up the social department held; it counts while the social department leads."""
    async with unit_of_work(request) as conn:
        await lead.record_follow_up(conn, citizen_ref, body, actor_of(caller), danish_today())


class HandoverRequested(BaseModel):
    handover_id: uuid.UUID


@router.post("/citizens/{citizen_ref}/handovers", response_model=HandoverRequested, status_code=201)
async def request_handover(
    citizen_ref: CitizenRefPath, body: RequestHandover, request: Request, caller: Caseworker
) -> HandoverRequested:
    """The citizen is ready: ask the jobcenter to take over toward an employment offer."""
    async with unit_of_work(request) as conn:
        handover_id = await handovers.request_handover(
            conn,
            citizen_ref,
            body,
            actor_of(caller),
            danish_today(),
            settings_of(request).social_plan_share_statute,
        )
    return HandoverRequested(handover_id=handover_id)


class DisputeRaised(BaseModel):
    dispute_id: uuid.UUID


@router.post("/citizens/{citizen_ref}/objections", response_model=DisputeRaised, status_code=201)
async def object_to_decision(
    citizen_ref: CitizenRefPath, body: ObjectToDecision, request: Request, caller: Caseworker
) -> DisputeRaised:
    """Object to the jobcenter's plan-change decision before the deadline: the specialist unit rules."""
    days = settings_of(request).ruling_working_days
    async with unit_of_work(request) as conn:
        dispute_id = await protocol.object_to_decision(
            conn,
            citizen_ref,
            body,
            actor_of(caller),
            danish_today(),
            days,
            settings_of(request).social_plan_share_statute,
        )
    return DisputeRaised(dispute_id=dispute_id)


class DecisionMade(BaseModel):
    decision_id: uuid.UUID


@router.post("/citizens/{citizen_ref}/plan-change-decisions", response_model=DecisionMade, status_code=201)
async def decide_plan_change(
    citizen_ref: CitizenRefPath, body: DecideSocialPlanChange, request: Request, caller: Caseworker
) -> DecisionMade:
    """Decide a provider's request to change the social action plan; the jobcenter may object."""
    settings = settings_of(request)
    today = danish_today()
    async with unit_of_work(request) as conn:
        basis = await shares.share_basis(conn, citizen_ref, today, settings.social_plan_share_statute)
        decision_id = await protocol.decide_social_plan_change(
            conn, citizen_ref, body, actor_of(caller), today, settings.objection_working_days, basis
        )
    return DecisionMade(decision_id=decision_id)


def _dispute_key(raw: list[Any]) -> tuple[date, uuid.UUID]:
    rule_by, dispute_id = raw
    return date.fromisoformat(rule_by), uuid.UUID(str(dispute_id))


@router.get("/disputes", response_model=views.DisputePage)
async def list_disputes(
    request: Request,
    caller: Reader,
    open_only: Annotated[bool, Query(alias="open")] = True,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> views.DisputePage:
    """Disputes for the joint specialist unit, the soonest deadline first, a page at a time."""
    after_on, after_id = read_cursor(cursor, _dispute_key) if cursor else (date.min, uuid.UUID(int=0))
    pool = request.app.state.runtime.pool
    rows = await repository.disputes(pool, open_only, danish_today(), (after_on, after_id), limit)
    page = page_of(
        rows,
        limit,
        views.DisputeListed.model_validate,
        lambda row: [row["rule_by"].isoformat(), str(row["dispute_id"])],
    )
    return views.DisputePage(items=page.items, next_cursor=page.next_cursor)


class RulingIn(Strict):
    outcome: RulingOutcome
    ruling: Annotated[LongText, RequiredBecause("The ruling is required to rule on a dispute.")]
    summary_for_provider: ShortText | None = None


@router.post("/disputes/{dispute_id}/ruling", status_code=204)
async def rule_dispute(
    dispute_id: uuid.UUID, body: RulingIn, request: Request, caller: SpecialistUnit
) -> None:
    """The joint specialist unit's ruling: final, applied on both sides, seen by the provider."""
    try:
        command = RuleDispute(dispute_id=dispute_id, **body.model_dump())
    except ValidationError as invalid:
        raise problem_from_validation(invalid, "body") from None
    days = settings_of(request).task_working_days
    async with unit_of_work(request) as conn:
        await protocol.rule_dispute(conn, command, actor_of(caller), danish_today(), days)


@router.post("/citizens/{citizen_ref}/readiness-assessments", status_code=204)
async def assess_readiness(
    citizen_ref: CitizenRefPath, body: AssessReadiness, request: Request, caller: Caseworker
) -> None:
    """The social department's own assessment of the citizen's readiness."""
    async with unit_of_work(request) as conn:
        await readiness.assess_readiness(conn, citizen_ref, body, actor_of(caller))


@router.post("/citizens/{citizen_ref}/notes", status_code=204)
async def add_case_note(
    citizen_ref: CitizenRefPath, body: AddSocialCaseNote, request: Request, caller: Caseworker
) -> None:
    """Add a note to the social case; notes are never changed or removed."""
    async with unit_of_work(request) as conn:
        await notes.add_case_note(conn, citizen_ref, body, actor_of(caller))


def _note_key(raw: list[Any]) -> int:
    (note_id,) = raw
    if not isinstance(note_id, int):
        raise TypeError("not a note id")
    return note_id


@router.get("/citizens/{citizen_ref}/notes", response_model=views.NotePage)
async def list_case_notes(
    citizen_ref: CitizenRefPath, request: Request, caller: Reader, cursor: Cursor = None, limit: Limit = 100
) -> views.NotePage:
    """The social case notes, oldest first, a page at a time."""
    await _known(request, citizen_ref)
    after = read_cursor(cursor, _note_key) if cursor else 0
    rows = await repository.notes(request.app.state.runtime.pool, citizen_ref, after, limit)
    page = page_of(rows, limit, views.NoteOut.model_validate, lambda row: [row["id"]])
    return views.NotePage(items=page.items, next_cursor=page.next_cursor)
