"""SQL for the social database. Every function runs on the caller's connection, inside the
caller's transaction."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any, TypeAlias

import asyncpg

from samspil.runtime import audit
from samspil.runtime.db import Connection
from samspil.runtime.tasks import TaskFilters, TaskKey, task_page_query
from social.domain.tasks import NewTask

Reader: TypeAlias = "Connection | asyncpg.Pool"


async def insert_citizen(conn: Connection, citizen_ref: str, cpr: str, by: str) -> bool:
    inserted = await conn.fetchval(
        "INSERT INTO citizen (citizen_ref, cpr, enrolled_by) VALUES ($1, $2, $3)"
        " ON CONFLICT (citizen_ref) DO NOTHING RETURNING true",
        citizen_ref,
        cpr,
        by,
    )
    if inserted:
        await conn.execute(
            "INSERT INTO contact_lead (citizen_ref, lead, since) VALUES ($1, 'employment', current_date)"
            " ON CONFLICT DO NOTHING",
            citizen_ref,
        )
    return bool(inserted)


async def citizen_exists(conn: Reader, citizen_ref: str, *, lock: bool = False) -> bool:
    found = await conn.fetchval(
        "SELECT true FROM citizen WHERE citizen_ref = $1" + (" FOR UPDATE" if lock else ""), citizen_ref
    )
    return bool(found)


async def insert_task(
    conn: Connection,
    citizen_ref: str,
    task: NewTask,
    details: dict[str, Any],
    *,
    source_event_id: uuid.UUID | None = None,
) -> None:
    """A task for the social team; at most one per source event."""
    await conn.execute(
        "INSERT INTO caseworker_task (task_id, citizen_ref, kind, title, due_on, source_event_id, details)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT (source_event_id) DO NOTHING",
        uuid.uuid4(),
        citizen_ref,
        task.kind,
        task.title,
        task.due_on,
        source_event_id,
        json.dumps(details, default=str),
    )


async def close_tasks(conn: Connection, citizen_ref: str, kind: str, key: str, value: str, by: str) -> None:
    """Close the open tasks of a kind whose details name the given decision, dispute or handover."""
    await conn.execute(
        "UPDATE caseworker_task SET status = 'closed', closed_at = now(), closed_by = $5"
        " WHERE citizen_ref = $1 AND kind = $2 AND status = 'open' AND details->>$3 = $4",
        citizen_ref,
        kind,
        key,
        value,
        by,
    )


TASK_COLUMNS = (
    "task_id, citizen_ref, kind, title, status, due_on, assignee, details, created_at, closed_at,"
    " closed_by, close_note"
)


async def list_tasks(
    conn: Reader, filters: TaskFilters, after: TaskKey | None, limit: int
) -> list[asyncpg.Record]:
    """A page of tasks, soonest due first (``limit + 1`` rows, after the key ``after``)."""
    sql, args = task_page_query(TASK_COLUMNS, filters, after, limit)
    return await conn.fetch(sql, *args)


async def get_task(conn: Reader, task_id: uuid.UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {TASK_COLUMNS} FROM caseworker_task WHERE task_id = $1" + (" FOR UPDATE" if lock else ""),
        task_id,
    )


async def assign_task(conn: Connection, task_id: uuid.UUID, assignee: str) -> None:
    await conn.execute("UPDATE caseworker_task SET assignee = $2 WHERE task_id = $1", task_id, assignee)


async def close_task(conn: Connection, task_id: uuid.UUID, closed_by: str, note: str) -> None:
    await conn.execute(
        "UPDATE caseworker_task SET status = 'closed', closed_at = now(), closed_by = $2, close_note = $3"
        " WHERE task_id = $1",
        task_id,
        closed_by,
        note,
    )


async def notes(conn: Reader, citizen_ref: str, after: int, limit: int) -> list[dict[str, Any]]:
    """A page of the citizen's case notes, oldest first (``limit + 1`` rows, after note ``after``)."""
    return await rows(
        conn,
        "SELECT id, author, text, written_at FROM case_note WHERE citizen_ref = $1 AND id > $2"
        " ORDER BY id LIMIT $3",
        citizen_ref,
        after,
        limit + 1,
    )


async def disputes(
    conn: Reader, open_only: bool, today: date, after: tuple[date, uuid.UUID], limit: int
) -> list[dict[str, Any]]:
    """A page of disputes, the soonest deadline first, the dispute id breaking ties (``limit + 1``
    rows, after the key ``after``); ``overdue`` when open past its deadline on ``today``."""
    return await rows(
        conn,
        "SELECT dispute_id, decision_id, citizen_ref, raised_by, employment_position, social_position,"
        " rule_by, status, outcome, ruling, (status = 'open' AND rule_by < $2) AS overdue FROM dispute"
        " WHERE (NOT $1 OR status = 'open') AND (rule_by, dispute_id) > ($3, $4)"
        " ORDER BY rule_by, dispute_id LIMIT $5",
        open_only,
        today,
        after[0],
        after[1],
        limit + 1,
    )


async def report_of_task(conn: Connection, task_id: uuid.UUID) -> asyncpg.Record | None:
    """The provider's report a task was made for (submission, referral, provider), if any."""
    return await conn.fetchrow(
        "SELECT r.submission_id, r.referral_id, r.provider_id FROM caseworker_task t"
        " JOIN provider_report r USING (submission_id) WHERE t.task_id = $1",
        task_id,
    )


async def close_report_tasks(conn: Connection, citizen_ref: str, kind: str, by: str) -> list[asyncpg.Record]:
    """Close the citizen's open tasks of a kind made for providers' reports; the reports they
    were for (submission, referral, provider)."""
    return await conn.fetch(
        "WITH closed AS ("
        " UPDATE caseworker_task SET status = 'closed', closed_at = now(), closed_by = $3"
        " WHERE citizen_ref = $1 AND kind = $2 AND status = 'open' AND submission_id IS NOT NULL"
        " RETURNING submission_id)"
        " SELECT r.submission_id, r.referral_id, r.provider_id FROM closed"
        " JOIN provider_report r USING (submission_id) ORDER BY r.submission_id",
        citizen_ref,
        kind,
        by,
    )


# -- social plan --------------------------------------------------------------------------------


async def current_plan_version(conn: Reader, citizen_ref: str) -> int:
    version: int = await conn.fetchval(
        "SELECT coalesce(max(version), 0) FROM social_plan_version WHERE citizen_ref = $1", citizen_ref
    )
    return version


async def insert_plan_version(
    conn: Connection,
    citizen_ref: str,
    version: int,
    goal: str,
    measures: list[dict[str, Any]],
    capacity: float | None,
    by: str,
) -> None:
    await conn.execute(
        "INSERT INTO social_plan_version (citizen_ref, version, goal, measures, weekly_capacity_hours,"
        " revised_by) VALUES ($1, $2, $3, $4::jsonb, $5, $6)",
        citizen_ref,
        version,
        goal,
        json.dumps(measures),
        capacity,
        by,
    )


async def plan_version(conn: Reader, citizen_ref: str, version: int | None = None) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT version, goal, measures, weekly_capacity_hours, revised_by, revised_at"
        " FROM social_plan_version"
        " WHERE citizen_ref = $1 AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1",
        citizen_ref,
        version,
    )


# -- shares ------------------------------------------------------------------------------------


# Shares are logged by the runtime's audit module, in the chained audit.share_log.
log_share = audit.log_share


async def rows(conn: Reader, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows as plain dicts, with JSON columns decoded."""
    found = await conn.fetch(sql, *args)
    return [
        {
            key: json.loads(value) if key in _JSON_COLUMNS and isinstance(value, str) else value
            for key, value in row.items()
        }
        for row in found
    ]


_JSON_COLUMNS = {"measures", "activities", "details"}
