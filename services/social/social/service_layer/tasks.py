"""The social team's tasks: assign one, close one that needs no decision of its own (the same
rules as the jobcenter's tasks, from samspil.runtime.tasks)."""

from __future__ import annotations

import json
import uuid

import asyncpg

from samspil.runtime.db import Connection
from samspil.runtime.errors import NotFound
from samspil.runtime.tasks import require_closable_by_hand, require_open
from schemas.common import Department
from schemas.decisions import ReportOutcome, ReportReceived
from social.adapters import repository
from social.domain.tasks import TaskKind
from social.service_layer.messages import Actor, emit
from social.service_layer.task_actions import actions_for


async def _task_of(conn: Connection, task_id: uuid.UUID) -> asyncpg.Record:
    task = await repository.get_task(conn, task_id, lock=True)
    if task is None:
        raise NotFound("No such task", field="task_id")
    return task


async def assign_task(conn: Connection, task_id: uuid.UUID, assignee: str) -> None:
    task = await _task_of(conn, task_id)
    require_open(task["status"], "assigned")
    await repository.assign_task(conn, task_id, assignee)


async def close_task(conn: Connection, task_id: uuid.UUID, note: str, actor: Actor) -> None:
    """Close a task by hand; a task bound to a decision or ruling is closed by it (409 here)."""
    task = await _task_of(conn, task_id)
    require_open(task["status"], "closed again")
    require_closable_by_hand(
        actions_for(TaskKind(task["kind"]), task["task_id"], task["citizen_ref"], json.loads(task["details"]))
    )
    await repository.close_task(conn, task_id, actor.name, note)
    report = await repository.report_of_task(conn, task_id)
    if report is not None:
        # As when an assessment closes it: the provider learns that the social department's
        # work on its report is done, which makes the submission final.
        completed = ReportReceived(
            submission_id=report["submission_id"],
            referral_id=report["referral_id"],
            provider_id=report["provider_id"],
            department=Department.SOCIAL,
            outcome=ReportOutcome.COMPLETED,
        )
        await emit(conn, completed, task["citizen_ref"])
