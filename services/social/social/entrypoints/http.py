"""The social service's internal HTTP API: the social team's tasks, worked as the jobcenter's are
(listed with the same filters, assigned, closed unless bound to a decision)."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from samspil.runtime.auth import Caller, Role, caller_with
from samspil.runtime.errors import NotFound
from samspil.runtime.http import problem_responses, unit_of_work
from samspil.runtime.idempotency import KeyedRoute, reads
from samspil.runtime.paging import Cursor, Limit, Page, page_of, read_cursor
from samspil.runtime.tasks import TaskAction, TaskFilters, parse_task_key, task_key
from schemas.common import LongText, Name, Strict
from schemas.envelope import CITIZEN_REF_PATTERN
from social.adapters import repository
from social.domain.tasks import TaskKind, TaskStatus
from social.service_layer import tasks
from social.service_layer.messages import Actor, danish_today
from social.service_layer.task_actions import actions_for

router = APIRouter(
    prefix="/v1", responses=problem_responses(400, 401, 403, 404, 409, 422), route_class=KeyedRoute
)
# Reading the team's tasks is open to the joint specialist unit too; working them (assigning,
# closing: e.g. waiving the team's objection) is the social caseworkers' alone.
SocialStaff = Annotated[Caller, Depends(caller_with(Role.SOCIAL_CASEWORKER, Role.SPECIALIST_UNIT))]
Caseworker = Annotated[Caller, Depends(caller_with(Role.SOCIAL_CASEWORKER))]


class TaskOut(BaseModel):
    task_id: uuid.UUID
    citizen_ref: str
    kind: TaskKind
    title: str
    status: TaskStatus
    due_on: date
    overdue: bool
    assignee: str | None
    details: dict[str, Any]
    created_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    close_note: str | None
    actions: list[TaskAction] = Field(
        description="The calls that complete the task (ids filled in); without a 'close' action the "
        "task is bound to its decision or ruling and closes only by it."
    )


class TaskPage(Page[TaskOut]):
    """A page of the social team's tasks, soonest due first."""


def _task_out(row: Any) -> TaskOut:
    details = json.loads(row["details"])
    plain = ("overdue", "details", "actions")
    return TaskOut(
        **{name: row[name] for name in TaskOut.model_fields if name not in plain},
        overdue=row["status"] == TaskStatus.OPEN and row["due_on"] < danish_today(),
        details=details,
        actions=actions_for(TaskKind(row["kind"]), row["task_id"], row["citizen_ref"], details),
    )


@router.get("/tasks", response_model=TaskPage)
async def list_tasks(
    request: Request,
    caller: SocialStaff,
    task_status: Annotated[TaskStatus | None, Query(alias="status")] = None,
    citizen_ref: Annotated[str | None, Query(pattern=CITIZEN_REF_PATTERN)] = None,
    kind: TaskKind | None = None,
    assignee: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    overdue: Annotated[bool, Query(description="Only open tasks past their due date.")] = False,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> TaskPage:
    """The social team's tasks, soonest due first, a page at a time."""
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
async def get_task(task_id: uuid.UUID, request: Request, caller: SocialStaff) -> TaskOut:
    row = await repository.get_task(reads(request), task_id)  # a keyed POST's own change too
    if row is None:
        raise NotFound("No such task", field="task_id")
    return _task_out(row)


class AssignIn(Strict):
    assignee: Name


@router.post("/tasks/{task_id}/assign", response_model=TaskOut)
async def assign_task(task_id: uuid.UUID, body: AssignIn, request: Request, caller: Caseworker) -> TaskOut:
    """Assign the task to a caseworker."""
    async with unit_of_work(request) as conn:
        await tasks.assign_task(conn, task_id, body.assignee)
    return await get_task(task_id, request, caller)


class CloseIn(Strict):
    note: LongText


@router.post("/tasks/{task_id}/close", response_model=TaskOut)
async def close_task(task_id: uuid.UUID, body: CloseIn, request: Request, caller: Caseworker) -> TaskOut:
    """Close a task that needs no decision of its own; a task bound to a decision or ruling is
    closed by it (409 here, naming the actions that do)."""
    async with unit_of_work(request) as conn:
        await tasks.close_task(
            conn, task_id, body.note, Actor(name=caller.name or caller.subject, team=caller.team)
        )
    return await get_task(task_id, request, caller)
