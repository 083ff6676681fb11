"""The social action plan: versions, and the summary of it that may leave the social case.
Plain Python, no I/O."""

from __future__ import annotations

import json
from decimal import Decimal

from samspil.runtime.errors import Conflict
from schemas.plans import SocialMeasure, SocialPlanRevised


def check_expected_version(current: int, expected: int) -> int:
    """A revision applies only to the version its author saw; the new version's number."""
    if expected != current:
        raise Conflict(
            f"The social plan is at version {current}, not {expected}",
            field="expected_version",
            current_version=current,
        )
    return current + 1


def measures_of(measures: str) -> list[SocialMeasure]:
    """The measures of a stored plan version, from their JSON text."""
    return [SocialMeasure.model_validate(item) for item in json.loads(measures)]


def summary_of(version: int, goal: str, measures: str, capacity: Decimal | float | None) -> SocialPlanRevised:
    """The summary of a stored plan version that the jobcenter may see (no capacity when 0)."""
    return SocialPlanRevised(
        plan_version=version,
        goal=goal,
        measures=measures_of(measures),
        weekly_capacity_hours=float(capacity) if capacity else None,
    )
