"""Which providers' reports oblige the social team to act, and the task each makes."""

from __future__ import annotations

from datetime import date

import pytest

from samspil.runtime.calendar import add_working_days
from schemas.provider_reports import (
    AbsenceNoticeSubmitted,
    PlanChangeRequested,
    ProgressReportSubmitted,
    ProviderMeetingReported,
    ProviderReport,
    ReadinessReportSubmitted,
    TargetPlan,
)
from social.domain.reports import report_task

RECEIVED = date(2027, 3, 5)  # a Friday


def _example(model: type[ProviderReport], **changes: object) -> ProviderReport:
    report = model.examples()[0]
    assert isinstance(report, ProviderReport)
    return report.model_copy(update=changes)


@pytest.mark.parametrize(
    ("report", "kind", "task_kind"),
    [
        (_example(ReadinessReportSubmitted), "readiness-report", "ready-for-further-offers"),
        (
            _example(PlanChangeRequested, target_plan=TargetPlan.SOCIAL_PLAN),
            "plan-change-request",
            "decide-social-plan-change",
        ),
        (_example(PlanChangeRequested, target_plan=TargetPlan.JOB_PLAN), None, None),
        (_example(AbsenceNoticeSubmitted), None, None),
        (_example(ProgressReportSubmitted), None, None),
        (_example(ProviderMeetingReported), None, None),
    ],
    ids=["readiness", "social-plan-change", "job-plan-change", "absence", "progress", "meeting"],
)
def test_only_readiness_reports_and_social_plan_requests_make_a_task_for_the_social_team(
    report: ProviderReport, kind: str | None, task_kind: str | None
) -> None:
    made = report_task(report, RECEIVED, 3)
    if kind is None:
        assert made is None
        return
    assert made is not None
    assert made[0] == kind
    assert made[1].kind == task_kind
    assert made[1].due_on == add_working_days(RECEIVED, 3)
