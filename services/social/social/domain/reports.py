"""Which of the providers' reports are the social department's, and the task each makes for the
social team. Plain Python, no I/O."""

from __future__ import annotations

from datetime import date

from schemas.provider_reports import PlanChangeRequested, ProviderReport, ReadinessReportSubmitted, TargetPlan
from social.domain.tasks import NewTask, readiness_task, social_plan_change_task

READINESS_REPORT = "readiness-report"
PLAN_CHANGE_REQUEST = "plan-change-request"


def report_task(report: ProviderReport, received_on: date, working_days: int) -> tuple[str, NewTask] | None:
    """A readiness report, and a request to change the social action plan, oblige the social team
    to act: the report's kind as the department keeps it, and the team's task. Every other report
    (a request to change the job plan among them) is not the social department's: None."""
    if isinstance(report, ReadinessReportSubmitted):
        return READINESS_REPORT, readiness_task(received_on, working_days)
    if isinstance(report, PlanChangeRequested) and report.target_plan is TargetPlan.SOCIAL_PLAN:
        return PLAN_CHANGE_REQUEST, social_plan_change_task(received_on, working_days)
    return None
