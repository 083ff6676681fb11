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


# -- consent and shares -------------------------------------------------------------------------


async def active_consent(
    conn: Reader, citizen_ref: str, information: str, to_department: str, today: date
) -> uuid.UUID | None:
    consent_id: uuid.UUID | None = await conn.fetchval(
        "SELECT consent_id FROM consent WHERE citizen_ref = $1 AND information = $2 AND to_department = $3"
        " AND withdrawn_on IS NULL AND given_on <= $4 AND expires_on > $4 ORDER BY given_on DESC LIMIT 1",
        citizen_ref,
        information,
        to_department,
        today,
    )
    return consent_id


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
