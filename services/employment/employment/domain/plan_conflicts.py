"""Conflicts between the job plan (jobplan) and the social action plan (social handleplan): the
ways the two plans pull against each other, as pure rules over the job plan's activities, the
social plan summary's measures, the citizen's weekly capacity and today's date.

Rules are data: ``RULES`` lists them, and adding a rule is adding one entry. A rule's check
yields one short explanation per finding; ``find_conflicts`` gives at most one conflict per rule,
because a conflict is raised once per rule and pair of plan versions. Explanations are in Danish,
for the caseworkers of both departments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from schemas.disputes import ConflictRule
from schemas.plans import ActivityCategory, JobPlanActivity, MeasureCategory, Period, SocialMeasure

MAX_EXPLANATION = 500


@dataclass(frozen=True)
class Plans:
    """What a rule compares: the current job plan, the stored social plan summary, and today."""

    activities: Sequence[JobPlanActivity]
    measures: Sequence[SocialMeasure]
    weekly_capacity_hours: float | None
    today: date


@dataclass(frozen=True)
class Conflict:
    rule: ConflictRule
    explanation: str


@dataclass(frozen=True)
class Rule:
    rule: ConflictRule
    description: str
    check: Callable[[Plans], Iterable[str]]


def _live(period: Period, today: date) -> bool:
    """Not ended before today: only what is running or still to come can pull against anything."""
    return period.ends_on is None or period.ends_on >= today


def _active_on(period: Period, day: date) -> bool:
    return period.starts_on <= day and (period.ends_on is None or day <= period.ends_on)


def _hours(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def hours_over_capacity(plans: Plans) -> Iterable[str]:
    """The peak of hours a week across both plans, from today on, above the citizen's capacity.

    The sum of hours only rises on a day a period starts, so the peak is on today or on a later
    start date; the earliest such day is named."""
    capacity = plans.weekly_capacity_hours
    if capacity is None:
        return
    activities = [a for a in plans.activities if _live(a, plans.today)]
    measures = [m for m in plans.measures if _live(m, plans.today)]
    days = sorted({max(p.starts_on, plans.today) for p in [*activities, *measures]})
    peak: tuple[float, float, date] | None = None
    for day in days:
        job = math.fsum(a.hours_per_week or 0 for a in activities if _active_on(a, day))
        social = math.fsum(m.hours_per_week or 0 for m in measures if _active_on(m, day))
        if peak is None or job + social > peak[0] + peak[1]:
            peak = (job, social, day)
    if peak is None:
        return
    job, social, day = peak
    # Hours carry one decimal; rounding keeps float noise from making 15.0000001 exceed 15.
    if round(job + social, 6) > capacity:
        yield (
            f"Fra {day.isoformat()}: {_hours(job + social)} timer om ugen i alt ({_hours(job)} i"
            f" jobplanen, {_hours(social)} i den sociale handleplan), men borgeren kan klare"
            f" {_hours(capacity)}."
        )


# Job-plan activities that are themselves social or health measures (counted toward the plan
# under the free-municipality trial) are not activation: most likely the very measure at issue.
NOT_ACTIVATION = frozenset({ActivityCategory.SOCIAL_SERVICES_MEASURE, ActivityCategory.HEALTH_MEASURE})

ACTIVITY_LABELS = {
    ActivityCategory.EMPLOYMENT_OFFER: "tilbud",
    ActivityCategory.COMPANY_INTERNSHIP: "virksomhedspraktik",
    ActivityCategory.WAGE_SUBSIDY: "løntilskud",
    ActivityCategory.EDUCATION: "uddannelse",
    ActivityCategory.MENTOR: "mentorstøtte",
    ActivityCategory.OTHER: "aktivitet",
}
MEASURE_LABELS = {
    MeasureCategory.HOUSING_SUPPORT: "bostøtte",
    MeasureCategory.ADDICTION_TREATMENT: "misbrugsbehandling",
    MeasureCategory.MENTAL_HEALTH_TREATMENT: "psykiatrisk behandling",
    MeasureCategory.MENTOR: "mentor",
    MeasureCategory.FAMILY: "familieindsats",
    MeasureCategory.HEALTH: "sundhedsindsats",
    MeasureCategory.OTHER: "social indsats",
}


def activity_during_incompatible_measure(plans: Plans) -> Iterable[str]:
    """A job-plan activity running, from today on, on a day a social measure recorded as not
    compatible with activation runs (e.g. a company internship during anxiety treatment)."""
    for activity in plans.activities:
        if activity.category in NOT_ACTIVATION:
            continue
        for measure in plans.measures:
            if measure.compatible_with_activation:
                continue
            first = max(activity.starts_on, measure.starts_on, plans.today)
            ends = [end for end in (activity.ends_on, measure.ends_on) if end is not None]
            last = min(ends) if ends else None
            if last is not None and last < first:
                continue
            until = f"til {last.isoformat()}" if last else "uden slutdato"
            what = ACTIVITY_LABELS.get(activity.category, activity.category.value)
            measure_label = MEASURE_LABELS.get(measure.category, measure.category.value)
            yield (
                f"{what} '{activity.title}' falder sammen med {measure_label}, som ikke er"
                f" forenelig med aktivering, fra {first.isoformat()} {until}."
            )


RULES: tuple[Rule, ...] = (
    Rule(
        ConflictRule.HOURS_OVER_CAPACITY,
        "Hours a week across both plans, at their peak from today on, above the citizen's capacity.",
        hours_over_capacity,
    ),
    Rule(
        ConflictRule.ACTIVITY_DURING_INCOMPATIBLE_MEASURE,
        "A job-plan activity overlaps a social measure recorded as not compatible with activation.",
        activity_during_incompatible_measure,
    ),
)


def _joined(findings: Sequence[str]) -> str:
    """The findings in one explanation of at most MAX_EXPLANATION characters, saying how many
    did not fit."""
    for shown in range(len(findings), 0, -1):
        rest = len(findings) - shown
        text = "; ".join(findings[:shown]) + (f" (og {rest} til)" if rest else "")
        if len(text) <= MAX_EXPLANATION:
            return text
    suffix = f"… (og {len(findings) - 1} til)" if len(findings) > 1 else "…"
    return findings[0][: MAX_EXPLANATION - len(suffix)] + suffix


def find_conflicts(plans: Plans, rules: Sequence[Rule] = RULES) -> list[Conflict]:
    """At most one conflict per rule, in the order of ``rules``."""
    conflicts = []
    for rule in rules:
        findings = list(rule.check(plans))
        if findings:
            conflicts.append(Conflict(rule.rule, _joined(findings)))
    return conflicts
