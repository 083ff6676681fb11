"""The employment service's internal HTTP API for the department's own case system."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field

from employment.adapters import repository
from employment.domain.tasks import TaskKind, TaskStatus
from employment.entrypoints.citizens_http import (
    Caseworker,
    CitizenRefPath,
    actor_of,
    command_from,
    settings_of,
)
from employment.service_layer import handlers, progress_reports, tasks
from employment.service_layer.messages import danish_today
from employment.service_layer.task_actions import actions_for
from samspil.runtime.http import Problem, problem_responses, unit_of_work
from samspil.runtime.idempotency import KeyedRoute, reads
from samspil.runtime.paging import Cursor, Limit, Page, page_of, read_cursor
from samspil.runtime.tasks import TaskAction, TaskFilters, parse_task_key, task_key
from schemas.commands import AssignTask, CloseTask, ReferCitizen
from schemas.common import ContactPerson, LongText, Name, ProviderId, RequiredBecause, ShortText, Strict
from schemas.envelope import CITIZEN_REF_PATTERN, CitizenRef
from schemas.referrals import (
    DEFAULT_REPORTING_INTERVAL_DAYS,
    CompletionCategory,
    Offer,
    OptionalReasonCategory,
    ReasonCategory,
    ReferralRequested,
    ReferralStatus,
    ReportingIntervalDays,
    history_categories,
)

router = APIRouter(
    prefix="/v1", responses=problem_responses(400, 401, 403, 404, 409, 422), route_class=KeyedRoute
)


class ReferralIn(Strict):
    """A referral (henvisning) of a citizen to an offer at a provider."""

    citizen_ref: CitizenRef
    provider_id: ProviderId
    offer: Offer
    job_plan_goal: ShortText | None = None
    citizen_display_name: Name
    jobcenter_contact: ContactPerson
    reporting_interval_days: ReportingIntervalDays = Field(
        default=DEFAULT_REPORTING_INTERVAL_DAYS,
        description="Days between the provider's progress reports (28, four weeks, when not given); "
        "the first is due this many days after the citizen starts.",
    )


class ReferralCreated(BaseModel):
    referral_id: uuid.UUID


class TaskOut(BaseModel):
    task_id: uuid.UUID
    citizen_ref: str
    kind: TaskKind
    title: str
    status: TaskStatus
    due_on: date
    overdue: bool
    assignee: str | None
    referral_id: uuid.UUID | None
    provider_id: str | None
    details: dict[str, Any]
    created_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    close_note: str | None
    actions: list[TaskAction] = Field(
        description="The calls that complete the task (ids filled in); without a 'close' action the "
        "task is bound to its decision and closes only by it."
    )


class TaskPage(Page[TaskOut]):
    """A page of caseworker tasks, soonest due first."""


def _task_out(row: Any) -> TaskOut:
    details = json.loads(row["details"])
    return TaskOut(
        **{name: row[name] for name in TaskOut.model_fields if name not in ("overdue", "details", "actions")},
        overdue=repository.is_overdue(row, danish_today()),
        details=details,
        actions=actions_for(TaskKind(row["kind"]), row["task_id"], row["citizen_ref"], details),
    )


@router.post("/referrals", status_code=status.HTTP_201_CREATED, response_model=ReferralCreated)
async def create_referral(body: ReferralIn, request: Request, caller: Caseworker) -> ReferralCreated:
    """Refer a citizen to an offer; the provider sees the referral through the gateway."""
    command = command_from(ReferCitizen, **body.model_dump(exclude={"citizen_ref"}))
    return await refer_citizen(body.citizen_ref, command, request, caller)


@router.post(
    "/citizens/{citizen_ref}/referrals", status_code=status.HTTP_201_CREATED, response_model=ReferralCreated
)
async def refer_citizen(
    citizen_ref: CitizenRefPath, body: ReferCitizen, request: Request, caller: Caseworker
) -> ReferralCreated:
    """Refer the citizen to an offer (the same command as on the command topic)."""
    referral = ReferralRequested.model_validate(body.model_dump())
    async with unit_of_work(request) as conn:
        await handlers.refer_citizen(conn, citizen_ref, referral, correlation_id=uuid.uuid4())
    return ReferralCreated(referral_id=referral.referral_id)


class WithdrawIn(Strict):
    reason: Annotated[ShortText, RequiredBecause("A reason is required to withdraw a referral.")]
    reason_category: OptionalReasonCategory = None


class StatusChangeOut(BaseModel):
    status: ReferralStatus
    changed_by: str
    occurred_on: date
    reason: str | None
    reason_category: ReasonCategory | None = Field(
        description="The reason's category on a step that ended the referral without completing "
        "it, when one was given."
    )
    outcome_category: CompletionCategory | None = Field(
        description="On a completion: the outcome's category, when the provider gave one."
    )

    @classmethod
    def of(cls, change: Mapping[str, Any]) -> StatusChangeOut:
        """From a row of the status history (its categories as `history_categories` reads them)."""
        return cls(
            status=change["status"],
            changed_by=change["changed_by"],
            occurred_on=change["occurred_on"],
            reason=change["reason"],
            **history_categories(change),
        )


class ReferralOut(BaseModel):
    referral_id: uuid.UUID
    citizen_ref: str
    provider_id: str
    offer_kind: str
    offer_title: str
    hours_per_week: float
    starts_on: date
    expected_end_on: date | None
    citizen_display_name: str
    status: ReferralStatus
    reporting_interval_days: int = Field(description="Days between the provider's progress reports.")
    progress_report_due_on: date | None = Field(
        description="When the provider's next progress report is due; null until the citizen "
        "starts the offer."
    )
    progress_report_overdue_since: date | None = Field(
        description="Set while a progress report that was due has not arrived (a task chases it); "
        "cleared when the next report arrives."
    )
    status_history: list[StatusChangeOut]


@router.get("/referrals/{referral_id}", response_model=ReferralOut)
async def get_referral(referral_id: uuid.UUID, request: Request, caller: Caseworker) -> ReferralOut:
    """A referral with every step of its lifecycle, from either side."""
    pool = reads(request)
    row = await repository.referral(pool, referral_id)
    if row is None:
        raise Problem(404, "not-found", "No such referral")
    history = [
        StatusChangeOut.of(dict(change)) for change in await repository.status_history(pool, referral_id)
    ]
    fields = {name: row[name] for name in ReferralOut.model_fields if name != "status_history"}
    return ReferralOut(**fields, status_history=history)


@router.post("/referrals/{referral_id}/withdraw", response_model=ReferralOut)
async def withdraw_referral(
    referral_id: uuid.UUID, body: WithdrawIn, request: Request, caller: Caseworker
) -> ReferralOut:
    """Withdraw (cancel) a referral; the provider sees it cancelled through the gateway."""
    async with unit_of_work(request) as conn:
        await handlers.withdraw_referral(
            conn, referral_id, body.reason, danish_today(), reason_category=body.reason_category
        )
    return await get_referral(referral_id, request, caller)


class ReportingIntervalIn(Strict):
    reporting_interval_days: ReportingIntervalDays


@router.post("/referrals/{referral_id}/reporting-interval", response_model=ReferralOut)
async def change_reporting_interval(
    referral_id: uuid.UUID, body: ReportingIntervalIn, request: Request, caller: Caseworker
) -> ReferralOut:
    """Agree a new interval for the provider's progress reports: the report awaited is then due
    that many days after its period began (the citizen's start or the last report); the provider
    sees the new due date through the gateway. Before the citizen starts, only the interval
    changes."""
    async with unit_of_work(request) as conn:
        await progress_reports.change_reporting_interval(
            conn,
            referral_id,
            body.reporting_interval_days,
            settings_of(request).progress_rules(),
            danish_today(),
        )
    return await get_referral(referral_id, request, caller)


@router.get("/tasks", response_model=TaskPage)
async def list_tasks(
    request: Request,
    caller: Caseworker,
    task_status: Annotated[TaskStatus | None, Query(alias="status")] = None,
    citizen_ref: Annotated[str | None, Query(pattern=CITIZEN_REF_PATTERN)] = None,
    kind: TaskKind | None = None,
    assignee: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    overdue: Annotated[bool, Query(description="Only open tasks past their due date.")] = False,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> TaskPage:
    """Caseworker tasks, soonest due first, a page at a time."""
    filters = TaskFilters(
        status=task_status.value if task_status else None,
        citizen_ref=citizen_ref,
        kind=kind.value if kind else None,
        assignee=assignee,
        overdue_on=danish_today() if overdue else None,
    )
    after = read_cursor(cursor, parse_task_key) if cursor else None
    rows = await repository.list_tasks(request.app.state.runtime.pool, filters, after, limit)
    page = page_of(rows, limit, _task_out, task_key)
    return TaskPage(items=page.items, next_cursor=page.next_cursor)


@router.get("/tasks/{task_id}", response_model=TaskOut)
async def get_task(task_id: uuid.UUID, request: Request, caller: Caseworker) -> TaskOut:
    row = await repository.get_task(reads(request), task_id)
    if row is None:
        raise Problem(404, "not-found", "No such task")
    return _task_out(row)


class AssignIn(Strict):
    assignee: Name


@router.post("/tasks/{task_id}/assign", response_model=TaskOut)
async def assign_task(task_id: uuid.UUID, body: AssignIn, request: Request, caller: Caseworker) -> TaskOut:
    """Assign the task to a caseworker."""
    async with unit_of_work(request) as conn:
        await tasks.assign_task(
            conn, command_from(AssignTask, task_id=task_id, assignee=body.assignee), actor_of(caller)
        )
    return await get_task(task_id, request, caller)


class CloseIn(Strict):
    note: Annotated[LongText, RequiredBecause("A note is required to close a task.")]


@router.post("/tasks/{task_id}/close", response_model=TaskOut)
async def close_task(task_id: uuid.UUID, body: CloseIn, request: Request, caller: Caseworker) -> TaskOut:
    """Close a task that needs no decision of its own; a re-contact task is closed by assessing
    the absence, a decision task by deciding (409 here)."""
    async with unit_of_work(request) as conn:
        await tasks.close_task(
            conn, command_from(CloseTask, task_id=task_id, note=body.note), actor_of(caller)
        )
    return await get_task(task_id, request, caller)
