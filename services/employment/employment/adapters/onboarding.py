"""Set-wise SQL for bulk onboarding: the same rows the enrolment and job-plan handlers write one
at a time (cases.py), for a chunk of citizens in a few statements, and the import run that
remembers how far a file got. Every function runs inside the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from samspil.runtime.db import Connection


@dataclass(frozen=True)
class NewCitizen:
    citizen_ref: str
    cpr: str
    target_group: str
    profile_tags: Sequence[str]
    enrolled_on: date


@dataclass(frozen=True)
class CurrentPlan:
    version: int
    goal: str
    activities: list[dict[str, Any]]


async def lock_enrolled(conn: Connection, cprs: Sequence[str]) -> dict[str, str]:
    """The citizen reference of each CPR number already enrolled, its row locked as the
    enrolment handler locks it (in reference order, so two chunks cannot deadlock)."""
    if not cprs:
        return {}
    rows = await conn.fetch(
        "SELECT cpr, citizen_ref FROM citizen WHERE cpr = ANY($1::text[]) ORDER BY citizen_ref FOR UPDATE",
        list(cprs),
    )
    return {row["cpr"]: row["citizen_ref"] for row in rows}


async def insert_citizens(conn: Connection, citizens: Sequence[NewCitizen], enrolled_by: str) -> set[str]:
    """Enrol the citizens; returns the references inserted (one enrolled meanwhile is not)."""
    if not citizens:
        return set()
    rows = await conn.fetch(
        "INSERT INTO citizen (citizen_ref, cpr, target_group, profile_tags, enrolled_on, enrolled_by)"
        " SELECT r, c, t, coalesce(string_to_array(g, ','), '{}'), d, $6"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[]) AS u(r, c, t, g, d)"
        " ON CONFLICT DO NOTHING RETURNING citizen_ref",
        [c.citizen_ref for c in citizens],
        [c.cpr for c in citizens],
        [c.target_group for c in citizens],
        [",".join(c.profile_tags) for c in citizens],
        [c.enrolled_on for c in citizens],
        enrolled_by,
    )
    return {row["citizen_ref"] for row in rows}


async def update_profiles(conn: Connection, profiles: Sequence[tuple[str, str, Sequence[str]]]) -> None:
    """(reference, target group, tags) for citizens enrolled again: the profile is replaced."""
    if not profiles:
        return
    # The citizens named by `= ANY($1)` as well as joined to the list: the statement's generic
    # plan, made while an import's first chunks ran on a table still nearly empty and never
    # analysed, would otherwise join the list to a reading of the whole table as it grows.
    await conn.execute(
        "UPDATE citizen SET target_group = u.t, profile_tags = coalesce(string_to_array(u.g, ','), '{}')"
        " FROM unnest($1::text[], $2::text[], $3::text[]) AS u(r, t, g)"
        " WHERE citizen.citizen_ref = u.r AND citizen.citizen_ref = ANY($1::text[])",
        [ref for ref, _, _ in profiles],
        [group for _, group, _ in profiles],
        [",".join(tags) for _, _, tags in profiles],
    )


async def insert_new_courses(
    conn: Connection, courses: Sequence[tuple[str, date, int, str, date | None]]
) -> None:
    """(reference, started on, cadence, lead, next alarm on) of each new citizen's contact
    course, unless the social department started one already."""
    if not courses:
        return
    await conn.execute(
        "INSERT INTO contact_course (citizen_ref, started_on, cadence_months, lead_department, next_alarm_on)"
        " SELECT * FROM unnest($1::text[], $2::date[], $3::int[], $4::text[], $5::date[])"
        " ON CONFLICT (citizen_ref) DO NOTHING",
        *(list(column) for column in zip(*courses, strict=True)),
    )


async def current_plans(conn: Connection, citizen_refs: Sequence[str]) -> dict[str, CurrentPlan]:
    if not citizen_refs:
        return {}
    rows = await conn.fetch(
        "SELECT DISTINCT ON (citizen_ref) citizen_ref, version, goal, activities FROM job_plan_version"
        " WHERE citizen_ref = ANY($1::text[]) ORDER BY citizen_ref, version DESC",
        list(citizen_refs),
    )
    return {
        row["citizen_ref"]: CurrentPlan(row["version"], row["goal"], json.loads(row["activities"]))
        for row in rows
    }


async def insert_plans(
    conn: Connection, plans: Sequence[tuple[str, int, str, list[dict[str, Any]]]], revised_by: str
) -> None:
    """(reference, version, goal, activities) of each new job-plan version."""
    if not plans:
        return
    await conn.execute(
        "INSERT INTO job_plan_version (citizen_ref, version, goal, activities, revised_by)"
        " SELECT r, v, g, a::jsonb, $5 FROM unnest($1::text[], $2::int[], $3::text[], $4::text[])"
        " AS u(r, v, g, a)",
        [ref for ref, _, _, _ in plans],
        [version for _, version, _, _ in plans],
        [goal for _, _, goal, _ in plans],
        [json.dumps(activities) for _, _, _, activities in plans],
        revised_by,
    )


async def with_social_summary(conn: Connection, citizen_refs: Sequence[str]) -> list[str]:
    """Those of the citizens whose social plan summary the jobcenter holds."""
    rows = await conn.fetch(
        "SELECT citizen_ref FROM social_plan_summary WHERE citizen_ref = ANY($1::text[])"
        " ORDER BY citizen_ref",
        list(citizen_refs),
    )
    return [row["citizen_ref"] for row in rows]


# -- the import run ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRun:
    file_sha256: str
    started_by: str
    started_at: datetime
    finished_at: datetime | None
    last_line: int
    enrolled: int
    already_enrolled: int
    plans_made: int
    refused: int


_RUN_COLUMNS = (
    "file_sha256, started_by, started_at, finished_at, last_line, enrolled, already_enrolled,"
    " plans_made, refused"
)


async def lock_file(conn: Connection, file_sha256: str) -> bool:
    """Hold the file for this session: False when another import of it is running."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock(7310012, hashtext($1))", file_sha256))


async def start_run(conn: Connection, file_sha256: str, file_name: str, started_by: str) -> ImportRun:
    """The file's run: a new one, or the one an earlier import of the same file left."""
    await conn.execute(
        "INSERT INTO import_run (file_sha256, file_name, started_by) VALUES ($1, $2, $3)"
        " ON CONFLICT (file_sha256) DO NOTHING",
        file_sha256,
        file_name,
        started_by,
    )
    return await run(conn, file_sha256)


async def run(conn: Connection | asyncpg.Pool, file_sha256: str) -> ImportRun:
    row = await conn.fetchrow(f"SELECT {_RUN_COLUMNS} FROM import_run WHERE file_sha256 = $1", file_sha256)
    assert row is not None, "the run is started first"
    return ImportRun(**dict(row))


async def record_chunk(
    conn: Connection,
    file_sha256: str,
    last_line: int,
    counts: tuple[int, int, int, int],
    refusals: Sequence[tuple[int, str]],
) -> None:
    """In the chunk's transaction: how far the file got, the counts (enrolled, already
    enrolled, plans made, refused) to add, and the chunk's refused lines with their reasons."""
    if refusals:
        await conn.execute(
            "INSERT INTO import_refusal (file_sha256, line, reason)"
            " SELECT $1, * FROM unnest($2::int[], $3::text[]) ON CONFLICT DO NOTHING",
            file_sha256,
            [line for line, _ in refusals],
            [reason for _, reason in refusals],
        )
    await conn.execute(
        "UPDATE import_run SET last_line = $2, enrolled = enrolled + $3,"
        " already_enrolled = already_enrolled + $4, plans_made = plans_made + $5, refused = refused + $6,"
        " updated_at = clock_timestamp() WHERE file_sha256 = $1",
        file_sha256,
        last_line,
        *counts,
    )


async def finish_run(conn: Connection, file_sha256: str) -> None:
    await conn.execute(
        "UPDATE import_run SET finished_at = clock_timestamp(), updated_at = clock_timestamp()"
        " WHERE file_sha256 = $1 AND finished_at IS NULL",
        file_sha256,
    )


async def refusals(conn: Connection, file_sha256: str) -> list[tuple[int, str]]:
    rows = await conn.fetch(
        "SELECT line, reason FROM import_refusal WHERE file_sha256 = $1 ORDER BY line", file_sha256
    )
    return [(row["line"], row["reason"]) for row in rows]
