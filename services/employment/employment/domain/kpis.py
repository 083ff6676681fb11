"""The jobcenter's key figures over a period of Danish days, as the municipality reports them.

- Absence notice to assessment: from when the notice reached the jobcenter (its re-contact task
  was made) to the assessment that closed the task, for assessments made in the period.
- Follow-ups overdue: now (contact courses the jobcenter leads whose due date has passed), and
  during the period (due dates that passed without a follow-up, counted on the first overdue day).
- Referrals ended: by outcome (completed, failed, cancelled, rejected), by who ended them
  (the provider or the jobcenter) and by category: the reason's (``ReasonCategory`` in
  schemas/referrals.py) on rejected, failed and cancelled steps, the outcome's
  (``CompletionCategory``: job, education, next-offer, other) on completions; a step without one
  counts as ``unspecified``. Each on the day the step took effect.
- Plan-change request to final outcome: from when the provider's request arrived to when the
  decision on it became final (unopposed or by a ruling), for decisions final in the period.
- Progress reports received in the period, on time (by their due date) or late, and the
  referrals whose progress report is overdue now.
- Citizens in the parked report now (no follow-up, progress report or plan change for the
  report's default number of months).

``team`` narrows the figures whose data names a team: the assessments (the closing caseworker's
team) and the plan-change decisions (the deciding team).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from samspil.runtime.reports import Durations


class ReferralOutcome(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


# The figures a team narrows (the others are the department's whole).
TEAM_FIGURES = ("absence_notice_to_assessment", "plan_change_request_to_final")


# The category of an ending whose step gave none.
UNSPECIFIED = "unspecified"


@dataclass(frozen=True)
class EndedReferrals:
    outcome: ReferralOutcome
    ended_by: str
    category: str  # a ReasonCategory or (completed) CompletionCategory value, or UNSPECIFIED
    count: int


@dataclass(frozen=True)
class ProgressReports:
    """Progress reports received in the period, by whether they came by their due date (those
    received before due dates were tracked are in neither)."""

    on_time: int
    late: int


@dataclass(frozen=True)
class EmploymentKpis:
    absence_notice_to_assessment: Durations
    follow_ups_overdue_now: int
    follow_ups_overdue_in_period: int
    referrals_ended: tuple[EndedReferrals, ...]
    plan_change_request_to_final: Durations
    parked_citizens: int
    progress_reports: ProgressReports
    progress_reports_overdue_now: int

    def referrals_by_outcome(self) -> dict[ReferralOutcome, int]:
        totals = dict.fromkeys(ReferralOutcome, 0)
        for ended in self.referrals_ended:
            totals[ended.outcome] += ended.count
        return totals

    def referrals_by_who(self) -> dict[tuple[ReferralOutcome, str], int]:
        """Endings by outcome and who ended them, in outcome and then ender order."""
        totals: Counter[tuple[ReferralOutcome, str]] = Counter()
        for ended in self.referrals_ended:
            totals[ended.outcome, ended.ended_by] += ended.count
        return dict(sorted(totals.items()))

    def referrals_by_reason(self) -> dict[tuple[ReferralOutcome, str], int]:
        """Endings by outcome and reason category, in outcome and then category order."""
        totals: Counter[tuple[ReferralOutcome, str]] = Counter()
        for ended in self.referrals_ended:
            totals[ended.outcome, ended.category] += ended.count
        return dict(sorted(totals.items()))
