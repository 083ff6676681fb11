"""SQL for citizens, their contact course, job plan, notes and the social plan summary. Every
function runs on the caller's connection, inside the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any, TypeAlias

import asyncpg

from employment.domain.contact_course import Course, Lead
from samspil.runtime.db import Connection
from samspil.runtime.errors import Conflict

Reader: TypeAlias = "Connection | asyncpg.Pool"


async def insert_citizen(
    conn: Connection,
    citizen_ref: str,
    cpr: str,
    target_group: str,
    profile_tags: Sequence[str],
    enrolled_on: date,
    enrolled_by: str,
) -> bool:
    """Enrol a citizen; False when already enrolled (same CPR number, same reference)."""
    known_as = await conn.fetchval("SELECT citizen_ref FROM citizen WHERE cpr = $1 FOR UPDATE", cpr)
    if known_as is not None and known_as != citizen_ref:
        raise Conflict(
            "The citizen is enrolled under a reference made with another key",
            field="cpr",
            citizen_ref=known_as,
        )
    inserted = await conn.fetchval(
        "INSERT INTO citizen (citizen_ref, cpr, target_group, profile_tags, enrolled_on, enrolled_by)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
        citizen_ref,
        cpr,
        target_group,
        list(profile_tags),
        enrolled_on,
        enrolled_by,
    )
    if (
        not inserted
        and await conn.fetchval("SELECT citizen_ref FROM citizen WHERE cpr = $1", cpr) != citizen_ref
    ):
        # Another request enrolled the same CPR number under another key at the same moment.
        raise Conflict("The citizen is enrolled under a reference made with another key", field="cpr")
    return bool(inserted)


async def update_profile(conn: Connection, citizen_ref: str, target_group: str, tags: Sequence[str]) -> None:
    await conn.execute(
        "UPDATE citizen SET target_group = $2, profile_tags = $3 WHERE citizen_ref = $1",
        citizen_ref,
        target_group,
        list(tags),
    )


async def citizen(conn: Reader, citizen_ref: str, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT citizen_ref, target_group, profile_tags, enrolled_on FROM citizen WHERE citizen_ref = $1"
        + (" FOR UPDATE" if lock else ""),
        citizen_ref,
    )


async def cpr_of(conn: Reader, citizen_ref: str) -> str | None:
    cpr: str | None = await conn.fetchval("SELECT cpr FROM citizen WHERE citizen_ref = $1", citizen_ref)
    return cpr


# -- contact course ---------------------------------------------------------------------------

_COURSE_COLUMNS = (
    "started_on, cadence_months, last_follow_up_on, postponed_until, postponed_on, lead_department,"
    " reminded_for, overdue_announced_for, lead_since"
)


def _course(row: asyncpg.Record) -> Course:
    return Course(
        started_on=row["started_on"],
        cadence_months=row["cadence_months"],
        last_follow_up_on=row["last_follow_up_on"],
        postponed_until=row["postponed_until"],
        postponed_on=row["postponed_on"],
        lead=Lead(row["lead_department"]),
        reminded_for=row["reminded_for"],
        overdue_announced_for=row["overdue_announced_for"],
        lead_since=row["lead_since"],
    )


async def course(conn: Reader, citizen_ref: str, *, lock: bool = False) -> Course | None:
    row = await conn.fetchrow(
        f"SELECT {_COURSE_COLUMNS} FROM contact_course WHERE citizen_ref = $1"
        + (" FOR UPDATE" if lock else ""),
        citizen_ref,
    )
    return _course(row) if row else None


async def save_course(
    conn: Connection,
    citizen_ref: str,
    course: Course,
    next_alarm_on: date | None,
    cadence_note: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO contact_course (citizen_ref, started_on, cadence_months, last_follow_up_on,"
        " postponed_until, postponed_on, lead_department, reminded_for, overdue_announced_for,"
        " next_alarm_on, cadence_note, lead_since) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)"
        " ON CONFLICT (citizen_ref) DO UPDATE SET cadence_months = $3, last_follow_up_on = $4,"
        " postponed_until = $5, postponed_on = $6, lead_department = $7, reminded_for = $8,"
        " overdue_announced_for = $9, next_alarm_on = $10,"
        " cadence_note = coalesce($11, contact_course.cadence_note), lead_since = $12",
        citizen_ref,
        course.started_on,
        course.cadence_months,
        course.last_follow_up_on,
        course.postponed_until,
        course.postponed_on,
        course.lead.value,
        course.reminded_for,
        course.overdue_announced_for,
        next_alarm_on,
        cadence_note,
        course.lead_since,
    )


async def claim_alarms(conn: Connection, today: date, limit: int) -> list[tuple[str, Course]]:
    """Courses whose alarm day has come, locked so that another replica skips them. Uses only
    the partial index on next_alarm_on: the cost follows what is due, not how many citizens."""
    rows = await conn.fetch(
        f"SELECT citizen_ref, {_COURSE_COLUMNS} FROM contact_course"
        " WHERE next_alarm_on IS NOT NULL AND next_alarm_on <= $1"
        " ORDER BY next_alarm_on LIMIT $2 FOR UPDATE SKIP LOCKED",
        today,
        limit,
    )
    return [(row["citizen_ref"], _course(row)) for row in rows]


async def insert_follow_up(
    conn: Connection,
    citizen_ref: str,
    *,
    kind: str,
    department: str,
    held_on: date,
    note: str | None,
    recorded_by: str,
    source_event_id: Any = None,
) -> None:
    await conn.execute(
        "INSERT INTO follow_up (citizen_ref, kind, department, held_on, note, recorded_by, source_event_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        citizen_ref,
        kind,
        department,
        held_on,
        note,
        recorded_by,
        source_event_id,
    )


async def insert_postponement(
    conn: Connection,
    citizen_ref: str,
    *,
    reason: str,
    reason_text: str | None,
    until: date,
    justification_note: str,
    recorded_by: str,
) -> None:
    await conn.execute(
        "INSERT INTO postponement (citizen_ref, reason, reason_text, until, justification_note, recorded_by)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        citizen_ref,
        reason,
        reason_text,
        until,
        justification_note,
        recorded_by,
    )


async def follow_ups(conn: Reader, citizen_ref: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT kind, department, held_on, note, recorded_by, recorded_at FROM follow_up"
        " WHERE citizen_ref = $1 ORDER BY held_on DESC, id DESC LIMIT 50",
        citizen_ref,
    )


async def postponements(conn: Reader, citizen_ref: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT reason, reason_text, until, justification_note, recorded_by, recorded_at FROM postponement"
        " WHERE citizen_ref = $1 ORDER BY id DESC LIMIT 50",
        citizen_ref,
    )


# -- job plan ---------------------------------------------------------------------------------


async def current_plan_version(conn: Reader, citizen_ref: str) -> int:
    version: int = await conn.fetchval(
        "SELECT coalesce(max(version), 0) FROM job_plan_version WHERE citizen_ref = $1", citizen_ref
    )
    return version


async def insert_plan_version(
    conn: Connection, citizen_ref: str, version: int, goal: str, activities: list[dict[str, Any]], by: str
) -> None:
    await conn.execute(
        "INSERT INTO job_plan_version (citizen_ref, version, goal, activities, revised_by)"
        " VALUES ($1, $2, $3, $4::jsonb, $5)",
        citizen_ref,
        version,
        goal,
        json.dumps(activities),
        by,
    )


async def plan_version(conn: Reader, citizen_ref: str, version: int | None = None) -> asyncpg.Record | None:
    """One version of the job plan, or the current one."""
    return await conn.fetchrow(
        "SELECT version, goal, activities, revised_by, revised_at FROM job_plan_version"
        " WHERE citizen_ref = $1 AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1",
        citizen_ref,
        version,
    )


# -- the social plan summary (the other plan) -------------------------------------------------


async def store_social_summary(
    conn: Connection,
    citizen_ref: str,
    *,
    plan_version: int,
    goal: str,
    measures: list[dict[str, Any]],
    weekly_capacity_hours: float | None,
    legal_basis: str,
    source_event_id: Any,
) -> None:
    """Keep the newest summary; an older version arriving late does not replace a newer one."""
    await conn.execute(
        "INSERT INTO social_plan_summary (citizen_ref, plan_version, goal, measures, weekly_capacity_hours,"
        " legal_basis, source_event_id) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)"
        " ON CONFLICT (citizen_ref) DO UPDATE SET plan_version = $2, goal = $3, measures = $4::jsonb,"
        " weekly_capacity_hours = $5, legal_basis = $6, source_event_id = $7, received_at = now()"
        " WHERE social_plan_summary.plan_version <= $2",
        citizen_ref,
        plan_version,
        goal,
        json.dumps(measures),
        weekly_capacity_hours,
        legal_basis,
        source_event_id,
    )


async def remove_social_summary(conn: Connection, citizen_ref: str) -> None:
    await conn.execute("DELETE FROM social_plan_summary WHERE citizen_ref = $1", citizen_ref)


# Tasks that quote the social department's words, and the keys they quote them under.
_SOCIAL_TEXT_TASKS = ("consider-social-decision", "follow-dispute", "decide-handover")
_SOCIAL_TEXT_KEYS = ["reason", "social_position", "justification"]
WITHDRAWN_TEXT = "(removed: the basis for sharing it ended)"


async def forget_social_texts(conn: Connection, citizen_ref: str) -> None:
    await conn.execute("UPDATE social_decision_review SET reason = NULL WHERE citizen_ref = $1", citizen_ref)
    await conn.execute(
        "UPDATE plan_change_decision SET social_position = NULL WHERE citizen_ref = $1", citizen_ref
    )
    await conn.execute(
        "UPDATE handover SET justification = $2 WHERE citizen_ref = $1", citizen_ref, WITHDRAWN_TEXT
    )
    await conn.execute(
        "UPDATE caseworker_task SET details = details - $3::text[]"
        " WHERE citizen_ref = $1 AND kind = ANY($2::text[])",
        citizen_ref,
        list(_SOCIAL_TEXT_TASKS),
        _SOCIAL_TEXT_KEYS,
    )


async def social_summary(conn: Reader, citizen_ref: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT plan_version, goal, measures, weekly_capacity_hours, legal_basis, received_at"
        " FROM social_plan_summary WHERE citizen_ref = $1",
        citizen_ref,
    )


# -- case notes -------------------------------------------------------------------------------


async def add_note(conn: Connection, citizen_ref: str, author: str, text: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        "INSERT INTO case_note (citizen_ref, author, text) VALUES ($1, $2, $3)"
        " RETURNING id, author, text, written_at",
        citizen_ref,
        author,
        text,
    )
    assert row is not None
    written: asyncpg.Record = row
    return written


async def notes(conn: Reader, citizen_ref: str, after: int | None, limit: int) -> list[asyncpg.Record]:
    """A page of the citizen's notes, oldest first (``limit + 1`` rows, after the note ``after``)."""
    return await conn.fetch(
        "SELECT id, author, text, written_at FROM case_note WHERE citizen_ref = $1 AND id > $2"
        " ORDER BY id LIMIT $3",
        citizen_ref,
        after or 0,
        limit + 1,
    )


async def parked_citizens(
    conn: Reader, since: date, after: tuple[date, str] | None, limit: int
) -> list[asyncpg.Record]:
    """Citizens enrolled before ``since`` with no qualifying follow-up, no progress report and no
    plan change on or after it: candidates for re-assessment (parked citizens). A page, longest
    enrolled first, the citizen reference breaking ties (``limit + 1`` rows, after ``after``)."""
    after_on, after_ref = after or (date.min, "")
    return await conn.fetch(
        "SELECT c.citizen_ref, c.target_group, c.profile_tags, c.enrolled_on,"
        " (SELECT max(held_on) FROM follow_up f WHERE f.citizen_ref = c.citizen_ref) AS last_follow_up_on,"
        " (SELECT max(received_at)::date FROM provider_report r WHERE r.citizen_ref = c.citizen_ref"
        "   AND r.kind = 'progress-report') AS last_progress_report_on,"
        " greatest((SELECT max(revised_at)::date FROM job_plan_version j"
        "   WHERE j.citizen_ref = c.citizen_ref),"
        "   (SELECT max(decided_at)::date FROM plan_change_decision d WHERE d.citizen_ref = c.citizen_ref))"
        f"   AS last_plan_change_on {PARKED_CITIZENS} AND (c.enrolled_on, c.citizen_ref) > ($3, $4)"
        " ORDER BY c.enrolled_on, c.citizen_ref LIMIT $2",
        since,
        limit + 1,
        after_on,
        after_ref,
    )


# The parked citizens as of $1 (the report's and the KPIs' count alike).
PARKED_CITIZENS = (
    "FROM citizen c WHERE c.enrolled_on < $1"
    " AND NOT EXISTS (SELECT 1 FROM follow_up f WHERE f.citizen_ref = c.citizen_ref AND f.held_on >= $1)"
    " AND NOT EXISTS (SELECT 1 FROM provider_report r WHERE r.citizen_ref = c.citizen_ref"
    "   AND r.kind = 'progress-report' AND r.received_at >= $1)"
    " AND NOT EXISTS (SELECT 1 FROM job_plan_version j WHERE j.citizen_ref = c.citizen_ref"
    "   AND j.revised_at >= $1)"
    " AND NOT EXISTS (SELECT 1 FROM plan_change_decision d WHERE d.citizen_ref = c.citizen_ref"
    "   AND d.decided_at >= $1)"
)


async def record_overdue_follow_up(conn: Connection, citizen_ref: str, due_on: date) -> None:
    """Keep that the follow-up due on ``due_on`` passed unheld (for the KPIs: the event that
    announced it leaves the outbox)."""
    await conn.execute(
        "INSERT INTO follow_up_overdue (citizen_ref, due_on) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        citizen_ref,
        due_on,
    )


# -- conflicts between the plans --------------------------------------------------------------


async def insert_plan_conflict(
    conn: Connection,
    citizen_ref: str,
    *,
    conflict_id: Any,
    rule: str,
    explanation: str,
    job_plan_version: int,
    social_plan_version: int,
) -> asyncpg.Record | None:
    """Record the conflict unless the same rule already found one between the same two plan
    versions; the new row's conflict_id and detected_at, or None."""
    return await conn.fetchrow(
        "INSERT INTO plan_conflict (conflict_id, citizen_ref, rule, explanation, job_plan_version,"
        " social_plan_version) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (citizen_ref, rule, job_plan_version, social_plan_version) DO NOTHING"
        " RETURNING conflict_id, detected_at",
        conflict_id,
        citizen_ref,
        rule,
        explanation,
        job_plan_version,
        social_plan_version,
    )
