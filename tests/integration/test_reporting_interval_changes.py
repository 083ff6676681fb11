"""A reporting interval changed after a progress report was announced overdue, on the real
PostgreSQL: the awaited report is chased once, and a due date moved ahead withdraws the mark."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from employment.service_layer.progress_reports import (
    ProgressRules,
    announce_progress_reports,
    change_reporting_interval,
)
from samspil.runtime.db import _sql_files, migrate
from tests.infra import Infra
from tests.integration.test_progress_report_scheduler import TODAY, _started_referral


async def test_an_interval_changed_after_an_overdue_report_leaves_one_chase_task_open_until_the_report(
    employment_db: asyncpg.Pool,
) -> None:
    """Started 10 days ago, interval 7: the report due 3 days ago is overdue (task 1). The
    jobcenter then shortens the interval to 5 (due 5 days ago): the same awaited report is
    announced overdue again with a second task; the report that arrives closes only the second."""
    referral_id = await _started_referral(employment_db, TODAY - timedelta(days=10), 7)
    rules = ProgressRules()
    assert await announce_progress_reports(employment_db, TODAY, rules) == 1
    async with employment_db.acquire() as conn, conn.transaction():
        await change_reporting_interval(conn, referral_id, 5, rules, TODAY)
    await announce_progress_reports(employment_db, TODAY, rules)

    open_tasks = await employment_db.fetchval(
        "SELECT count(*) FROM caseworker_task WHERE referral_id = $1 AND status = 'open'", referral_id
    )
    overdue_events = await employment_db.fetchval(
        "SELECT count(*) FROM outbox WHERE event_type = 'dk.samspil.employment.progress-report.overdue.v1'"
    )
    # One awaited report, one chase: a second task would outlive the report (it closes the last only).
    assert (open_tasks, overdue_events) == (1, 1)


async def test_an_interval_lengthened_after_an_overdue_report_clears_the_overdue_mark(
    employment_db: asyncpg.Pool,
) -> None:
    """Overdue on the old interval, then the interval is lengthened so the awaited report is due
    in the future: the referral (and the provider's view) still says overdue since a day before
    the report's new due date."""
    referral_id = await _started_referral(employment_db, TODAY - timedelta(days=10), 7)
    rules = ProgressRules()
    assert await announce_progress_reports(employment_db, TODAY, rules) == 1
    async with employment_db.acquire() as conn, conn.transaction():
        await change_reporting_interval(conn, referral_id, 28, rules, TODAY)
    row = await employment_db.fetchrow(
        "SELECT progress_report_due_on, progress_report_overdue_since FROM referral WHERE referral_id = $1",
        referral_id,
    )
    assert row is not None
    assert row["progress_report_due_on"] == TODAY + timedelta(days=18)
    assert row["progress_report_overdue_since"] is None


async def test_a_report_marked_overdue_before_migration_019_is_not_announced_again_after_it(
    infra: Infra,
) -> None:
    """Migration 019 marks the announcement by period: a referral marked overdue by the version
    before keeps its one announcement (also when its interval is then shortened); one not yet
    announced is announced as before."""
    url = infra.create_database("employment")
    pool = await asyncpg.create_pool(url)
    try:
        await migrate(pool, "samspil.runtime.migrations")
        async with pool.acquire() as conn:
            for file in _sql_files("employment.migrations"):
                if file.name < "019":
                    await conn.execute(file.read_text(encoding="utf-8"))
                    await conn.execute(
                        "INSERT INTO schema_migration (name) VALUES ($1)",
                        f"employment.migrations/{file.name}",
                    )
        started_on = TODAY - timedelta(days=10)
        marked, unmarked = [await _started_referral(pool, started_on, 7) for _ in range(2)]
        await pool.execute(
            "UPDATE referral SET progress_report_overdue_since = $2, progress_overdue_announced_for = $3,"
            " progress_alarm_on = NULL WHERE referral_id = $1",
            marked,
            TODAY - timedelta(days=2),
            TODAY - timedelta(days=3),
        )

        applied = await migrate(pool, "employment.migrations")
        # 019 and whatever came after it, in order.
        assert applied[0] == "employment.migrations/019_progress_period.sql"
        assert applied == sorted(applied)
        async with pool.acquire() as conn, conn.transaction():
            await change_reporting_interval(conn, marked, 6, ProgressRules(), TODAY)
        assert await announce_progress_reports(pool, TODAY, ProgressRules()) == 1
        announced = await pool.fetch(
            "SELECT referral_id, progress_overdue_announced_period, progress_report_overdue_since"
            " FROM referral"
        )
        assert {row["referral_id"]: tuple(row)[1:] for row in announced} == {
            marked: (started_on, TODAY - timedelta(days=3)),
            unmarked: (started_on, TODAY - timedelta(days=2)),
        }
    finally:
        await pool.close()
