"""GET /v1/reports/kpis: the social department's key figures over a period, as JSON or as CSV
(``Accept: text/csv``; ``samspil/runtime/reports.py`` says its shape). Readable by the social
caseworkers and the joint specialist unit, as the disputes list."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from samspil.runtime.http import problem_responses
from samspil.runtime.reports import (
    CSV_MEDIA_TYPE,
    KPI_ANSWERS,
    DurationsOut,
    Figure,
    KpiQuery,
    danish_csv,
    kpi_query,
)
from social.adapters import kpis
from social.domain.kpis import TEAM_FIGURES, SocialKpis
from social.entrypoints.citizens_http import Reader
from social.service_layer.messages import danish_today

router = APIRouter(prefix="/v1", tags=["reports"], responses=problem_responses(401, 403, 422))


class DisputesRuledOut(BaseModel):
    total: int
    on_time: int = Field(description="Ruled on or before the deadline (Danish time).")
    late: int


class SocialKpisOut(BaseModel):
    period_from: date
    period_to: date
    team: str | None
    team_filtered: list[str] = Field(description="The figures the team narrowed.")
    disputes_ruled: DisputesRuledOut
    disputes_overdue_now: int = Field(description="Disputes open past their ruling deadline now.")
    plan_change_request_to_final: DurationsOut


def csv_rows(figures: SocialKpis) -> list[Figure]:
    ruled = figures.disputes_ruled
    return [
        Figure("disputes_ruled", "", ruled.total, "number"),
        Figure("disputes_ruled", "on_time", ruled.on_time, "number"),
        Figure("disputes_ruled", "late", ruled.late, "number"),
        Figure("disputes_overdue_now", "", figures.disputes_overdue_now, "number"),
        *figures.plan_change_request_to_final.rows("plan_change_request_to_final"),
    ]


@router.get("/reports/kpis", response_model=SocialKpisOut, operation_id="social_kpis", responses=KPI_ANSWERS)
async def social_kpis(
    request: Request, caller: Reader, query: Annotated[KpiQuery, Depends(kpi_query)]
) -> SocialKpisOut | Response:
    """The social department's key figures over whole Danish days (at most 366): disputes ruled on
    time, disputes overdue, plan-change request to final outcome. ``Accept: text/csv`` gives one
    row per figure, ``;``-separated with a decimal comma."""
    period, team, today = query.period, query.team, danish_today()
    async with request.app.state.runtime.pool.acquire() as conn:
        figures = await kpis.read(conn, period, team, today)
    if query.as_csv:
        return Response(danish_csv(period, team, csv_rows(figures)), media_type=CSV_MEDIA_TYPE)
    ruled = figures.disputes_ruled
    return SocialKpisOut(
        period_from=period.first,
        period_to=period.last,
        team=team,
        team_filtered=list(TEAM_FIGURES) if team else [],
        disputes_ruled=DisputesRuledOut(total=ruled.total, on_time=ruled.on_time, late=ruled.late),
        disputes_overdue_now=figures.disputes_overdue_now,
        plan_change_request_to_final=figures.plan_change_request_to_final.out(),
    )
