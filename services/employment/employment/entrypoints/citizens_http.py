"""The caseworkers' API for one citizen's case: enrolment, the contact course, the job plan
beside the social plan summary, decisions on provider requests, and case notes. Each command
route takes the same model as the command topic and calls the same handler."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel, Field, ValidationError, field_validator

from employment.adapters import cases, repository
from employment.domain.actor import Actor
from employment.domain.citizens import ProfileTag, TargetGroup
from employment.domain.contact_course import Course, add_months
from employment.service_layer import course, handover, plans, protocol, tasks
from employment.service_layer.messages import danish_today
from employment.settings import EmploymentSettings
from samspil.runtime.auth import Caller, Role, caller_with
from samspil.runtime.errors import NotFound
from samspil.runtime.http import problem_from_validation, problem_responses, unit_of_work
from samspil.runtime.idempotency import KeyedRoute
from samspil.runtime.paging import Cursor, Limit, Page, page_of, read_cursor
from samspil.runtime.pseudonym import Cpr, citizen_ref_for
from schemas.commands import (
    AcceptHandover,
    AddCaseNote,
    AssessAbsence,
    DecidePlanChange,
    ObjectToSocialPlanDecision,
    PostponeFollowUp,
    RecordFollowUp,
    RejectHandover,
    ReviseJobPlan,
    SetFollowUpCadence,
)
from schemas.common import LongText, RequiredBecause, ShortText, Strict
from schemas.envelope import CITIZEN_REF_PATTERN
from schemas.plans import JobPlanActivity, SocialMeasure

Caseworker = Annotated[Caller, Depends(caller_with(Role.EMPLOYMENT_CASEWORKER))]
CitizenRefPath = Annotated[str, Path(pattern=CITIZEN_REF_PATTERN)]

router = APIRouter(
    prefix="/v1", responses=problem_responses(400, 401, 403, 404, 409, 422), route_class=KeyedRoute
)
C = TypeVar("C", bound=BaseModel)


def command_from(model: type[C], **values: Any) -> C:
    """A command built from the path and the body, refused like the body itself if invalid."""
    try:
        return model(**values)
    except ValidationError as invalid:
        raise problem_from_validation(invalid, "body") from None


def actor_of(caller: Caller) -> Actor:
    return Actor(name=caller.name or caller.subject, team=caller.team)


def settings_of(request: Request) -> EmploymentSettings:
    settings: EmploymentSettings = request.app.state.runtime.settings
    return settings


# -- enrolment --------------------------------------------------------------------------------


class EnrolmentIn(Strict):
    """Enrol a shared citizen (fælles borger) by CPR number."""

    cpr: Cpr
    target_group: TargetGroup
    profile_tags: Annotated[list[ProfileTag], Field(max_length=10)] = Field(default_factory=list)
    in_contact_course_since: date | None = Field(
        default=None, description="When the contact course began, if before today (default: today)."
    )

    @field_validator("in_contact_course_since")
    @classmethod
    def _not_in_future(cls, value: date | None) -> date | None:
        if value is not None and not (danish_today() - timedelta(days=3660) <= value <= danish_today()):
            raise ValueError("must be a date in the last ten years, not in the future")
        return value


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
    """The citizen's pseudonymous reference, which every other call and every event uses. Enrolling
    again is harmless: the same reference, with the profile updated (200)."""
    settings = settings_of(request)
    citizen_ref = citizen_ref_for(body.cpr, settings.citizen_ref_key, settings.citizen_ref_key_id)
    async with unit_of_work(request) as conn:
        created = await course.enrol_citizen(
            conn,
            citizen_ref,
            body.cpr,
            body.target_group,
            body.profile_tags,
            body.in_contact_course_since or danish_today(),
            actor_of(caller),
            settings.course_rules(),
        )
    if not created:
        response.status_code = status.HTTP_200_OK
    return Enrolled(citizen_ref=citizen_ref, created=created)


class CprOut(BaseModel):
    cpr: str


@router.get("/citizens/{citizen_ref}/cpr", response_model=CprOut)
async def disclose_cpr(
    citizen_ref: CitizenRefPath, request: Request, response: Response, caller: Caseworker
) -> CprOut:
    """The CPR number, for an authorised caseworker only; each disclosure is logged (without it)."""
    cpr = await cases.cpr_of(request.app.state.runtime.pool, citizen_ref)
    if cpr is None:
        raise NotFound("No such citizen is enrolled", field="citizen_ref")
    request.app.state.cpr_log.info("cpr disclosed", citizen_ref=citizen_ref, to=caller.subject)
    response.headers["Cache-Control"] = "no-store"
    return CprOut(cpr=f"{cpr[:6]}-{cpr[6:]}")


class CitizenOut(BaseModel):
    """The citizen's case at a glance; never the CPR number."""

    citizen_ref: str
    target_group: str
    profile_tags: list[str]
    enrolled_on: date
    lead_department: str
    follow_up_due_on: date
    follow_up_overdue: bool
    job_plan_version: int
    open_tasks: int


@router.get("/citizens/{citizen_ref}", response_model=CitizenOut)
async def get_citizen(citizen_ref: CitizenRefPath, request: Request, caller: Caseworker) -> CitizenOut:
    pool = request.app.state.runtime.pool
    row = await cases.citizen(pool, citizen_ref)
    state = await cases.course(pool, citizen_ref)
    if row is None or state is None:
        raise NotFound("No such citizen is enrolled", field="citizen_ref")
    open_tasks: int = await pool.fetchval(
        "SELECT count(*) FROM caseworker_task WHERE citizen_ref = $1 AND status = 'open'", citizen_ref
    )
    return CitizenOut(
        citizen_ref=citizen_ref,
        target_group=row["target_group"],
        profile_tags=list(row["profile_tags"]),
        enrolled_on=row["enrolled_on"],
        lead_department=state.lead.value,
        follow_up_due_on=state.due_on,
        follow_up_overdue=state.chased_by_jobcenter and state.due_on < danish_today(),
        job_plan_version=await cases.current_plan_version(pool, citizen_ref),
        open_tasks=open_tasks,
    )


class ReportOut(BaseModel):
    submission_id: uuid.UUID
    kind: str
    referral_id: uuid.UUID
    provider_id: str
    details: dict[str, Any]
    received_at: datetime


class HistoryPage(Page[ReportOut]):
    """A page of the case history: the providers' reports, oldest first."""


def _history_key(raw: list[Any]) -> tuple[datetime, uuid.UUID]:
    received_at, submission_id = raw
    when = datetime.fromisoformat(received_at)
    if when.tzinfo is None:
        raise ValueError("a report's arrival has a time zone")
    return when, uuid.UUID(str(submission_id))


@router.get("/citizens/{citizen_ref}/history", response_model=HistoryPage)
async def case_history(
    citizen_ref: CitizenRefPath,
    request: Request,
    caller: Caseworker,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> HistoryPage:
    """Every report the citizen's providers sent, oldest first: the case history, a page at a time."""
    pool = request.app.state.runtime.pool
    if await cases.citizen(pool, citizen_ref) is None:
        raise NotFound("No such citizen is enrolled", field="citizen_ref")
    after = read_cursor(cursor, _history_key) if cursor else None
    rows = await repository.reports_for_citizen(pool, citizen_ref, after, limit)
    page = page_of(
        rows,
        limit,
        lambda row: ReportOut(**{**dict(row), "details": json.loads(row["details"])}),
        lambda row: [row["received_at"].isoformat(), str(row["submission_id"])],
    )
    return HistoryPage(items=page.items, next_cursor=page.next_cursor)


# -- contact course ---------------------------------------------------------------------------


class FollowUpOut(BaseModel):
    kind: str
    department: str
    held_on: date
    note: str | None
    recorded_by: str


class PostponementOut(BaseModel):
    reason: str
    reason_text: str | None
    until: date
    justification_note: str
    recorded_by: str
    recorded_at: datetime


class CourseOut(BaseModel):
    """The contact course (kontaktforløb) as the caseworker sees it."""

    started_on: date
    cadence_months: int
    lead_department: str
    last_follow_up_on: date | None
    postponed_until: date | None
    due_on: date
    chased_by_jobcenter: bool
    overdue: bool
    follow_ups: list[FollowUpOut]
    postponements: list[PostponementOut]


async def _course_out(conn: Any, citizen_ref: str, state: Course | None = None) -> CourseOut:
    if state is None:  # a read; after a command the handler has already found the citizen
        if await cases.citizen(conn, citizen_ref) is None:
            raise NotFound("No such citizen is enrolled", field="citizen_ref")
        state = await cases.course(conn, citizen_ref)
        assert state is not None, "every enrolled citizen has a contact course"
    return CourseOut(
        started_on=state.started_on,
        cadence_months=state.cadence_months,
        lead_department=state.lead.value,
        last_follow_up_on=state.last_follow_up_on,
        postponed_until=state.postponed_until,
        due_on=state.due_on,
        chased_by_jobcenter=state.chased_by_jobcenter,
        overdue=state.chased_by_jobcenter and state.due_on < danish_today(),
        follow_ups=[FollowUpOut(**dict(row)) for row in await cases.follow_ups(conn, citizen_ref)],
        postponements=[PostponementOut(**dict(row)) for row in await cases.postponements(conn, citizen_ref)],
    )


class HandoverAcceptIn(Strict):
    from_date: date
    job_plan_version: Annotated[int, Field(ge=1)] | None = None
    referral_id: uuid.UUID | None = None
    team: ShortText


class HandoverRejectIn(Strict):
    reason: Annotated[LongText, RequiredBecause("A reason is required to reject a handover.")]
    team: ShortText


@router.get("/citizens/{citizen_ref}/contact-course", response_model=CourseOut)
async def get_contact_course(citizen_ref: CitizenRefPath, request: Request, caller: Caseworker) -> CourseOut:
    return await _course_out(request.app.state.runtime.pool, citizen_ref)


@router.post("/citizens/{citizen_ref}/follow-ups", response_model=CourseOut, status_code=201)
async def record_follow_up(
    citizen_ref: CitizenRefPath, body: RecordFollowUp, request: Request, caller: Caseworker
) -> CourseOut:
    """Record a follow-up that took place; any of the trial's kinds counts."""
    async with unit_of_work(request) as conn:
        state = await course.record_follow_up(
            conn, citizen_ref, body, actor_of(caller), danish_today(), settings_of(request).course_rules()
        )
        return await _course_out(conn, citizen_ref, state)


@router.post("/citizens/{citizen_ref}/postponements", response_model=CourseOut, status_code=201)
async def postpone_follow_up(
    citizen_ref: CitizenRefPath, body: PostponeFollowUp, request: Request, caller: Caseworker
) -> CourseOut:
    """Postpone the due follow-up until a date; refused (422) without a justification note."""
    async with unit_of_work(request) as conn:
        state = await course.postpone_follow_up(
            conn, citizen_ref, body, actor_of(caller), danish_today(), settings_of(request).course_rules()
        )
        return await _course_out(conn, citizen_ref, state)


@router.put("/citizens/{citizen_ref}/cadence", response_model=CourseOut)
async def set_cadence(
    citizen_ref: CitizenRefPath, body: SetFollowUpCadence, request: Request, caller: Caseworker
) -> CourseOut:
    """An individual cadence under the trial, with its justification."""
    async with unit_of_work(request) as conn:
        state = await course.set_cadence(
            conn, citizen_ref, body, actor_of(caller), settings_of(request).course_rules()
        )
        return await _course_out(conn, citizen_ref, state)


# -- job plan and the social plan summary -----------------------------------------------------


class JobPlanOut(BaseModel):
    plan_version: int
    goal: str
    activities: list[JobPlanActivity]
    revised_by: str
    revised_at: datetime


class SocialPlanSummaryOut(BaseModel):
    """What the employment department may see of the social action plan, and on what basis."""

    plan_version: int
    goal: str
    measures: list[SocialMeasure]
    weekly_capacity_hours: float | None
    legal_basis: str
    received_at: datetime


class DecisionOut(BaseModel):
    """A decision on a provider's request, with where the protocol stands: provisional while the
    social team may object, disputed, or final (unopposed, or as the specialist unit ruled)."""

    decision_id: uuid.UUID
    submission_id: uuid.UUID
    decision: str
    reason: str
    resulting_plan_version: int | None
    status: str
    object_by: date | None
    social_position: str | None
    rule_by: date | None
    ruling_outcome: str | None
    ruling: str | None
    final_via: str | None
    final_outcome: str | None
    decided_at: datetime


class JobPlanView(BaseModel):
    """The job plan, shown beside the social plan summary so it is made with regard to it."""

    job_plan: JobPlanOut | None
    social_plan_summary: SocialPlanSummaryOut | None
    plan_change_decisions: list[DecisionOut]


def _plan_out(row: Any) -> JobPlanOut:
    return JobPlanOut(
        plan_version=row["version"],
        goal=row["goal"],
        activities=[JobPlanActivity.model_validate(item) for item in json.loads(row["activities"])],
        revised_by=row["revised_by"],
        revised_at=row["revised_at"],
    )


@router.get("/citizens/{citizen_ref}/job-plan", response_model=JobPlanView)
async def get_job_plan(citizen_ref: CitizenRefPath, request: Request, caller: Caseworker) -> JobPlanView:
    pool = request.app.state.runtime.pool
    if await cases.citizen(pool, citizen_ref) is None:
        raise NotFound("No such citizen is enrolled", field="citizen_ref")
    plan = await cases.plan_version(pool, citizen_ref)
    summary = await cases.social_summary(pool, citizen_ref)
    decisions = await pool.fetch(
        f"SELECT {', '.join(DecisionOut.model_fields)} FROM plan_change_decision WHERE citizen_ref = $1"
        " ORDER BY decided_at",
        citizen_ref,
    )
    return JobPlanView(
        plan_change_decisions=[DecisionOut(**dict(row)) for row in decisions],
        job_plan=_plan_out(plan) if plan else None,
        social_plan_summary=(
            SocialPlanSummaryOut(
                **{**dict(summary), "measures": json.loads(summary["measures"])},
            )
            if summary
            else None
        ),
    )


@router.get("/citizens/{citizen_ref}/job-plan/versions/{version}", response_model=JobPlanOut)
async def get_job_plan_version(
    citizen_ref: CitizenRefPath, version: Annotated[int, Path(ge=1)], request: Request, caller: Caseworker
) -> JobPlanOut:
    plan = await cases.plan_version(request.app.state.runtime.pool, citizen_ref, version)
    if plan is None:
        raise NotFound("No such version of the job plan", field="version")
    return _plan_out(plan)


class PlanRevised(BaseModel):
    plan_version: int


@router.post("/citizens/{citizen_ref}/job-plan", response_model=PlanRevised, status_code=201)
async def revise_job_plan(
    citizen_ref: CitizenRefPath, body: ReviseJobPlan, request: Request, caller: Caseworker
) -> PlanRevised:
    """A new version of the job plan; 409 when ``expected_version`` is not the current one."""
    async with unit_of_work(request) as conn:
        version = await plans.revise_job_plan(
            conn, citizen_ref, body, actor_of(caller), settings_of(request).job_plan_share_basis
        )
    return PlanRevised(plan_version=version)


class DecisionMade(BaseModel):
    decision_id: uuid.UUID


@router.post("/citizens/{citizen_ref}/plan-change-decisions", response_model=DecisionMade, status_code=201)
async def decide_plan_change(
    citizen_ref: CitizenRefPath, body: DecidePlanChange, request: Request, caller: Caseworker
) -> DecisionMade:
    """Decide a provider's request to change the job plan; the provider and the social team
    learn the decision."""
    async with unit_of_work(request) as conn:
        settings = settings_of(request)
        decision_id = await plans.decide_plan_change(
            conn,
            citizen_ref,
            body,
            actor_of(caller),
            settings.job_plan_share_basis,
            danish_today(),
            settings.objection_working_days,
        )
    return DecisionMade(decision_id=decision_id)


@router.post("/citizens/{citizen_ref}/absence-assessments", status_code=204)
async def assess_absence(
    citizen_ref: CitizenRefPath, body: AssessAbsence, request: Request, caller: Caseworker
) -> None:
    """Close the re-contact task of an absence notice with the assessment."""
    async with unit_of_work(request) as conn:
        await tasks.assess_absence(conn, citizen_ref, body, actor_of(caller))


@router.post("/citizens/{citizen_ref}/handovers/{handover_id}/accept", status_code=204)
async def accept_handover(
    citizen_ref: CitizenRefPath,
    handover_id: uuid.UUID,
    body: HandoverAcceptIn,
    request: Request,
    caller: Caseworker,
) -> None:
    """Accept the social department's handover: the jobcenter leads the contact course again."""
    command = command_from(AcceptHandover, handover_id=handover_id, **body.model_dump())
    async with unit_of_work(request) as conn:
        await handover.accept_handover(
            conn, citizen_ref, command, actor_of(caller), settings_of(request).course_rules()
        )


@router.post("/citizens/{citizen_ref}/handovers/{handover_id}/reject", status_code=204)
async def reject_handover(
    citizen_ref: CitizenRefPath,
    handover_id: uuid.UUID,
    body: HandoverRejectIn,
    request: Request,
    caller: Caseworker,
) -> None:
    """Reject the handover with a reason; the social department stays the lead department."""
    command = command_from(RejectHandover, handover_id=handover_id, **body.model_dump())
    async with unit_of_work(request) as conn:
        await handover.reject_handover(conn, citizen_ref, command, actor_of(caller))


class DisputeOut(BaseModel):
    dispute_id: uuid.UUID


@router.post("/citizens/{citizen_ref}/objections", response_model=DisputeOut, status_code=201)
async def object_to_social_decision(
    citizen_ref: CitizenRefPath, body: ObjectToSocialPlanDecision, request: Request, caller: Caseworker
) -> DisputeOut:
    """Object to the social team's decision on the social action plan, before the deadline: the
    joint specialist unit then rules."""
    days = settings_of(request).ruling_working_days
    async with unit_of_work(request) as conn:
        await plans.require_citizen(conn, citizen_ref)
        dispute_id = await protocol.object_to_social_decision(
            conn, citizen_ref, body, actor_of(caller), danish_today(), days
        )
    return DisputeOut(dispute_id=dispute_id)


class SocialDecisionOut(BaseModel):
    """A decision of the social team's on the social action plan, and where the protocol stands:
    open while the jobcenter may object, disputed, or final."""

    decision_id: uuid.UUID
    deciding_team: str
    submission_id: uuid.UUID | None
    decision: str
    reason: str | None
    resulting_plan_version: int | None
    legal_basis: str | None
    object_by: date
    status: str
    dispute_id: uuid.UUID | None
    ruling_outcome: str | None
    ruling: str | None
    final_via: str | None
    final_outcome: str | None


@router.get("/citizens/{citizen_ref}/social-decisions", response_model=list[SocialDecisionOut])
async def social_decisions(
    citizen_ref: CitizenRefPath, request: Request, caller: Caseworker
) -> list[dict[str, Any]]:
    """The social team's decisions on the social action plan, and where each stands."""
    pool = request.app.state.runtime.pool
    if await cases.citizen(pool, citizen_ref) is None:
        raise NotFound("No such citizen is enrolled", field="citizen_ref")
    rows = await pool.fetch(
        "SELECT decision_id, deciding_team, submission_id, decision, reason, resulting_plan_version,"
        " legal_basis, object_by, status, dispute_id, ruling_outcome, ruling, final_via, final_outcome"
        " FROM social_decision_review WHERE citizen_ref = $1 ORDER BY received_at",
        citizen_ref,
    )
    return [dict(row) for row in rows]


# -- case notes -------------------------------------------------------------------------------


class NoteOut(BaseModel):
    id: int
    author: str
    text: str
    written_at: datetime


@router.post("/citizens/{citizen_ref}/notes", response_model=NoteOut, status_code=201)
async def add_case_note(
    citizen_ref: CitizenRefPath, body: AddCaseNote, request: Request, caller: Caseworker
) -> NoteOut:
    """Add a note to the case; notes are never changed or removed."""
    async with unit_of_work(request) as conn:
        row = await tasks.add_case_note(conn, citizen_ref, body, actor_of(caller))
    return NoteOut(**dict(row))


class NotePage(Page[NoteOut]):
    """A page of the case notes, oldest first."""


def _note_key(raw: list[Any]) -> int:
    (note_id,) = raw
    if not isinstance(note_id, int):
        raise TypeError("not a note id")
    return note_id


@router.get("/citizens/{citizen_ref}/notes", response_model=NotePage)
async def list_case_notes(
    citizen_ref: CitizenRefPath,
    request: Request,
    caller: Caseworker,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> NotePage:
    """The case notes, oldest first, a page at a time."""
    pool = request.app.state.runtime.pool
    if await cases.citizen(pool, citizen_ref) is None:
        raise NotFound("No such citizen is enrolled", field="citizen_ref")
    after = read_cursor(cursor, _note_key) if cursor else None
    rows = await cases.notes(pool, citizen_ref, after, limit)
    page = page_of(rows, limit, lambda row: NoteOut(**dict(row)), lambda row: [row["id"]])
    return NotePage(items=page.items, next_cursor=page.next_cursor)


# -- parked citizens --------------------------------------------------------------------------


class ParkedCitizen(BaseModel):
    citizen_ref: str
    target_group: str
    profile_tags: list[str]
    enrolled_on: date
    last_follow_up_on: date | None
    last_progress_report_on: date | None
    last_plan_change_on: date | None


class ParkedCitizenPage(Page[ParkedCitizen]):
    """A page of the parked-citizens report, longest-standing first."""


def _parked_key(raw: list[Any]) -> tuple[date, str]:
    enrolled_on, citizen_ref = raw
    if not isinstance(citizen_ref, str):
        raise TypeError("not a citizen reference")
    return date.fromisoformat(enrolled_on), citizen_ref


@router.get("/reports/parked-citizens", response_model=ParkedCitizenPage)
async def parked_citizens(
    request: Request,
    caller: Caseworker,
    months: Annotated[int | None, Query(ge=1, le=120)] = None,
    cursor: Cursor = None,
    limit: Limit = 200,
) -> ParkedCitizenPage:
    """Citizens with no qualifying follow-up, no progress report and no plan change for
    ``months`` months (default from the settings), longest-standing first, a page at a time
    (pass the same ``months`` with the cursor)."""
    since = add_months(danish_today(), -(months or settings_of(request).parked_after_months))
    after = read_cursor(cursor, _parked_key) if cursor else None
    rows = await cases.parked_citizens(request.app.state.runtime.pool, since, after, limit)
    page = page_of(
        rows,
        limit,
        lambda row: ParkedCitizen(**{**dict(row), "profile_tags": list(row["profile_tags"])}),
        lambda row: [row["enrolled_on"].isoformat(), row["citizen_ref"]],
    )
    return ParkedCitizenPage(items=page.items, next_cursor=page.next_cursor)
