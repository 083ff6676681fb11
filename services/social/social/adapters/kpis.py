"""SQL of the social department's key figures (``domain/kpis.py`` says what each means), each
read through an index (migration 010)."""

from __future__ import annotations

from datetime import date
from typing import Any

from samspil.runtime.reports import Durations, Period, quantiles_sql
from social.domain.kpis import DisputesRuled, SocialKpis

Reader = Any  # a connection or a pool

# The Danish day a dispute was ruled on (the deadline is a Danish date).
_RULED_ON = "(ruled_at AT TIME ZONE 'Europe/Copenhagen')::date"
# A dispute this department's team raised: ``raised_by`` names the objecting team of either
# department, so the team is this department's only when it objected to the jobcenter's decision.
_RAISED_BY_TEAM = (
    "($team::text IS NULL OR (raised_by = $team AND EXISTS (SELECT 1 FROM decision_review d"
    " WHERE d.decision_id = dispute.decision_id AND d.deciding_department = 'employment')))"
)


async def disputes_ruled(conn: Reader, period: Period, team: str | None) -> DisputesRuled:
    row = await conn.fetchrow(
        f"SELECT count(*) FILTER (WHERE {_RULED_ON} <= rule_by) AS on_time,"
        f" count(*) FILTER (WHERE {_RULED_ON} > rule_by) AS late"
        " FROM dispute WHERE ruled_at >= $1 AND ruled_at < $2 AND " + _RAISED_BY_TEAM.replace("$team", "$3"),
        period.starts_at,
        period.ends_before,
        team,
    )
    assert row is not None
    return DisputesRuled(on_time=row["on_time"], late=row["late"])


async def disputes_overdue_now(conn: Reader, today: date, team: str | None) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM dispute WHERE status = 'open' AND rule_by < $1 AND "
        + _RAISED_BY_TEAM.replace("$team", "$2"),
        today,
        team,
    )
    return count


async def plan_change_request_to_final(conn: Reader, period: Period, team: str | None) -> Durations:
    row = await conn.fetchrow(
        f"SELECT {quantiles_sql('extract(epoch FROM d.final_at - r.received_at)::float8')}"
        " FROM decision_review d JOIN provider_report r ON r.submission_id = d.submission_id"
        " WHERE d.final_at >= $1 AND d.final_at < $2 AND d.deciding_department = 'social'"
        " AND ($3::text IS NULL OR d.deciding_team = $3)",
        period.starts_at,
        period.ends_before,
        team,
    )
    return Durations.of(row)


async def read(conn: Reader, period: Period, team: str | None, today: date) -> SocialKpis:
    return SocialKpis(
        disputes_ruled=await disputes_ruled(conn, period, team),
        disputes_overdue_now=await disputes_overdue_now(conn, today, team),
        plan_change_request_to_final=await plan_change_request_to_final(conn, period, team),
    )
