"""GET /v1/reports/kpis: the jobcenter's key figures over a period, as JSON or, for the
municipality's own reporting, as CSV (``Accept: text/csv``; ``samspil/runtime/reports.py`` says
its shape). Caseworkers of the jobcenter may read it, as the parked-citizens report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from employment.adapters import kpis
from employment.domain.contact_course import add_months
from employment.domain.kpis import TEAM_FIGURES, EmploymentKpis, ReferralOutcome
from employment.entrypoints.citizens_http import Caseworker, settings_of
from employment.service_layer.messages import danish_today
from samspil.runtime.http import problem_responses
from samspil.runtime.reports import (
    CSV_MEDIA_TYPE,
    KPI_ANSWERS,
    DurationsOut,
    Figure,
    KpiQuery,
    Period,
    danish_csv,
    kpi_query,
)
from schemas.referrals import CompletionCategory, ReasonCategory

router = APIRouter(prefix="/v1", tags=["reports"], responses=problem_responses(401, 403, 422))


class EndedByOut(BaseModel):
    outcome: ReferralOutcome
    ended_by: str = Field(description="Who ended the referral: 'provider' or 'jobcenter'.")
    count: int


class EndedForReasonOut(BaseModel):
    outcome: ReferralOutcome
    category: ReasonCategory | CompletionCategory | Literal["unspecified"] = Field(
        description="The category as the step gave it: the reason's (failed, cancelled, rejected) "
        "or, for completed, the outcome's (job, education, next-offer, other); 'unspecified' when "
        "it gave none."
    )
    count: int


class ReferralsEndedOut(BaseModel):
    completed: int
    failed: int
    cancelled: int
    rejected: int
    by_who: list[EndedByOut]
    by_reason: list[EndedForReasonOut] = Field(description="By outcome and category (reason or outcome).")


class ProgressReportsOut(BaseModel):
    on_time: int = Field(description="Received by their due date.")
    late: int


class EmploymentKpisOut(BaseModel):
    period_from: date
    period_to: date
    team: str | None
    team_filtered: list[str] = Field(
        description="The figures the team narrowed (the others are the department's)."
    )
    absence_notice_to_assessment: DurationsOut
    follow_ups_overdue_now: int
    follow_ups_overdue_in_period: int = Field(description="Due dates that passed unheld in the period.")
    referrals_ended: ReferralsEndedOut
    plan_change_request_to_final: DurationsOut
    progress_reports: ProgressReportsOut = Field(description="Progress reports received in the period.")
    progress_reports_overdue_now: int = Field(description="Referrals whose progress report is overdue now.")
    parked_citizens: int = Field(
        description="Citizens in the parked-citizens report now (its default months)."
    )


def kpis_out(period: Period, team: str | None, figures: EmploymentKpis) -> EmploymentKpisOut:
    totals = figures.referrals_by_outcome()
    return EmploymentKpisOut(
        period_from=period.first,
        period_to=period.last,
        team=team,
        team_filtered=list(TEAM_FIGURES) if team else [],
        absence_notice_to_assessment=figures.absence_notice_to_assessment.out(),
        follow_ups_overdue_now=figures.follow_ups_overdue_now,
        follow_ups_overdue_in_period=figures.follow_ups_overdue_in_period,
        referrals_ended=ReferralsEndedOut(
            **{outcome.value: count for outcome, count in totals.items()},
            by_who=[
                EndedByOut(outcome=outcome, ended_by=ended_by, count=count)
                for (outcome, ended_by), count in figures.referrals_by_who().items()
            ],
            by_reason=[
                EndedForReasonOut.model_validate({"outcome": outcome, "category": category, "count": count})
                for (outcome, category), count in figures.referrals_by_reason().items()
            ],
        ),
        plan_change_request_to_final=figures.plan_change_request_to_final.out(),
        progress_reports=ProgressReportsOut(
            on_time=figures.progress_reports.on_time, late=figures.progress_reports.late
        ),
        progress_reports_overdue_now=figures.progress_reports_overdue_now,
        parked_citizens=figures.parked_citizens,
    )


def csv_rows(figures: EmploymentKpis) -> list[Figure]:
    return [
        *figures.absence_notice_to_assessment.rows("absence_notice_to_assessment"),
        Figure("follow_ups_overdue_now", "", figures.follow_ups_overdue_now, "number"),
        Figure("follow_ups_overdue_in_period", "", figures.follow_ups_overdue_in_period, "number"),
        *(
            Figure("referrals_ended", outcome.value, count, "number")
            for outcome, count in figures.referrals_by_outcome().items()
        ),
        *(
            Figure("referrals_ended", f"{outcome.value}/{ended_by}", count, "number")
            for (outcome, ended_by), count in figures.referrals_by_who().items()
        ),
        *(
            Figure("referrals_ended_by_reason", f"{outcome.value}/{category}", count, "number")
            for (outcome, category), count in figures.referrals_by_reason().items()
        ),
        *figures.plan_change_request_to_final.rows("plan_change_request_to_final"),
        Figure("progress_reports", "on_time", figures.progress_reports.on_time, "number"),
        Figure("progress_reports", "late", figures.progress_reports.late, "number"),
        Figure("progress_reports_overdue_now", "", figures.progress_reports_overdue_now, "number"),
        Figure("parked_citizens", "", figures.parked_citizens, "number"),
    ]


@router.get(
    "/reports/kpis", response_model=EmploymentKpisOut, operation_id="employment_kpis", responses=KPI_ANSWERS
)
async def employment_kpis(
    request: Request, caller: Caseworker, query: Annotated[KpiQuery, Depends(kpi_query)]
) -> EmploymentKpisOut | Response:
    """The jobcenter's key figures over whole Danish days (at most 366): absence notice to
    assessment, follow-ups overdue, referrals by outcome, plan-change request to final outcome,
    progress reports on time, citizens in the parked report. ``Accept: text/csv`` gives one row
    per figure, ``;``-separated with a decimal comma."""
    period, team, today = query.period, query.team, danish_today()
    parked_since = add_months(today, -settings_of(request).parked_after_months)
    async with request.app.state.runtime.pool.acquire() as conn:
        figures = await kpis.read(conn, period, team, today, parked_since)
    if query.as_csv:
        return Response(danish_csv(period, team, csv_rows(figures)), media_type=CSV_MEDIA_TYPE)
    return kpis_out(period, team, figures)
