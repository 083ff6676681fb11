"""Reason categories: the typed list next to the free-text reason on the steps that end a
referral without completing it, and outcome categories next to a completion's free-text outcome;
refused by name when unknown or on a step that takes none, and counted in the jobcenter's KPIs by
outcome/category with none given as unspecified."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from employment.domain.kpis import UNSPECIFIED, EmploymentKpis, EndedReferrals, ProgressReports
from employment.domain.kpis import ReferralOutcome as O
from employment.entrypoints.http import StatusChangeOut
from employment.entrypoints.kpis_http import csv_rows, kpis_out
from provider_gateway.service_layer.views import StatusChange
from samspil.runtime.http import problem_from_validation
from samspil.runtime.reports import Durations, Figure, Period
from schemas.commands import WithdrawReferral
from schemas.referrals import (
    CATEGORISED_STEPS,
    CompletionCategory,
    ReasonCategory,
    ReferralAccepted,
    ReferralCancelled,
    ReferralCompleted,
    ReferralRejected,
    ReferralTransition,
    outcome_category_of,
    reason_category_of,
    step_category_of,
)

STEP: dict[str, Any] = {
    "referral_id": uuid.uuid4(),
    "provider_id": "aktivcenter-nord",
    "occurred_on": "2026-12-01",
    "reason": "Ingen ledige pladser.",
}


def test_the_categories_are_the_documented_list_in_kebab_case() -> None:
    assert [c.value for c in ReasonCategory] == [
        "citizen-ill",
        "citizen-moved",
        "citizen-employed",
        "citizen-did-not-attend",
        "offer-unsuitable",
        "provider-capacity",
        "plan-changed",
        "other",
    ]
    for category in ReasonCategory:
        assert f"- {category.value}:" in (ReasonCategory.__doc__ or "")


@pytest.mark.parametrize("step", CATEGORISED_STEPS)
@pytest.mark.parametrize("category", list(ReasonCategory))
def test_rejecting_failing_and_cancelling_take_every_category(
    step: type[ReferralTransition], category: ReasonCategory
) -> None:
    event = step.model_validate({**STEP, "reason_category": category.value})
    assert reason_category_of(event) is category


@pytest.mark.parametrize("step", CATEGORISED_STEPS)
def test_the_category_is_optional_so_earlier_messages_stay_valid(step: type[ReferralTransition]) -> None:
    assert reason_category_of(step.model_validate(STEP)) is None


@pytest.mark.parametrize("step", CATEGORISED_STEPS)
def test_an_unknown_category_is_a_422_naming_the_field(step: type[ReferralTransition]) -> None:
    with pytest.raises(ValidationError) as refused:
        step.model_validate({**STEP, "reason_category": "citizen-bored"})
    problem = problem_from_validation(refused.value, prefix="body")
    assert problem.status == 422
    assert [e["field"] for e in problem.extra["errors"]] == ["body.reason_category"]


@pytest.mark.parametrize("step", [ReferralAccepted, ReferralCompleted])
def test_a_step_that_ends_no_referral_unsuccessfully_refuses_a_category_by_name(
    step: type[ReferralTransition],
) -> None:
    body = {**STEP, "reason_category": "other"} | (
        {"outcome": "Gennemført."} if step is ReferralCompleted else {}
    )
    with pytest.raises(ValidationError) as refused:
        step.model_validate(body)
    assert [e["loc"] for e in refused.value.errors()] == [("reason_category",)]


COMPLETION: dict[str, Any] = {**STEP, "reason": None, "outcome": "Fik job som lagermedarbejder."}


def test_the_outcome_categories_are_the_documented_list_in_kebab_case() -> None:
    assert [c.value for c in CompletionCategory] == ["job", "education", "next-offer", "other"]
    for category in CompletionCategory:
        assert f"- {category.value}:" in (CompletionCategory.__doc__ or "")


@pytest.mark.parametrize("category", list(CompletionCategory))
def test_a_completion_takes_every_outcome_category_as_its_step_category(category: CompletionCategory) -> None:
    completed = ReferralCompleted.model_validate({**COMPLETION, "outcome_category": category.value})
    assert step_category_of(completed) is category
    assert reason_category_of(completed) is None


def test_the_outcome_category_is_optional_so_earlier_completions_stay_valid() -> None:
    assert step_category_of(ReferralCompleted.model_validate(COMPLETION)) is None


def test_only_a_completion_has_an_outcome_category_and_no_completion_a_reason_category() -> None:
    completed = ReferralCompleted.model_validate({**COMPLETION, "outcome_category": "education"})
    assert (outcome_category_of(completed), reason_category_of(completed)) == (
        CompletionCategory.EDUCATION,
        None,
    )
    cancelled = ReferralCancelled.model_validate({**STEP, "reason_category": "citizen-moved"})
    assert (outcome_category_of(cancelled), reason_category_of(cancelled)) == (
        None,
        ReasonCategory.CITIZEN_MOVED,
    )


def _history_row(status: str, reason_category: str | None, outcome_category: str | None) -> dict[str, Any]:
    return {
        "status": status,
        "changed_by": "provider",
        "occurred_on": date(2026, 12, 1),
        "reason": None,
        "reason_category": reason_category,
        "outcome_category": outcome_category,
    }


@pytest.mark.parametrize("model", [StatusChangeOut, StatusChange])
@pytest.mark.parametrize(
    ("row", "shown"),
    [
        (_history_row("completed", None, "job"), (None, "job")),
        # As a replica of the version before the column wrote it during the rollout.
        (_history_row("completed", "job", None), (None, "job")),
        (_history_row("completed", None, None), (None, None)),
        (_history_row("cancelled", "citizen-moved", None), ("citizen-moved", None)),
    ],
)
def test_the_status_history_shows_a_completions_category_as_the_outcomes_and_no_other(
    model: type[StatusChangeOut | StatusChange], row: dict[str, Any], shown: tuple[str | None, str | None]
) -> None:
    change = model.of(row)
    assert (change.reason_category, change.outcome_category) == shown


def test_an_unknown_outcome_category_is_a_422_naming_the_field() -> None:
    with pytest.raises(ValidationError) as refused:
        ReferralCompleted.model_validate({**COMPLETION, "outcome_category": "retired"})
    problem = problem_from_validation(refused.value, prefix="body")
    assert [e["field"] for e in problem.extra["errors"]] == ["body.outcome_category"]


@pytest.mark.parametrize("step", [ReferralAccepted, ReferralRejected])
def test_a_step_that_is_no_completion_refuses_an_outcome_category_by_name(
    step: type[ReferralTransition],
) -> None:
    with pytest.raises(ValidationError) as refused:
        step.model_validate({**STEP, "outcome_category": "job"})
    assert [e["loc"] for e in refused.value.errors()] == [("outcome_category",)]


@pytest.mark.parametrize("step", CATEGORISED_STEPS)
def test_an_ending_steps_category_is_its_reasons(step: type[ReferralTransition]) -> None:
    event = step.model_validate({**STEP, "reason_category": "other"})
    assert step_category_of(event) is ReasonCategory.OTHER


def test_the_jobcenters_withdrawal_takes_a_category_or_none() -> None:
    referral_id = uuid.uuid4()
    moved = WithdrawReferral.model_validate(
        {"referral_id": referral_id, "reason": "Flyttet.", "reason_category": "citizen-moved"}
    )
    assert moved.reason_category is ReasonCategory.CITIZEN_MOVED
    assert WithdrawReferral(referral_id=referral_id, reason="Flyttet.").reason_category is None
    with pytest.raises(ValidationError):
        WithdrawReferral.model_validate(
            {"referral_id": referral_id, "reason": "x", "reason_category": "moved"}
        )
    cancelled = ReferralCancelled.model_validate({**STEP, "reason_category": moved.reason_category})
    assert cancelled.model_dump(mode="json")["reason_category"] == "citizen-moved"


NOTHING = Durations(0, None, None)
FIGURES = EmploymentKpis(
    absence_notice_to_assessment=NOTHING,
    follow_ups_overdue_now=0,
    follow_ups_overdue_in_period=0,
    referrals_ended=(
        EndedReferrals(O.CANCELLED, "jobcenter", "citizen-moved", 2),
        EndedReferrals(O.CANCELLED, "provider", "citizen-moved", 1),
        EndedReferrals(O.CANCELLED, "provider", UNSPECIFIED, 1),
        EndedReferrals(O.COMPLETED, "provider", "job", 2),
        EndedReferrals(O.COMPLETED, "provider", UNSPECIFIED, 1),
        EndedReferrals(O.FAILED, "provider", UNSPECIFIED, 1),
        EndedReferrals(O.REJECTED, "provider", "provider-capacity", 4),
    ),
    plan_change_request_to_final=NOTHING,
    parked_citizens=0,
    progress_reports=ProgressReports(0, 0),
    progress_reports_overdue_now=0,
)


def test_endings_are_counted_by_who_and_by_reason_category_from_one_breakdown() -> None:
    assert FIGURES.referrals_by_outcome() == {O.COMPLETED: 3, O.FAILED: 1, O.CANCELLED: 4, O.REJECTED: 4}
    assert FIGURES.referrals_by_who() == {
        (O.CANCELLED, "jobcenter"): 2,
        (O.CANCELLED, "provider"): 2,
        (O.COMPLETED, "provider"): 3,
        (O.FAILED, "provider"): 1,
        (O.REJECTED, "provider"): 4,
    }
    assert FIGURES.referrals_by_reason() == {
        (O.CANCELLED, "citizen-moved"): 3,
        (O.CANCELLED, UNSPECIFIED): 1,
        (O.COMPLETED, "job"): 2,
        (O.COMPLETED, UNSPECIFIED): 1,
        (O.FAILED, UNSPECIFIED): 1,
        (O.REJECTED, "provider-capacity"): 4,
    }


def test_the_report_shows_the_categories_in_json_and_csv() -> None:
    day = date(2026, 3, 1)
    ended = kpis_out(Period(day, day), None, FIGURES).referrals_ended
    assert [(e.outcome, e.category, e.count) for e in ended.by_reason] == [
        (O.CANCELLED, "citizen-moved", 3),
        (O.CANCELLED, "unspecified", 1),
        (O.COMPLETED, "job", 2),
        (O.COMPLETED, "unspecified", 1),
        (O.FAILED, "unspecified", 1),
        (O.REJECTED, "provider-capacity", 4),
    ]
    assert [(e.outcome, e.ended_by, e.count) for e in ended.by_who][:2] == [
        (O.CANCELLED, "jobcenter", 2),
        (O.CANCELLED, "provider", 2),
    ]
    rows = [row for row in csv_rows(FIGURES) if row.figure == "referrals_ended_by_reason"]
    assert rows == [
        Figure("referrals_ended_by_reason", "cancelled/citizen-moved", 3, "number"),
        Figure("referrals_ended_by_reason", "cancelled/unspecified", 1, "number"),
        Figure("referrals_ended_by_reason", "completed/job", 2, "number"),
        Figure("referrals_ended_by_reason", "completed/unspecified", 1, "number"),
        Figure("referrals_ended_by_reason", "failed/unspecified", 1, "number"),
        Figure("referrals_ended_by_reason", "rejected/provider-capacity", 4, "number"),
    ]
