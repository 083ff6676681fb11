"""SQL for the employment database. Every function runs on the caller's connection, inside
the caller's transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from employment.domain.tasks import NewTask
from samspil.runtime import audit
from samspil.runtime.db import Connection
from samspil.runtime.tasks import TaskFilters, TaskKey, task_page_query
from schemas.envelope import Envelope
from schemas.provider_reports import ProviderReport
from schemas.referrals import CLOSED_STATUSES, ReferralRequested

_TASK_COLUMNS = (
    "task_id, citizen_ref, kind, title, status, due_on, referral_id, provider_id,"
    " source_event_id, details, created_at, closed_at, assignee, closed_by, close_note"
)


async def insert_referral(
    conn: Connection,
    citizen_ref: str,
    referral: ReferralRequested,
    reporting_interval_days: int,
) -> bool:
    """Store the referral with its reporting interval; False when one with its id exists."""
    offer = referral.offer
    inserted = await conn.fetchval(
        "INSERT INTO referral (referral_id, citizen_ref, provider_id, offer_kind, offer_title,"
        " hours_per_week, starts_on, expected_end_on, citizen_display_name, reporting_interval_days)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
        " ON CONFLICT (referral_id) DO NOTHING RETURNING true",
        referral.referral_id,
        citizen_ref,
        referral.provider_id,
        offer.kind.value,
        offer.title,
        offer.hours_per_week,
        offer.starts_on,
        offer.expected_end_on,
        referral.citizen_display_name,
        reporting_interval_days,
    )
    return bool(inserted)


async def referral(
    conn: Connection | asyncpg.Pool, referral_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT referral_id, citizen_ref, provider_id, offer_kind, offer_title, hours_per_week, starts_on,"
        " expected_end_on, citizen_display_name, status, created_at, reporting_interval_days,"
        " progress_report_due_on, progress_report_overdue_since FROM referral WHERE referral_id = $1"
        + (" FOR UPDATE" if lock else ""),
        referral_id,
    )


async def set_referral_status(
    conn: Connection,
    referral_id: uuid.UUID,
    status: str,
    *,
    changed_by: str,
    occurred_on: date,
    reason: str | None,
    reason_category: str | None = None,
    outcome_category: str | None = None,
    source_event_id: uuid.UUID | None = None,
) -> None:
    """A step in the referral's status history. ``reason_category`` is a ReasonCategory only
    (earlier versions read it strictly so): a completion's category goes in ``outcome_category``."""
    # A closed referral awaits no progress report: the scheduler stops looking at it.
    await conn.execute(
        "UPDATE referral SET status = $2,"
        " progress_alarm_on = CASE WHEN $2 = ANY($3::text[]) THEN NULL ELSE progress_alarm_on END"
        " WHERE referral_id = $1",
        referral_id,
        status,
        sorted(CLOSED_STATUSES),
    )
    await conn.execute(
        "INSERT INTO referral_status_change"
        " (referral_id, status, changed_by, occurred_on, reason, reason_category, outcome_category,"
        " source_event_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        referral_id,
        status,
        changed_by,
        occurred_on,
        reason,
        reason_category,
        outcome_category,
        source_event_id,
    )


async def status_history(conn: Connection | asyncpg.Pool, referral_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT status, changed_by, occurred_on, reason, reason_category, outcome_category"
        " FROM referral_status_change WHERE referral_id = $1 ORDER BY id",
        referral_id,
    )


async def insert_task_once(
    conn: Connection,
    task: NewTask,
    *,
    citizen_ref: str,
    referral_id: uuid.UUID | None,
    provider_id: str | None,
    source_event_id: uuid.UUID,
    source_time: datetime,
    details: dict[str, Any],
) -> uuid.UUID | None:
    """Insert the task unless one already exists for the same source event."""
    task_id: uuid.UUID | None = await conn.fetchval(
        "INSERT INTO caseworker_task (task_id, citizen_ref, kind, title, due_on, referral_id,"
        " provider_id, source_event_id, source_time, details)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10::jsonb)"
        " ON CONFLICT (source_event_id) DO NOTHING RETURNING task_id",
        uuid.uuid4(),
        citizen_ref,
        task.kind.value,
        task.title,
        task.due_on,
        referral_id,
        provider_id,
        source_event_id,
        source_time,
        json.dumps(details, default=str),
    )
    return task_id


async def insert_tasks_once(conn: Connection, tasks: Sequence[SourcedTask]) -> dict[uuid.UUID, uuid.UUID]:
    """:func:`insert_task_once` for many tasks in one statement, in order; the new tasks' ids by
    their source event id."""
    if not tasks:
        return {}
    rows = await conn.fetch(
        "INSERT INTO caseworker_task (task_id, citizen_ref, kind, title, due_on, referral_id,"
        " provider_id, source_event_id, source_time, details)"
        " SELECT task_id, citizen_ref, kind, title, due_on, referral_id, provider_id, source_event_id,"
        " source_time, details::jsonb"
        " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::date[], $6::uuid[], $7::text[],"
        " $8::uuid[], $9::timestamptz[], $10::text[]) WITH ORDINALITY AS task(task_id, citizen_ref, kind,"
        " title, due_on, referral_id, provider_id, source_event_id, source_time, details, ordinality)"
        " ORDER BY ordinality"
        " ON CONFLICT (source_event_id) DO NOTHING RETURNING task_id, source_event_id",
        [uuid.uuid4() for _ in tasks],
        [t.citizen_ref for t in tasks],
        [t.task.kind.value for t in tasks],
        [t.task.title for t in tasks],
        [t.task.due_on for t in tasks],
        [t.referral_id for t in tasks],
        [t.provider_id for t in tasks],
        [t.source_event_id for t in tasks],
        [t.source_time for t in tasks],
        [json.dumps(t.details, default=str) for t in tasks],
    )
    return {row["source_event_id"]: row["task_id"] for row in rows}


@dataclass(frozen=True)
class SourcedTask:
    """A task to insert, with where it came from (the arguments of :func:`insert_task_once`)."""

    task: NewTask
    citizen_ref: str
    referral_id: uuid.UUID | None
    provider_id: str | None
    source_event_id: uuid.UUID
    source_time: datetime
    details: dict[str, Any]


async def record_reports(
    conn: Connection, reports: Sequence[tuple[uuid.UUID, str, str, ProviderReport]]
) -> set[uuid.UUID]:
    """:func:`record_report` for many ``(envelope id, citizen_ref, kind, report)`` in one
    statement, in order; the envelope ids of those not already there (of two with the same
    submission id, the first)."""
    if not reports:
        return set()
    rows = await conn.fetch(
        "INSERT INTO provider_report (submission_id, kind, citizen_ref, referral_id, provider_id,"
        " source_event_id, details)"
        " SELECT submission_id, kind, citizen_ref, referral_id, provider_id, source_event_id, details::jsonb"
        " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::uuid[], $7::text[])"
        " WITH ORDINALITY AS report(submission_id, kind, citizen_ref, referral_id, provider_id,"
        " source_event_id, details, ordinality)"
        " ORDER BY ordinality"
        " ON CONFLICT (submission_id) DO NOTHING RETURNING source_event_id",
        [report.submission_id for _, _, _, report in reports],
        [kind for _, _, kind, _ in reports],
        [citizen_ref for _, citizen_ref, _, _ in reports],
        [report.referral_id for _, _, _, report in reports],
        [report.provider_id for _, _, _, report in reports],
        [envelope_id for envelope_id, _, _, _ in reports],
        [
            report.model_dump_json(exclude={"submission_id", "referral_id", "provider_id"})
            for *_, report in reports
        ],
    )
    return {row["source_event_id"] for row in rows}


async def record_report(
    conn: Connection, envelope_id: uuid.UUID, citizen_ref: str, kind: str, report: ProviderReport
) -> bool:
    """Keep the report in the case history; False if it was already there."""
    inserted = await conn.fetchval(
        "INSERT INTO provider_report (submission_id, kind, citizen_ref, referral_id, provider_id,"
        " source_event_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)"
        " ON CONFLICT (submission_id) DO NOTHING RETURNING true",
        report.submission_id,
        kind,
        citizen_ref,
        report.referral_id,
        report.provider_id,
        envelope_id,
        report.model_dump_json(exclude={"submission_id", "referral_id", "provider_id"}),
    )
    return bool(inserted)


async def report(conn: Connection | asyncpg.Pool, submission_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT submission_id, kind, citizen_ref, referral_id, provider_id, source_event_id,"
        " details->>'target_plan' AS target_plan FROM provider_report WHERE submission_id = $1",
        submission_id,
    )


async def close_task_for_source(
    conn: Connection, source_event_id: uuid.UUID, *, closed_by: str, note: str
) -> uuid.UUID | None:
    """Close the open task a report made; None when there is none open."""
    task_id: uuid.UUID | None = await conn.fetchval(
        "UPDATE caseworker_task SET status = 'closed', closed_at = clock_timestamp(), closed_by = $2,"
        " close_note = $3 WHERE source_event_id = $1 AND status = 'open' RETURNING task_id",
        source_event_id,
        closed_by,
        note,
    )
    return task_id


async def close_tasks_about(
    conn: Connection, kind: str, key: str, value: str, *, closed_by: str, note: str
) -> None:
    """Close the open tasks of a kind whose details name the given decision or dispute."""
    await conn.execute(
        "UPDATE caseworker_task SET status = 'closed', closed_at = clock_timestamp(), closed_by = $4,"
        " close_note = $5 WHERE kind = $1 AND status = 'open' AND details->>$2 = $3",
        kind,
        key,
        value,
        closed_by,
        note,
    )


async def insert_task_for_event(
    conn: Connection, task: NewTask, envelope: Envelope, details: dict[str, Any]
) -> uuid.UUID | None:
    """A task made from another department's event, at most one per event."""
    return await insert_task_once(
        conn,
        task,
        citizen_ref=envelope.subject,
        referral_id=None,
        provider_id=None,
        source_event_id=envelope.id,
        source_time=envelope.time,
        details=details,
    )


async def task_for_source(conn: Connection, source_event_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_TASK_COLUMNS} FROM caseworker_task WHERE source_event_id = $1 FOR UPDATE", source_event_id
    )


async def assign_task(conn: Connection, task_id: uuid.UUID, assignee: str) -> None:
    await conn.execute("UPDATE caseworker_task SET assignee = $2 WHERE task_id = $1", task_id, assignee)


async def close_task(
    conn: Connection, task_id: uuid.UUID, closed_by: str, note: str, team: str | None = None
) -> None:
    await conn.execute(
        "UPDATE caseworker_task SET status = 'closed', closed_at = clock_timestamp(), closed_by = $2,"
        " close_note = $3, closed_by_team = $4 WHERE task_id = $1",
        task_id,
        closed_by,
        note,
        team,
    )


async def reports_for_citizen(
    conn: Connection | asyncpg.Pool, citizen_ref: str, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """A page of the citizen's case history, oldest first, the submission id breaking ties
    (``limit + 1`` rows, after the key ``after``)."""
    after_at, after_id = after or (datetime.min.replace(tzinfo=UTC), uuid.UUID(int=0))
    return await conn.fetch(
        "SELECT submission_id, kind, referral_id, provider_id, details, received_at FROM provider_report"
        " WHERE citizen_ref = $1 AND (received_at, submission_id) > ($2, $3)"
        " ORDER BY received_at, submission_id LIMIT $4",
        citizen_ref,
        after_at,
        after_id,
        limit + 1,
    )


async def list_tasks(
    conn: Connection | asyncpg.Pool, filters: TaskFilters, after: TaskKey | None, limit: int
) -> list[asyncpg.Record]:
    """A page of tasks, soonest due first (``limit + 1`` rows, after the key ``after``)."""
    sql, args = task_page_query(_TASK_COLUMNS, filters, after, limit)
    return await conn.fetch(sql, *args)


async def get_task(
    conn: Connection | asyncpg.Pool, task_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_TASK_COLUMNS} FROM caseworker_task WHERE task_id = $1" + (" FOR UPDATE" if lock else ""),
        task_id,
    )


def is_overdue(row: asyncpg.Record, today: date) -> bool:
    return bool(row["status"] == "open" and row["due_on"] < today)


# Shares are logged by the runtime's audit module, in the chained audit.share_log.
log_share = audit.log_share
