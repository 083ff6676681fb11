"""SQL of the jobcenter's key figures (``domain/kpis.py`` says what each means). Each query
reads what the period holds through an index (migration 018), never a table whole."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from employment.adapters.cases import PARKED_CITIZENS
from employment.domain.kpis import (
    UNSPECIFIED,
    EmploymentKpis,
    EndedReferrals,
    ProgressReports,
    ReferralOutcome,
)
from samspil.runtime.reports import Durations, Period, quantiles_sql

Reader = Any  # a connection or a pool (or anything with fetchrow/fetch/fetchval)

# The contact course's due date; the same expression as the overdue gauge and the index
# contact_course_due (an index is used only for the expression it was made on).
DUE_ON = (
    "greatest(postponed_until,"
    " (coalesce(last_follow_up_on, started_on) + make_interval(months => cadence_months))::date)"
)


async def absence_notice_to_assessment(conn: Reader, period: Period, team: str | None) -> Durations:
    return Durations.of(
        await conn.fetchrow(
            f"SELECT {quantiles_sql('extract(epoch FROM closed_at - created_at)::float8')}"
            " FROM caseworker_task WHERE kind = 'recontact-citizen'"
            " AND closed_at >= $1 AND closed_at < $2 AND ($3::text IS NULL OR closed_by_team = $3)",
            period.starts_at,
            period.ends_before,
            team,
        )
    )


async def follow_ups_overdue_now(conn: Reader, today: date) -> int:
    count: int = await conn.fetchval(
        f"SELECT count(*) FROM contact_course WHERE lead_department = 'employment' AND {DUE_ON} < $1",
        today,
    )
    return count


async def follow_ups_overdue_in_period(conn: Reader, period: Period) -> int:
    """Due dates that passed unheld, counted on their first overdue day (the day after)."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM follow_up_overdue WHERE due_on >= $1 AND due_on <= $2",
        period.first - timedelta(days=1),
        period.last - timedelta(days=1),
    )
    return count


async def referrals_ended(conn: Reader, period: Period) -> tuple[EndedReferrals, ...]:
    """One statement for every breakdown (by who, by category: a completion's outcome's, another
    ending's reason's), read from the index referral_status_change_ended_by_category alone. A
    completion's category is in outcome_category (migration 023); one a replica of the version
    before wrote during the rollout is in reason_category, and counts all the same."""
    rows = await conn.fetch(
        "SELECT status, changed_by, coalesce(outcome_category, reason_category, $3) AS category,"
        " count(*) AS n"
        " FROM referral_status_change"
        " WHERE occurred_on >= $1 AND occurred_on <= $2"
        " AND status IN ('completed', 'failed', 'cancelled', 'rejected')"
        " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        period.first,
        period.last,
        UNSPECIFIED,
    )
    return tuple(
        EndedReferrals(ReferralOutcome(row["status"]), row["changed_by"], row["category"], row["n"])
        for row in rows
    )


async def plan_change_request_to_final(conn: Reader, period: Period, team: str | None) -> Durations:
    return Durations.of(
        await conn.fetchrow(
            f"SELECT {quantiles_sql('extract(epoch FROM d.final_at - r.received_at)::float8')}"
            " FROM plan_change_decision d JOIN provider_report r ON r.submission_id = d.submission_id"
            " WHERE d.final_at >= $1 AND d.final_at < $2 AND ($3::text IS NULL OR d.team = $3)",
            period.starts_at,
            period.ends_before,
            team,
        )
    )


async def progress_reports(conn: Reader, period: Period) -> ProgressReports:
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE on_time) AS on_time, count(*) FILTER (WHERE NOT on_time) AS late"
        " FROM provider_report WHERE kind = 'progress-report' AND received_at >= $1 AND received_at < $2",
        period.starts_at,
        period.ends_before,
    )
    assert row is not None
    return ProgressReports(on_time=row["on_time"], late=row["late"])


async def progress_reports_overdue_now(conn: Reader, today: date) -> int:
    """Referrals marked overdue (since a day up to today: every mark, read as a range of the
    partial index referral_progress_overdue)."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM referral WHERE progress_report_overdue_since <= $1", today
    )
    return count


async def parked_citizens(conn: Reader, since: date) -> int:
    count: int = await conn.fetchval(f"SELECT count(*) {PARKED_CITIZENS}", since)
    return count


async def read(
    conn: Reader, period: Period, team: str | None, today: date, parked_since: date
) -> EmploymentKpis:
    return EmploymentKpis(
        absence_notice_to_assessment=await absence_notice_to_assessment(conn, period, team),
        follow_ups_overdue_now=await follow_ups_overdue_now(conn, today),
        follow_ups_overdue_in_period=await follow_ups_overdue_in_period(conn, period),
        referrals_ended=await referrals_ended(conn, period),
        plan_change_request_to_final=await plan_change_request_to_final(conn, period, team),
        progress_reports=await progress_reports(conn, period),
        progress_reports_overdue_now=await progress_reports_overdue_now(conn, today),
        parked_citizens=await parked_citizens(conn, parked_since),
    )
