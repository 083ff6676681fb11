"""The social service's internal HTTP API."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from samspil.runtime.auth import Caller, Role, caller_with
from samspil.runtime.http import problem_responses
from schemas.envelope import CITIZEN_REF_PATTERN

router = APIRouter(prefix="/v1", responses=problem_responses(400, 401, 403, 422))
SocialStaff = Annotated[Caller, Depends(caller_with(Role.SOCIAL_CASEWORKER, Role.SPECIALIST_UNIT))]


class TaskOut(BaseModel):
    task_id: uuid.UUID
    citizen_ref: str
    kind: str
    title: str
    status: str
    due_on: date
    details: dict[str, Any]
    created_at: datetime


@router.get("/tasks", response_model=list[TaskOut])
async def list_tasks(
    request: Request,
    caller: SocialStaff,
    citizen_ref: Annotated[str | None, Query(pattern=CITIZEN_REF_PATTERN)] = None,
    task_status: Annotated[Literal["open", "closed"] | None, Query(alias="status")] = None,
) -> list[TaskOut]:
    """The social caseworkers' tasks, soonest due first."""
    rows = await request.app.state.runtime.pool.fetch(
        "SELECT task_id, citizen_ref, kind, title, status, due_on, details, created_at FROM caseworker_task"
        " WHERE ($1::text IS NULL OR citizen_ref = $1) AND ($2::text IS NULL OR status = $2)"
        " ORDER BY due_on, created_at LIMIT 500",
        citizen_ref,
        task_status,
    )
    return [TaskOut(**{**dict(row), "details": json.loads(row["details"])}) for row in rows]
