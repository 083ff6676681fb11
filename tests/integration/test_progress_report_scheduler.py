"""The progress-report scheduler on the real PostgreSQL: with two replicas scanning at once, an
overdue report is announced once and raises one task, and later rounds announce nothing more."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

import asyncpg

from employment.service_layer.progress_reports import ProgressRules, announce_progress_reports
from tests.support import citizen_ref

TODAY = date(2027, 3, 10)


async def _started_referral(pool: asyncpg.Pool, started_on: date, interval_days: int) -> uuid.UUID:
    referral_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO referral (referral_id, citizen_ref, provider_id, offer_kind, offer_title,"
        " hours_per_week, starts_on, citizen_display_name, status, reporting_interval_days,"
        " progress_period_from, progress_report_due_on, progress_alarm_on)"
        " VALUES ($1, $2, 'aktivcenter-nord', 'activation', 'Forløb', 10, $3, 'Testborger', 'in-progress',"
        " $4, $3, $3::date + $4::integer, $3)",
        referral_id,
        citizen_ref(),
        started_on,
        interval_days,
    )
    return referral_id


async def test_two_replicas_announce_an_overdue_report_once_with_one_task(
    employment_db: asyncpg.Pool,
) -> None:
    referral_id = await _started_referral(employment_db, TODAY - timedelta(days=10), 7)
    rules = ProgressRules()
    announced = await asyncio.gather(
        *(announce_progress_reports(employment_db, TODAY, rules) for _ in range(2))
    )
    assert sum(announced) == 1
    assert await announce_progress_reports(employment_db, TODAY + timedelta(days=1), rules) == 0

    tasks = await employment_db.fetch(
        "SELECT kind, status, due_on FROM caseworker_task WHERE referral_id = $1", referral_id
    )
    assert [(task["kind"], task["status"]) for task in tasks] == [("chase-progress-report", "open")]
    events = await employment_db.fetchval(
        "SELECT count(*) FROM outbox WHERE event_type = 'dk.samspil.employment.progress-report.overdue.v1'"
    )
    assert events == 1
    marked = await employment_db.fetchrow(
        "SELECT progress_report_overdue_since, progress_alarm_on FROM referral WHERE referral_id = $1",
        referral_id,
    )
    assert marked is not None
    assert marked["progress_report_overdue_since"] == TODAY - timedelta(days=2)
    assert marked["progress_alarm_on"] is None


async def test_a_closed_referral_is_not_chased(employment_db: asyncpg.Pool) -> None:
    referral_id = await _started_referral(employment_db, TODAY - timedelta(days=10), 7)
    await employment_db.execute(
        "UPDATE referral SET status = 'completed' WHERE referral_id = $1", referral_id
    )
    assert await announce_progress_reports(employment_db, TODAY, ProgressRules()) == 0
    assert await employment_db.fetchval("SELECT count(*) FROM caseworker_task") == 0
