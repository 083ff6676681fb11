"""The employment service's internal HTTP API for the department's own case system."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel

from employment.adapters import repository
from employment.domain.tasks import TaskKind, TaskStatus
from employment.service_layer import handlers
from samspil.runtime.http import Problem
from schemas.common import ContactPerson, Name, ProviderId, ShortText, Strict
from schemas.envelope import CITIZEN_REF_PATTERN, CitizenRef
from schemas.referrals import IllegalTransition, Offer, ReferralRequested, ReferralStatus

router = APIRouter(prefix="/v1")


class ReferralIn(Strict):
    """A referral (henvisning) of a citizen to an offer at a provider."""

    citizen_ref: CitizenRef
    provider_id: ProviderId
    offer: Offer
    job_plan_goal: ShortText | None = None
    citizen_display_name: Name
    jobcenter_contact: ContactPerson


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
    referral_id: uuid.UUID | None
    provider_id: str | None
    details: dict[str, Any]
    created_at: datetime
    closed_at: datetime | None


def _task_out(row: Any) -> TaskOut:
    import json

    return TaskOut(
        task_id=row["task_id"],
        citizen_ref=row["citizen_ref"],
        kind=TaskKind(row["kind"]),
        title=row["title"],
        status=TaskStatus(row["status"]),
        due_on=row["due_on"],
        overdue=repository.is_overdue(row, date.today()),
        referral_id=row["referral_id"],
        provider_id=row["provider_id"],
        details=json.loads(row["details"]),
        created_at=row["created_at"],
        closed_at=row["closed_at"],
    )


@router.post("/referrals", status_code=status.HTTP_201_CREATED, response_model=ReferralCreated)
async def create_referral(body: ReferralIn, request: Request) -> ReferralCreated:
    """Refer a citizen to an offer; the provider sees the referral through the gateway."""
    referral_id = uuid.uuid4()
    referral = ReferralRequested(referral_id=referral_id, **body.model_dump(exclude={"citizen_ref"}))
    pool = request.app.state.runtime.pool
    async with pool.acquire() as conn, conn.transaction():
        await handlers.refer_citizen(conn, body.citizen_ref, referral, correlation_id=uuid.uuid4())
    return ReferralCreated(referral_id=referral_id)


class WithdrawIn(Strict):
    reason: ShortText


class StatusChangeOut(BaseModel):
    status: ReferralStatus
    changed_by: str
    occurred_on: date
    reason: str | None


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
    status_history: list[StatusChangeOut]


@router.get("/referrals/{referral_id}", response_model=ReferralOut)
async def get_referral(referral_id: uuid.UUID, request: Request) -> ReferralOut:
    """A referral with every step of its lifecycle, from either side."""
    pool = request.app.state.runtime.pool
    row = await repository.referral(pool, referral_id)
    if row is None:
        raise Problem(404, "not-found", "No such referral")
    history = [
        StatusChangeOut(**dict(change)) for change in await repository.status_history(pool, referral_id)
    ]
    fields = {name: row[name] for name in ReferralOut.model_fields if name != "status_history"}
    return ReferralOut(**fields, status_history=history)


@router.post("/referrals/{referral_id}/withdraw", response_model=ReferralOut)
async def withdraw_referral(referral_id: uuid.UUID, body: WithdrawIn, request: Request) -> ReferralOut:
    """Withdraw (cancel) a referral; the provider sees it cancelled through the gateway."""
    pool = request.app.state.runtime.pool
    try:
        async with pool.acquire() as conn, conn.transaction():
            await handlers.withdraw_referral(conn, referral_id, body.reason, date.today())
    except handlers.ReferralNotFound:
        raise Problem(404, "not-found", "No such referral") from None
    except IllegalTransition as illegal:
        raise Problem(
            409,
            "illegal-transition",
            f"The referral is {illegal.current.value}",
            current_status=illegal.current.value,
        ) from None
    return await get_referral(referral_id, request)


@router.get("/tasks", response_model=list[TaskOut])
async def list_tasks(
    request: Request,
    task_status: Annotated[TaskStatus | None, Query(alias="status")] = None,
    citizen_ref: Annotated[str | None, Query(pattern=CITIZEN_REF_PATTERN)] = None,
    kind: TaskKind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TaskOut]:
    """Caseworker tasks, soonest due first."""
    rows = await repository.list_tasks(
        request.app.state.runtime.pool,
        status=task_status.value if task_status else None,
        citizen_ref=citizen_ref,
        kind=kind.value if kind else None,
        limit=limit,
    )
    return [_task_out(row) for row in rows]


@router.get("/tasks/{task_id}", response_model=TaskOut)
async def get_task(task_id: uuid.UUID, request: Request) -> TaskOut:
    row = await repository.get_task(request.app.state.runtime.pool, task_id)
    if row is None:
        raise Problem(404, "not-found", "No such task")
    return _task_out(row)
