"""Handlers of caseworker tasks and case notes: assign, close, assess an absence, write a note."""

from __future__ import annotations

import json

import asyncpg

from employment.adapters import cases, repository
from employment.domain.actor import Actor
from employment.domain.tasks import TaskKind, TaskStatus
from employment.service_layer.messages import PROVIDER_SHARE_BASIS, emit, log_share, provider_recipient
from employment.service_layer.plans import require_citizen
from employment.service_layer.task_actions import actions_for
from samspil.runtime.db import Connection
from samspil.runtime.errors import Conflict, Invalid, NotFound
from samspil.runtime.tasks import require_closable_by_hand, require_open
from schemas.commands import AddCaseNote, AssessAbsence, AssignTask, CloseTask
from schemas.common import Department
from schemas.decisions import AbsenceAction, AbsenceAssessed, ReportOutcome, ReportReceived
from schemas.envelope import Envelope


async def _task_of(conn: Connection, citizen_ref: str | None, task_id: object) -> asyncpg.Record:
    task = await repository.get_task(conn, task_id, lock=True)  # type: ignore[arg-type]
    if task is None or (citizen_ref is not None and task["citizen_ref"] != citizen_ref):
        raise NotFound("No such task", field="task_id")
    return task


async def assign_task(
    conn: Connection, command: AssignTask, actor: Actor, citizen_ref: str | None = None
) -> None:
    task = await _task_of(conn, citizen_ref, command.task_id)
    require_open(task["status"], "assigned")
    await repository.assign_task(conn, command.task_id, command.assignee)


async def close_task(
    conn: Connection, command: CloseTask, actor: Actor, citizen_ref: str | None = None
) -> None:
    task = await _task_of(conn, citizen_ref, command.task_id)
    require_open(task["status"], "closed again")
    require_closable_by_hand(
        actions_for(TaskKind(task["kind"]), task["task_id"], task["citizen_ref"], json.loads(task["details"]))
    )
    await repository.close_task(conn, command.task_id, actor.name, command.note, actor.team)
    submission_id = json.loads(task["details"]).get("submission_id")
    if submission_id is not None and task["referral_id"] is not None and task["provider_id"] is not None:
        # A task made for a provider's report (a progress review): the provider learns that the
        # jobcenter's work on it is done, which makes the submission final.
        completed = ReportReceived(
            submission_id=submission_id,
            referral_id=task["referral_id"],
            provider_id=task["provider_id"],
            department=Department.EMPLOYMENT,
            outcome=ReportOutcome.COMPLETED,
        )
        await emit(conn, completed, task["citizen_ref"])


async def assess_absence(
    conn: Connection, citizen_ref: str, command: AssessAbsence, actor: Actor, cause: Envelope | None = None
) -> None:
    """Close the re-contact task of an absence notice with the assessment; the provider learns
    whether the absence was acceptable and what the jobcenter did, not the internal note."""
    await require_citizen(conn, citizen_ref)
    notice = await repository.report(conn, command.submission_id)
    if notice is None or notice["citizen_ref"] != citizen_ref or notice["kind"] != "absence-notice":
        raise NotFound("No absence notice with this id for the citizen", field="submission_id")
    if command.action_taken is AbsenceAction.OTHER and not command.note_to_provider:
        raise Invalid("is required when action_taken is 'other'", field="note_to_provider")
    task = await repository.task_for_source(conn, notice["source_event_id"])
    if task is None or task["status"] != TaskStatus.OPEN.value:
        raise Conflict("The absence was already assessed", field="submission_id")
    assessment = {
        "acceptable": command.acceptable,
        "action_taken": command.action_taken.value,
        "note": command.note,
    }
    await conn.execute(
        "UPDATE caseworker_task SET details = details || jsonb_build_object('assessment', $2::jsonb)"
        " WHERE task_id = $1",
        task["task_id"],
        json.dumps(assessment),
    )
    await repository.close_task(conn, task["task_id"], actor.name, command.note, actor.team)
    assessed = AbsenceAssessed(
        submission_id=command.submission_id,
        referral_id=notice["referral_id"],
        provider_id=notice["provider_id"],
        acceptable=command.acceptable,
        action_taken=command.action_taken,
        note=command.note_to_provider,
    )
    envelope = await emit(conn, assessed, citizen_ref, cause)
    if command.note_to_provider:
        recipient = provider_recipient(notice["provider_id"])
        await log_share(conn, envelope, "absence-note", recipient, PROVIDER_SHARE_BASIS, actor.name)


async def add_case_note(
    conn: Connection, citizen_ref: str, command: AddCaseNote, actor: Actor
) -> asyncpg.Record:
    await require_citizen(conn, citizen_ref)
    return await cases.add_note(conn, citizen_ref, actor.name, command.text)
