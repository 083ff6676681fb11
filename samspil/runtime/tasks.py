"""Caseworker tasks, as both departments keep them: what completes a task, the rule that a task
bound to a decision closes by that decision and not by hand, and the paged task list.

Each department's ``caseworker_task`` table has the same core columns (task_id, citizen_ref,
kind, title, status, due_on, assignee, details, created_at, closed_at, closed_by, close_note).
A task says which actions complete it (:class:`TaskAction`: method, path with its ids filled
in, the body's OpenAPI schema name and the body values the task already knows), so a case
system completes any task knowing only its id. A task that offers no ``close`` action is bound
to a decision: it closes when the decision is made, never by hand."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from samspil.runtime.errors import Conflict

CLOSE = "close"


class TaskAction(BaseModel):
    """One way to complete a task: send ``method`` to ``path`` with a body of ``body_schema``
    that carries the values in ``body`` as given (the ids the task is about)."""

    name: str = Field(description="What the action does, e.g. 'assess-absence', 'accept', 'close'.")
    method: Literal["POST"] = "POST"
    path: str = Field(description="The path to call, with every id filled in.")
    body_schema: str = Field(description="The OpenAPI schema name (components/schemas) of the body.")
    body: dict[str, Any] = Field(
        default_factory=dict, description="Body fields the task already knows: send them as given."
    )
    description: str


def close_action(
    task_id: uuid.UUID, why: str = "Close the task once it is done; a note says what was done."
) -> TaskAction:
    """The action of a task that needs nothing but closing (with a note)."""
    return TaskAction(name=CLOSE, path=f"/v1/tasks/{task_id}/close", body_schema="CloseIn", description=why)


def require_open(status: str, doing: str) -> None:
    """Only an open task is assigned or closed: 409 with its status otherwise."""
    if status != "open":
        raise Conflict(f"The task is {status}: it cannot be {doing}", field="task_id", current_status=status)


def require_closable_by_hand(actions: Sequence[TaskAction]) -> None:
    """A task bound to a decision closes by its decision: 409 naming the actions that do."""
    if any(action.name == CLOSE for action in actions):
        return
    how = "; ".join(f"{action.name} ({action.method} {action.path})" for action in actions)
    raise Conflict(f"This task is closed by its decision: {how}", field="task_id")


# -- the paged list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskFilters:
    """GET /v1/tasks's filters; ``overdue_on`` keeps the tasks open and overdue on that day."""

    status: str | None = None
    citizen_ref: str | None = None
    kind: str | None = None
    assignee: str | None = None
    overdue_on: date | None = None


TaskKey = tuple[date, datetime, uuid.UUID]


def task_key(row: Any) -> list[str]:
    """The list's sort key, soonest due first, the task id breaking ties: stable and unique."""
    return [row["due_on"].isoformat(), row["created_at"].isoformat(), str(row["task_id"])]


def parse_task_key(raw: list[Any]) -> TaskKey:
    """The key in a task list's cursor (ValueError or TypeError when it is none)."""
    due_on, created_at, task_id = raw
    if datetime.fromisoformat(created_at).tzinfo is None:
        raise ValueError("a task's created_at has a time zone")
    return date.fromisoformat(due_on), datetime.fromisoformat(created_at), uuid.UUID(str(task_id))


def task_page_query(
    columns: str, filters: TaskFilters, after: TaskKey | None, limit: int
) -> tuple[str, list[Any]]:
    """The SELECT of one page of tasks and its arguments (``limit + 1`` rows: the extra one tells
    that a next page exists). Only the filters given are in the statement, so the planner can
    use the index that fits them: (citizen_ref, ...), (assignee, ...), or the open tasks'."""
    where: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if filters.overdue_on is not None:
        where.append(f"status = 'open' AND due_on < {arg(filters.overdue_on)}")
    if filters.status is not None:
        where.append(f"status = {arg(filters.status)}")
    if filters.citizen_ref is not None:
        where.append(f"citizen_ref = {arg(filters.citizen_ref)}")
    if filters.kind is not None:
        where.append(f"kind = {arg(filters.kind)}")
    if filters.assignee is not None:
        where.append(f"assignee = {arg(filters.assignee)}")
    if after is not None:
        due_on, created_at, task_id = after
        where.append(f"(due_on, created_at, task_id) > ({arg(due_on)}, {arg(created_at)}, {arg(task_id)})")
    sql = f"SELECT {columns} FROM caseworker_task"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY due_on, created_at, task_id LIMIT {arg(limit + 1)}"
    return sql, args
