"""SQL for the progress reports a provider owes on a referral (columns of ``referral``, migration
016 and 019), on the caller's connection and transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import asyncpg

from employment.domain.progress_reports import ReportingSchedule
from employment.domain.tasks import TaskKind
from samspil.runtime.db import Connection

_SCHEDULE_COLUMNS = (
    "referral_id, citizen_ref, provider_id, status, reporting_interval_days, progress_period_from,"
    " progress_report_overdue_since, progress_due_soon_announced_for, progress_overdue_announced_period"
)


@dataclass(frozen=True)
class TrackedReferral:
    referral_id: uuid.UUID
    citizen_ref: str
    provider_id: str
    status: str
    interval_days: int
    schedule: ReportingSchedule | None  # None until the citizen starts


def _tracked(row: asyncpg.Record) -> TrackedReferral:
    schedule = (
        None
        if row["progress_period_from"] is None
        else ReportingSchedule(
            interval_days=row["reporting_interval_days"],
            period_from=row["progress_period_from"],
            overdue_since=row["progress_report_overdue_since"],
            due_soon_announced_for=row["progress_due_soon_announced_for"],
            overdue_announced_for_period=row["progress_overdue_announced_period"],
        )
    )
    return TrackedReferral(
        row["referral_id"],
        row["citizen_ref"],
        row["provider_id"],
        row["status"],
        row["reporting_interval_days"],
        schedule,
    )


async def referral_for_update(conn: Connection, referral_id: uuid.UUID) -> TrackedReferral | None:
    row = await conn.fetchrow(
        f"SELECT {_SCHEDULE_COLUMNS} FROM referral WHERE referral_id = $1 FOR UPDATE", referral_id
    )
    return None if row is None else _tracked(row)


async def save_schedule(
    conn: Connection, referral_id: uuid.UUID, schedule: ReportingSchedule, alarm_on: date | None
) -> None:
    await conn.execute(
        "UPDATE referral SET reporting_interval_days = $2, progress_period_from = $3,"
        " progress_report_due_on = $4, progress_report_overdue_since = $5,"
        " progress_due_soon_announced_for = $6, progress_overdue_announced_period = $7,"
        " progress_alarm_on = $8"
        " WHERE referral_id = $1",
        referral_id,
        schedule.interval_days,
        schedule.period_from,
        schedule.due_on,
        schedule.overdue_since,
        schedule.due_soon_announced_for,
        schedule.overdue_announced_for_period,
        alarm_on,
    )


async def claim_alarms(conn: Connection, today: date, limit: int) -> list[TrackedReferral]:
    """Referrals whose day to look at has come, locked; those another replica holds are skipped."""
    rows = await conn.fetch(
        f"SELECT {_SCHEDULE_COLUMNS} FROM referral WHERE progress_alarm_on <= $1"
        " ORDER BY progress_alarm_on LIMIT $2 FOR UPDATE SKIP LOCKED",
        today,
        limit,
    )
    return [_tracked(row) for row in rows]


async def save_interval(conn: Connection, referral_id: uuid.UUID, interval_days: int) -> None:
    await conn.execute(
        "UPDATE referral SET reporting_interval_days = $2 WHERE referral_id = $1", referral_id, interval_days
    )


async def stop_alarms(conn: Connection, referral_id: uuid.UUID) -> None:
    await conn.execute("UPDATE referral SET progress_alarm_on = NULL WHERE referral_id = $1", referral_id)


async def record_timeliness(conn: Connection, submission_id: uuid.UUID, due_on: date, on_time: bool) -> None:
    """When the received progress report was due and whether it came by then (for the KPIs)."""
    await conn.execute(
        "UPDATE provider_report SET due_on = $2, on_time = $3 WHERE submission_id = $1",
        submission_id,
        due_on,
        on_time,
    )


async def close_chase_tasks(conn: Connection, referral_id: uuid.UUID, *, closed_by: str, note: str) -> None:
    """Close every open task chasing a progress report on the referral (through the index of the
    open tasks by referral)."""
    await conn.execute(
        "UPDATE caseworker_task SET status = 'closed', closed_at = clock_timestamp(), closed_by = $2,"
        " close_note = $3 WHERE referral_id = $1 AND status = 'open' AND kind = $4",
        referral_id,
        closed_by,
        note,
        TaskKind.CHASE_PROGRESS_REPORT.value,
    )
