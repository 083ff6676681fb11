"""The social case's rules beside consent: plan versions and the summary the jobcenter sees, who
may act while which department leads the contact course, the handover's answer, and what a
provider learns when the readiness assessment answers its report."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal

import pytest

from samspil.runtime.errors import Conflict, Invalid, Rejected
from schemas.common import CaseworkerTeam, Department
from schemas.decisions import ReportOutcome
from schemas.lead_department import HandoverAccepted, HandoverRejected
from schemas.plans import MeasureCategory
from social.domain import lead, plans, readiness

HANDOVER = uuid.UUID("22222222-3333-4444-8555-666666666666")
JOBCENTER = CaseworkerTeam(department=Department.EMPLOYMENT, team="Jobcenter team 2")
TODAY = date(2027, 3, 10)
SINCE = date(2027, 3, 1)


@pytest.mark.parametrize(("current", "expected", "new"), [(0, 0, 1), (3, 3, 4), (3, 2, None), (0, 1, None)])
def test_a_revision_applies_only_to_the_version_its_author_saw(
    current: int, expected: int, new: int | None
) -> None:
    if new is not None:
        assert plans.check_expected_version(current, expected) == new
    else:
        with pytest.raises(Conflict) as refused:
            plans.check_expected_version(current, expected)
        assert refused.value.field == "expected_version"
        assert refused.value.extra == {"current_version": current}


@pytest.mark.parametrize(
    ("capacity", "shared"), [(Decimal("12.5"), 12.5), (Decimal("0"), None), (None, None), (8.0, 8.0)]
)
def test_the_plan_summary_carries_the_weekly_capacity_only_when_there_is_one(
    capacity: Decimal | float | None, shared: float | None
) -> None:
    measures = json.dumps([{"category": "mentor", "starts_on": "2027-03-01", "provider_id": "prov-9"}])
    summary = plans.summary_of(2, "Stabil bolig", measures, capacity)
    assert (summary.plan_version, summary.goal, summary.weekly_capacity_hours) == (2, "Stabil bolig", shared)
    assert [m.category for m in summary.measures] == [MeasureCategory.MENTOR]


@pytest.mark.parametrize(("current_lead", "refused"), [("employment", False), ("social", True)])
def test_the_social_department_takes_over_only_what_it_does_not_lead(
    current_lead: str, refused: bool
) -> None:
    if refused:
        with pytest.raises(Conflict):
            lead.check_can_take_over(current_lead)
    else:
        lead.check_can_take_over(current_lead)


@pytest.mark.parametrize(
    ("current_lead", "held_on", "refusal", "field"),
    [
        ("social", TODAY, None, None),
        ("social", SINCE, None, None),
        ("employment", TODAY, Conflict, "citizen_ref"),
        ("employment", date(2027, 3, 11), Conflict, "citizen_ref"),
        ("social", date(2027, 3, 11), Invalid, "held_on"),
        ("social", date(2027, 2, 28), Invalid, "held_on"),
    ],
    ids=["today", "the-day-it-took-the-lead", "not-lead", "not-lead-before-future", "future", "before-lead"],
)
def test_a_follow_up_counts_while_the_social_department_leads_and_once_held(
    current_lead: str, held_on: date, refusal: type[Rejected] | None, field: str | None
) -> None:
    if refusal is None:
        lead.check_follow_up(current_lead, SINCE, held_on, TODAY)
    else:
        with pytest.raises(refusal) as refused:
            lead.check_follow_up(current_lead, SINCE, held_on, TODAY)
        assert refused.value.field == field


@pytest.mark.parametrize(
    ("current_lead", "pending", "detail"),
    [
        ("social", False, None),
        ("employment", False, "Only the lead department hands over"),
        ("employment", True, "Only the lead department hands over"),
        ("social", True, "A handover is already awaiting the jobcenter's answer"),
    ],
)
def test_only_the_leading_social_department_hands_over_one_at_a_time(
    current_lead: str, pending: bool, detail: str | None
) -> None:
    if detail is None:
        lead.check_can_hand_over(current_lead, pending)
    else:
        with pytest.raises(Conflict) as refused:
            lead.check_can_hand_over(current_lead, pending)
        assert refused.value.detail == detail


@pytest.mark.parametrize(
    ("team", "recorded"), [("Socialteam Nord", "Socialteam Nord"), (None, "social department")]
)
def test_a_handover_names_the_team_that_asked(team: str | None, recorded: str) -> None:
    assert lead.handover_team(team) == recorded


def test_an_accepted_handover_records_when_the_jobcenter_leads_from() -> None:
    answer = HandoverAccepted(handover_id=HANDOVER, from_date=date(2027, 4, 1), team=JOBCENTER)
    assert lead.handover_outcome(answer) == ("accepted", "from 2027-04-01")
    assert lead.handover_task_details(answer) == {
        "handover_id": str(HANDOVER),
        "team": "Jobcenter team 2",
        "reason": None,
    }


def test_a_rejected_handover_records_the_jobcenters_reason() -> None:
    answer = HandoverRejected(handover_id=HANDOVER, reason="Afventer lægelig vurdering.", team=JOBCENTER)
    assert lead.handover_outcome(answer) == ("rejected", "Afventer lægelig vurdering.")
    assert lead.handover_task_details(answer)["reason"] == "Afventer lægelig vurdering."


def test_the_assessment_tells_the_provider_its_readiness_report_is_completed() -> None:
    submission = uuid.uuid4()
    referral = uuid.uuid4()
    completed = readiness.report_completed(submission, referral, "prov-1")
    assert (completed.submission_id, completed.referral_id, completed.provider_id) == (
        submission,
        referral,
        "prov-1",
    )
    assert (completed.department, completed.outcome) == (Department.SOCIAL, ReportOutcome.COMPLETED)
