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
