"""What a provider may read of its referrals and submissions, as the API answers it and the
portal shows it: the read models, shared so the two can never differ."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from provider_gateway.domain.submissions import SubmissionStatus
from schemas.common import ContactPerson
from schemas.disputes import FinalVia
from schemas.plans import MeasureCategory
from schemas.referrals import CompletionCategory, ReasonCategory, ReferralStatus, history_categories


class ReferralOut(BaseModel):
    """What a provider may know of a referral: never a CPR number."""

    referral_id: uuid.UUID
    status: ReferralStatus
    offer_title: str
    hours_per_week: float
    starts_on: date
    expected_end_on: date | None
    citizen_display_name: str
    updated_at: datetime
    reporting_interval_days: int | None = Field(
        description="Days between the progress reports you are obliged to send, as agreed with the "
        "jobcenter; null for referrals made before reporting was tracked."
    )
    progress_report_due_on: date | None = Field(
        description="When your next progress report (POST .../progress-reports) is due: the "
        "interval after the citizen started, then after each report; null until the start. You "
        "are reminded in the feed (progress-report-due) a few days before."
    )
    progress_report_overdue_since: date | None = Field(
        description="Set while a progress report that was due has not arrived (the jobcenter "
        "follows it up); cleared by the next progress report you send."
    )


class StatusChange(BaseModel):
    status: ReferralStatus
    changed_by: str = Field(description="'provider' or 'jobcenter'.")
    occurred_on: date
    reason: str | None
    reason_category: ReasonCategory | None = Field(
        description="The reason's category on a step that ended the referral without completing "
        "it, when one was given."
    )
    outcome_category: CompletionCategory | None = Field(
        description="On a completion: the outcome's category, when one was given."
    )

    @classmethod
    def of(cls, change: Mapping[str, Any]) -> StatusChange:
        """From a row of the status history (its categories as `history_categories` reads them)."""
        return cls(
            status=change["status"],
            changed_by=change["changed_by"],
            occurred_on=change["occurred_on"],
            reason=change["reason"],
            **history_categories(change),
        )


class SharedSocialMeasure(BaseModel):
    """A social measure of the citizen's, as the social department shares it with the provider of
    their offer on the citizen's consent: what kind and when, so the offer can be planned around
    it. Never who provides it, its hours or any notes."""

    category: MeasureCategory
    starts_on: date
    ends_on: date | None = Field(description="Open-ended when null.")
    compatible_with_activation: bool = Field(
        description="False when activation should wait while the measure runs."
    )


class ReferralDetail(ReferralOut):
    jobcenter_contact: ContactPerson | None = Field(
        description="Whom at the jobcenter you contact about the referral (name, and work phone and "
        "e-mail when given); null for referrals made before the gateway kept it."
    )
    status_history: list[StatusChange]
    shared_social_measures: list[SharedSocialMeasure] = Field(
        description="Social measures the citizen consented to share with you, earliest first; "
        "empty when no consent is in force. Gone at once when the citizen withdraws the consent "
        "or it expires.",
        examples=[
            [
                {
                    "category": "mental-health-treatment",
                    "starts_on": "2026-11-01",
                    "ends_on": "2027-01-31",
                    "compatible_with_activation": False,
                }
            ]
        ],
    )


class Acknowledgement(BaseModel):
    """What one department did: recorded it, created a task, decided (with its reason), or made
    the decision final (with what now holds). A plan-change decision is provisional until a
    final acknowledgement follows: the other department's team may object, and then the joint
    specialist unit rules."""

    department: str
    outcome: str = Field(
        description="recorded, task-created, completed (the department's task for it was "
        "closed), decided, or final: the outcome of the decision is settled, unopposed or by "
        "ruling.",
        examples=["final"],
    )
    final: bool = Field(
        default=False,
        description="Whether this is settled. False for a plan-change decision (outcome "
        "decided): the other department's team may still object. True for an absence notice's "
        "assessment, which no one objects to, and for every final acknowledgement.",
    )
    task_due_on: date | None = None
    decision: str | None = Field(
        default=None,
        description="With decided: approved or rejected (acceptable or not-acceptable for an "
        "absence notice). With final: what holds: approved or rejected as decided, or the "
        "specialist unit's ruling: employment-position, social-position or compromise.",
        examples=["compromise"],
    )
    reason: str | None = Field(
        default=None,
        description="With decided: why. Withheld (null) for a social-plan decision.",
    )
    via: FinalVia | None = Field(
        default=None,
        description="With final: unopposed (no objection within the deadline) or ruling (the "
        "joint specialist unit ruled on an objection).",
    )
    summary: str | None = Field(
        default=None,
        description="With final: what now holds, the decision's reason or the ruling. Withheld "
        "(null) for a social-plan request.",
        examples=["12 timer om ugen til behandlingen er afsluttet, derefter 15."],
    )


class SubmissionStates(BaseModel):
    """When the submission reached each state; null until it has. A later state implies the
    earlier ones: a report a department makes a task for is delivered and acted on at once."""

    received: datetime
    delivered: datetime | None
    acted_on: datetime | None
    final: datetime | None


class SubmissionOut(BaseModel):
    """Where a submission stands. The states mean the same for every kind of report:

    - `received`: the gateway has it, on its way to the departments.
    - `delivered`: a department recorded it.
    - `acted-on`: a department made a task for it, or decided on it provisionally (the other
      department's team may still object to a plan-change decision).
    - `final`: nothing more will happen to it. An absence notice: once the jobcenter assessed
      the absence. A plan-change request: once the decision on it is final (unopposed, or as the
      joint specialist unit ruled). A progress report: once the jobcenter's review task for it is
      closed (at once when the jobcenter made none). A readiness report: once the social
      department's task for it is closed (by its readiness assessment).

    The status only moves forward; `reached` says when each state was reached."""

    submission_id: uuid.UUID
    referral_id: uuid.UUID
    kind: str
    status: SubmissionStatus
    reached: SubmissionStates
    acknowledgements: list[Acknowledgement] = Field(description="Oldest first.")
    received_at: datetime
    updated_at: datetime
