"""The rules that find where the job plan and the social plan pull against each other."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import pytest

from employment.domain.plan_conflicts import (
    MAX_EXPLANATION,
    RULES,
    Conflict,
    Plans,
    Rule,
    find_conflicts,
)
from employment.domain.tasks import TaskKind, plan_conflict_task
from schemas.disputes import ConflictRule, PlanConflictDetected
from schemas.plans import ActivityCategory, JobPlanActivity, MeasureCategory, SocialMeasure

TODAY = date(2027, 1, 4)  # a Monday


def activity(
    starts_on: date,
    ends_on: date | None = None,
    hours: float | None = None,
    category: ActivityCategory = ActivityCategory.COMPANY_INTERNSHIP,
    title: str = "Praktik på lager",
) -> JobPlanActivity:
    return JobPlanActivity(
        category=category, title=title, starts_on=starts_on, ends_on=ends_on, hours_per_week=hours
    )


def measure(
    starts_on: date,
    ends_on: date | None = None,
    hours: float | None = None,
    compatible: bool = True,
    category: MeasureCategory = MeasureCategory.MENTAL_HEALTH_TREATMENT,
) -> SocialMeasure:
    return SocialMeasure(
        category=category,
        starts_on=starts_on,
        ends_on=ends_on,
        hours_per_week=hours,
        compatible_with_activation=compatible,
    )


@dataclass(frozen=True)
class Case:
    activities: list[JobPlanActivity]
    measures: list[SocialMeasure]
    capacity: float | None = None
    # Fragments the one explanation must hold; None when the rule must find nothing.
    expected: list[str] | None = None


def conflicts_of(rule: ConflictRule, case: Case) -> list[Conflict]:
    plans = Plans(case.activities, case.measures, case.capacity, TODAY)
    return [conflict for conflict in find_conflicts(plans) if conflict.rule is rule]


HOURS_CASES = [
    pytest.param(
        Case(
            [activity(TODAY, hours=10)],
            [measure(TODAY, hours=8)],
            capacity=15,
            expected=["Fra 2027-01-04", "18 timer om ugen i alt", "10 i jobplanen", "8 i den sociale", "15"],
        ),
        id="hours-above-capacity-on-a-common-day-is-a-conflict",
    ),
    pytest.param(
        Case([activity(TODAY, hours=10)], [measure(TODAY, hours=5)], capacity=15),
        id="hours-exactly-at-capacity-are-no-conflict",
    ),
    pytest.param(
        Case([activity(TODAY, hours=30)], [measure(TODAY, hours=20)], capacity=None),
        id="no-capacity-recorded-is-no-conflict",
    ),
    pytest.param(
        Case(
            [activity(date(2027, 1, 10), date(2027, 2, 28), hours=10)],
            [measure(date(2027, 3, 1), date(2027, 4, 30), hours=10)],
            capacity=15,
        ),
        id="periods-that-do-not-overlap-do-not-add-up",
    ),
    pytest.param(
        Case(
            [activity(TODAY, hours=10), activity(date(2027, 3, 1), hours=4.5, title="Mentor")],
            # The same peak again from June, when one measure follows another: March is named.
            [measure(date(2026, 6, 1), date(2027, 5, 31), hours=3), measure(date(2027, 6, 1), hours=3)],
            capacity=15,
            expected=["Fra 2027-03-01", "17,5 timer", "14,5 i jobplanen", "3 i den sociale"],
        ),
        id="the-earliest-peak-from-today-on-is-named",
    ),
    pytest.param(
        Case(
            [activity(TODAY, hours=10)],
            [measure(date(2026, 9, 1), date(2027, 1, 3), hours=10)],
            capacity=15,
        ),
        id="a-period-ended-before-today-does-not-count",
    ),
    pytest.param(
        Case([activity(TODAY, hours=10)], [measure(TODAY, hours=None)], capacity=9.5, expected=["10 timer"]),
        id="a-period-without-hours-adds-none-but-the-other-plan-alone-can-exceed",
    ),
    pytest.param(
        Case([activity(TODAY, hours=0.1)] * 3, [measure(TODAY, hours=0.2)], capacity=0.5),
        id="float-noise-does-not-push-the-sum-over-capacity",
    ),
]


@pytest.mark.parametrize("case", HOURS_CASES)
def test_hours_over_capacity(case: Case) -> None:
    found = conflicts_of(ConflictRule.HOURS_OVER_CAPACITY, case)
    if case.expected is None:
        assert found == []
    else:
        [conflict] = found
        for fragment in case.expected:
            assert fragment in conflict.explanation


INCOMPATIBLE_CASES = [
    pytest.param(
        Case(
            [activity(date(2027, 2, 1), date(2027, 4, 30), title="Virksomhedspraktik i lager")],
            [measure(date(2027, 1, 10), date(2027, 3, 31), compatible=False)],
            expected=[
                "'Virksomhedspraktik i lager'",
                "psykiatrisk behandling",
                "fra 2027-02-01 til 2027-03-31",
            ],
        ),
        id="activity-overlapping-an-incompatible-measure-is-a-conflict-over-the-common-dates",
    ),
    pytest.param(
        Case(
            [activity(date(2026, 11, 1), hours=10)],
            [measure(date(2026, 12, 1), compatible=False, category=MeasureCategory.ADDICTION_TREATMENT)],
            expected=["misbrugsbehandling", "fra 2027-01-04 uden slutdato"],
        ),
        id="a-past-overlap-still-running-counts-from-today",
    ),
    pytest.param(
        Case(
            [activity(TODAY, date(2027, 6, 30))],
            [measure(date(2026, 10, 1), date(2027, 1, 3), compatible=False)],
        ),
        id="an-incompatible-measure-ended-before-today-is-no-conflict",
    ),
    pytest.param(
        Case(
            [activity(TODAY, date(2027, 2, 28))],
            [measure(date(2027, 3, 1), date(2027, 5, 31), compatible=False)],
        ),
        id="an-incompatible-measure-starting-after-the-activity-ends-is-no-conflict",
    ),
    pytest.param(
        Case([activity(TODAY, date(2027, 6, 30))], [measure(TODAY, date(2027, 6, 30), compatible=True)]),
        id="a-compatible-measure-is-no-conflict",
    ),
    pytest.param(
        Case(
            [activity(TODAY, category=ActivityCategory.HEALTH_MEASURE, title="Angstbehandling")],
            [measure(TODAY, compatible=False)],
        ),
        id="a-job-plan-activity-that-is-itself-a-health-measure-is-not-activation",
    ),
]


@pytest.mark.parametrize("case", INCOMPATIBLE_CASES)
def test_activity_during_incompatible_measure(case: Case) -> None:
    found = conflicts_of(ConflictRule.ACTIVITY_DURING_INCOMPATIBLE_MEASURE, case)
    if case.expected is None:
        assert found == []
    else:
        [conflict] = found
        for fragment in case.expected:
            assert fragment in conflict.explanation


def test_every_conflict_rule_has_exactly_one_entry() -> None:
    assert sorted(rule.rule for rule in RULES) == sorted(ConflictRule)


def test_several_findings_of_one_rule_become_one_conflict_that_fits_the_event() -> None:
    long_title = "Praktik " + "x" * 80
    plans = Plans(
        activities=[activity(TODAY, hours=20, title=f"{long_title} {n}") for n in range(4)],
        measures=[measure(TODAY, compatible=False)],
        weekly_capacity_hours=15,
        today=TODAY,
    )
    conflicts = find_conflicts(plans)
    assert [c.rule for c in conflicts] == [
        ConflictRule.HOURS_OVER_CAPACITY,
        ConflictRule.ACTIVITY_DURING_INCOMPATIBLE_MEASURE,
    ]
    overlap = conflicts[1].explanation
    assert len(overlap) <= MAX_EXPLANATION
    assert f"{long_title} 0" in overlap and "(og 2 til)" in overlap
    for conflict in conflicts:
        PlanConflictDetected(
            conflict_id=uuid.uuid4(),
            rule=conflict.rule,
            explanation=conflict.explanation,
            job_plan_version=1,
            social_plan_version=1,
        )


def test_adding_a_rule_is_adding_one_entry() -> None:
    always = Rule(ConflictRule.HOURS_OVER_CAPACITY, "Always", lambda plans: ["altid"])
    plans = Plans([], [], None, TODAY)
    assert find_conflicts(plans, (*RULES, always)) == [Conflict(ConflictRule.HOURS_OVER_CAPACITY, "altid")]


def test_a_conflict_task_falls_due_a_working_week_later() -> None:
    task = plan_conflict_task(TODAY, ConflictRule.HOURS_OVER_CAPACITY.value)
    assert task.kind is TaskKind.RESOLVE_PLAN_CONFLICT
    assert task.due_on == date(2027, 1, 11)
