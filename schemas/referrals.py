"""The referral lifecycle (henvisning til tilbud), a closed loop in the manner of HL7 FHIR SDOH
Clinical Care: requested -> accepted | rejected | cancelled; accepted -> in-progress | on-hold |
completed | failed | cancelled; in-progress <-> on-hold. A reason is required for rejected,
cancelled, on-hold and failed; either side may cancel."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field, JsonValue, ValidationInfo, field_validator

from schemas.base import EventData
from schemas.common import (
    ContactPerson,
    HoursPerWeek,
    Name,
    ProviderId,
    RequiredBecause,
    ShortText,
    Strict,
    end_not_before_start,
)
from schemas.topics import EMPLOYMENT_EVENTS, PROVIDER_REPORTS, Topic


class ReferralStatus(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    COMPLETED = "completed"
    FAILED = "failed"


# The referral state machine, as data: from each status, the statuses it may move to.
TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    ReferralStatus.REQUESTED: frozenset(
        {ReferralStatus.ACCEPTED, ReferralStatus.REJECTED, ReferralStatus.CANCELLED}
    ),
    ReferralStatus.ACCEPTED: frozenset(
        {
            ReferralStatus.IN_PROGRESS,
            ReferralStatus.ON_HOLD,
            ReferralStatus.COMPLETED,
            ReferralStatus.FAILED,
            ReferralStatus.CANCELLED,
        }
    ),
    ReferralStatus.IN_PROGRESS: frozenset(
        {ReferralStatus.ON_HOLD, ReferralStatus.COMPLETED, ReferralStatus.FAILED, ReferralStatus.CANCELLED}
    ),
    ReferralStatus.ON_HOLD: frozenset(
        {
            ReferralStatus.IN_PROGRESS,
            ReferralStatus.COMPLETED,
            ReferralStatus.FAILED,
            ReferralStatus.CANCELLED,
        }
    ),
    ReferralStatus.REJECTED: frozenset(),
    ReferralStatus.CANCELLED: frozenset(),
    ReferralStatus.COMPLETED: frozenset(),
    ReferralStatus.FAILED: frozenset(),
}
CLOSED_STATUSES = frozenset(status for status, onward in TRANSITIONS.items() if not onward)


class OfferKind(StrEnum):
    """What kind of offer (tilbud) the citizen is referred to."""

    ACTIVATION = "activation"
    EDUCATION = "education"
    COMPANY_INTERNSHIP = "company-internship"
    WAGE_SUBSIDY = "wage-subsidy"
    MENTOR = "mentor"
    TREATMENT = "treatment"
    OTHER = "other"


class Offer(Strict):
    """The offer as the provider needs to know it."""

    kind: OfferKind
    title: Name = Field(examples=["Aktiveringsforløb med nedsat tid"])
    hours_per_week: HoursPerWeek
    starts_on: date
    expected_end_on: date | None = None

    @field_validator("expected_end_on")
    @classmethod
    def _end_after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        end_not_before_start(info.data.get("starts_on"), value, "expected_end_on")
        return value


_OFFER_EXAMPLE: dict[str, JsonValue] = {
    "kind": "activation",
    "title": "Aktiveringsforløb med nedsat tid",
    "hours_per_week": 10,
    "starts_on": "2026-12-01",
    "expected_end_on": "2027-05-31",
}


# Days between a provider's progress reports on a referral, as the jobcenter agrees them.
ReportingIntervalDays = Annotated[
    int,
    Field(
        ge=1,
        le=182,
        description="Days between the provider's progress reports, as agreed (1-182).",
        examples=[28],
    ),
]
DEFAULT_REPORTING_INTERVAL_DAYS = 28


class ReferralRequested(EventData):
    """The jobcenter referred a citizen to an offer at a provider. Carries what the provider
    needs and no more: never a CPR number, case notes or social-plan details."""

    event_type = "dk.samspil.employment.referral.requested.v1"
    topic = EMPLOYMENT_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "referral_id": "6f1c2a4e-8d1b-4a57-9f0e-3c5d7b9a1e20",
                    "provider_id": "aktivcenter-nord",
                    "offer": _OFFER_EXAMPLE,
                    "job_plan_goal": "Afklaring af arbejdsevne og stabilt fremmøde 10 timer om ugen.",
                    "citizen_display_name": "Testborger Jensen",
                    "jobcenter_contact": {"name": "Kim Testesen", "phone": "+45 12 34 56 78"},
                }
            ]
        }
    )

    referral_id: uuid.UUID
    provider_id: ProviderId
    offer: Offer
    job_plan_goal: ShortText | None = Field(
        default=None, description="The part of the job plan's goal the offer serves."
    )
    citizen_display_name: Name = Field(description="How the provider addresses the citizen.")
    jobcenter_contact: ContactPerson = Field(description="Whom at the jobcenter the provider contacts.")
    reporting_interval_days: ReportingIntervalDays | None = Field(
        default=None,
        description="Days between the provider's progress reports, as agreed; the first is due "
        "this long after the citizen starts. Absent from referrals made before reporting was tracked.",
    )


class ProgressReportScheduled(EventData):
    """When the provider's next progress report on a referral is due, set anew: the citizen
    started the offer, the jobcenter changed the agreed interval, or a progress report arrived
    (which also clears the mark of a report that was overdue)."""

    event_type = "dk.samspil.employment.progress-report.scheduled.v1"
    topic = EMPLOYMENT_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "referral_id": "6f1c2a4e-8d1b-4a57-9f0e-3c5d7b9a1e20",
                    "provider_id": "aktivcenter-nord",
                    "reporting_interval_days": 28,
                    "due_on": "2027-01-12",
                }
            ]
        }
    )

    referral_id: uuid.UUID
    provider_id: ProviderId
    reporting_interval_days: ReportingIntervalDays
    due_on: date | None = Field(
        default=None, description="When the next progress report is due; null until the citizen starts."
    )
    overdue_since: date | None = Field(
        default=None, description="Set while a report that was due has not arrived: the day after it was due."
    )


class ProgressReportDueSoon(EventData):
    """The provider's next progress report on a referral is due in a few days."""

    event_type = "dk.samspil.employment.progress-report.due-soon.v1"
    topic = EMPLOYMENT_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "referral_id": "6f1c2a4e-8d1b-4a57-9f0e-3c5d7b9a1e20",
                    "provider_id": "aktivcenter-nord",
                    "due_on": "2027-01-12",
                    "days_left": 5,
                }
            ]
        }
    )

    referral_id: uuid.UUID
    provider_id: ProviderId
    due_on: date
    days_left: int = Field(ge=0, description="Days from the announcement to the due date.")


class ProgressReportOverdue(EventData):
    """A progress report the provider was obliged to send on a referral did not arrive by its
    due date: a caseworker follows it up, and the referral is marked until the next report."""

    event_type = "dk.samspil.employment.progress-report.overdue.v1"
    topic = EMPLOYMENT_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "referral_id": "6f1c2a4e-8d1b-4a57-9f0e-3c5d7b9a1e20",
                    "provider_id": "aktivcenter-nord",
                    "due_on": "2027-01-12",
                }
            ]
        }
    )

    referral_id: uuid.UUID
    provider_id: ProviderId
    due_on: date


class ReasonCategory(StrEnum):
    """Why a referral ended without completing, as the municipality reports it: next to the
    free-text reason on a rejection, a failure or a cancellation (by either side). Optional: a
    step without one is counted as unspecified.

    - citizen-ill: the citizen is ill or in treatment.
    - citizen-moved: the citizen moved out of the municipality.
    - citizen-employed: the citizen got a job (or ordinary education) instead.
    - citizen-did-not-attend: the citizen did not turn up or stopped attending.
    - offer-unsuitable: the offer does not fit the citizen's needs or abilities.
    - provider-capacity: the provider has no place (or staff) for the citizen.
    - plan-changed: the jobcenter changed the citizen's plan or benefit.
    - other: none of these; the free-text reason says what.
    """

    CITIZEN_ILL = "citizen-ill"
    CITIZEN_MOVED = "citizen-moved"
    CITIZEN_EMPLOYED = "citizen-employed"
    CITIZEN_DID_NOT_ATTEND = "citizen-did-not-attend"
    OFFER_UNSUITABLE = "offer-unsuitable"
    PROVIDER_CAPACITY = "provider-capacity"
    PLAN_CHANGED = "plan-changed"
    OTHER = "other"


# Optional next to a free-text reason: old messages and callers that give none stay valid.
OptionalReasonCategory = Annotated[
    ReasonCategory | None,
    Field(
        description="The reason's category, as the municipality counts it; absent when not given "
        "(counted as unspecified).",
        examples=["provider-capacity"],
    ),
]


class CompletionCategory(StrEnum):
    """What the citizen went on to when an offer ended as planned, as the municipality counts it:
    next to the free-text outcome on a completion. Optional: a completion without one is counted
    as unspecified.

    - job: an ordinary or subsidised job (flexjob included).
    - education: an ordinary education.
    - next-offer: another offer or an internship (praktik), the plan's next step.
    - other: none of these; the free-text outcome says what.
    """

    JOB = "job"
    EDUCATION = "education"
    NEXT_OFFER = "next-offer"
    OTHER = "other"


# Optional next to the free-text outcome, as a reason's category is next to a reason.
OptionalCompletionCategory = Annotated[
    CompletionCategory | None,
    Field(
        description="The outcome's category, as the municipality counts it; absent when not given "
        "(counted as unspecified).",
        examples=["next-offer"],
    ),
]

# The category of a step that ended a referral: a reason's, or a completion's outcome's.
StepCategory = ReasonCategory | CompletionCategory


class ReferralTransition(EventData):
    """One step in a referral's lifecycle after it was requested."""

    to_status: ClassVar[ReferralStatus]
    reason_required: ClassVar[bool] = False

    referral_id: uuid.UUID
    provider_id: ProviderId
    occurred_on: date = Field(description="The day the step took effect.")
    reason: ShortText | None = Field(
        default=None, validate_default=True, description="Why; required for some steps."
    )

    @field_validator("reason")
    @classmethod
    def _reason_when_required(cls, value: str | None) -> str | None:
        if cls.reason_required and not value:
            raise ValueError(f"is required when a referral becomes {cls.to_status.value}")
        return value


def _transition_example(**extra: str) -> ConfigDict:
    return ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "referral_id": "6f1c2a4e-8d1b-4a57-9f0e-3c5d7b9a1e20",
                    "provider_id": "aktivcenter-nord",
                    "occurred_on": "2026-12-01",
                    **extra,
                }
            ]
        }
    )


class ReferralAccepted(ReferralTransition):
    """The provider accepted the referral."""

    event_type = "dk.samspil.provider.referral.accepted.v1"
    topic = PROVIDER_REPORTS
    to_status = ReferralStatus.ACCEPTED
    model_config = _transition_example()


class ReferralRejected(ReferralTransition):
    """The provider rejected the referral (e.g. no capacity)."""

    event_type = "dk.samspil.provider.referral.rejected.v1"
    topic = PROVIDER_REPORTS
    to_status = ReferralStatus.REJECTED
    model_config = _transition_example(reason="Ingen ledige pladser før februar.")

    reason: Annotated[ShortText, RequiredBecause("A reason is required to reject a referral.")] = Field(
        description="Why; required for this step."
    )
    reason_category: OptionalReasonCategory = None


class ReferralCancelled(ReferralTransition):
    """The referral was cancelled, by the jobcenter (withdrawn) or the provider."""

    event_type = "dk.samspil.referral.cancelled.v1"
    topic = EMPLOYMENT_EVENTS
    topics: ClassVar[tuple[Topic, ...]] = (EMPLOYMENT_EVENTS, PROVIDER_REPORTS)
    to_status = ReferralStatus.CANCELLED
    model_config = _transition_example(reason="Borgeren er overgået til sygedagpenge.")

    reason: Annotated[ShortText, RequiredBecause("A reason is required to cancel a referral.")] = Field(
        description="Why; required for this step."
    )
    reason_category: OptionalReasonCategory = None


class ReferralStarted(ReferralTransition):
    """The citizen started attending the offer."""

    event_type = "dk.samspil.provider.referral.started.v1"
    topic = PROVIDER_REPORTS
    to_status = ReferralStatus.IN_PROGRESS
    model_config = _transition_example()


class ReferralPutOnHold(ReferralTransition):
    """The offer is paused, e.g. during hospital treatment."""

    event_type = "dk.samspil.provider.referral.put-on-hold.v1"
    topic = PROVIDER_REPORTS
    to_status = ReferralStatus.ON_HOLD
    model_config = _transition_example(reason="Indlagt til behandling i tre uger.")

    reason: Annotated[ShortText, RequiredBecause("A reason is required to put a referral on hold.")] = Field(
        description="Why; required for this step."
    )


class ReferralResumed(ReferralTransition):
    """The offer continues after a pause."""

    event_type = "dk.samspil.provider.referral.resumed.v1"
    topic = PROVIDER_REPORTS
    to_status = ReferralStatus.IN_PROGRESS
    model_config = _transition_example()


class ReferralCompleted(ReferralTransition):
    """The offer ended as planned; the outcome says how it went."""

    event_type = "dk.samspil.provider.referral.completed.v1"
    topic = PROVIDER_REPORTS
    to_status = ReferralStatus.COMPLETED
    outcome: Annotated[ShortText, RequiredBecause("An outcome is required to complete a referral.")] = Field(
        description="How the offer ended, in the provider's words."
    )
    outcome_category: OptionalCompletionCategory = None
    model_config = _transition_example(
        outcome="Gennemført med stabilt fremmøde; klar til praktik.", outcome_category="next-offer"
    )


class ReferralFailed(ReferralTransition):
    """The offer ended without reaching its aim."""

    event_type = "dk.samspil.provider.referral.failed.v1"
    topic = PROVIDER_REPORTS
    to_status = ReferralStatus.FAILED
    model_config = _transition_example(reason="Intet fremmøde i otte uger trods kontaktforsøg.")

    reason: Annotated[ShortText, RequiredBecause("A reason is required to record a referral as failed.")] = (
        Field(description="Why; required for this step.")
    )
    reason_category: OptionalReasonCategory = None


class OfferStarted(EventData):
    """Tells the social department which employment offer the citizen started, with only the
    fields it needs to support it with social measures at the right time."""

    event_type = "dk.samspil.employment.offer.started.v1"
    topic = EMPLOYMENT_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "referral_id": "6f1c2a4e-8d1b-4a57-9f0e-3c5d7b9a1e20",
                    "provider_id": "aktivcenter-nord",
                    "offer_kind": "activation",
                    "offer_title": "Aktiveringsforløb med nedsat tid",
                    "hours_per_week": 10,
                    "started_on": "2026-12-01",
                    "expected_end_on": "2027-05-31",
                }
            ]
        }
    )

    referral_id: uuid.UUID
    provider_id: ProviderId
    offer_kind: OfferKind
    offer_title: Name
    hours_per_week: HoursPerWeek
    started_on: date
    expected_end_on: date | None = None

    @field_validator("expected_end_on")
    @classmethod
    def _end_after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        end_not_before_start(info.data.get("started_on"), value, "expected_end_on")
        return value


# The steps that carry a reason category (the ways a referral ends without completing).
CATEGORISED_STEPS: tuple[type[ReferralTransition], ...] = (
    ReferralRejected,
    ReferralFailed,
    ReferralCancelled,
)


def reason_category_of(step: ReferralTransition) -> ReasonCategory | None:
    """The step's reason category, or None for a step that has none or was given none."""
    if isinstance(step, ReferralRejected | ReferralFailed | ReferralCancelled):
        return step.reason_category
    return None


def outcome_category_of(step: ReferralTransition) -> CompletionCategory | None:
    """A completion's outcome category, or None for any other step or a completion given none.
    The status history keeps it in a column of its own, apart from the reason's category (which
    earlier versions read strictly as a ReasonCategory)."""
    if isinstance(step, ReferralCompleted):
        return step.outcome_category
    return None


def history_categories(change: Mapping[str, Any]) -> dict[str, Any]:
    """A status-history row's two categories as both services show them: a completion's in
    ``outcome_category`` (one a replica of the version before wrote during the rollout is in
    ``reason_category``, and is shown as the outcome's all the same), any other step's in
    ``reason_category``."""
    completed = change["status"] == ReferralStatus.COMPLETED
    return {
        "reason_category": None if completed else change["reason_category"],
        "outcome_category": (change["outcome_category"] or change["reason_category"]) if completed else None,
    }


def step_category_of(step: ReferralTransition) -> StepCategory | None:
    """The category of a step that ended the referral, as the KPIs count it: its reason's, or a
    completion's outcome's; None when it has none."""
    return outcome_category_of(step) or reason_category_of(step)


# Two steps lead to in-progress, each only from its own status.
_STEP_ONLY_FROM: dict[str, ReferralStatus] = {
    ReferralStarted.event_type: ReferralStatus.ACCEPTED,
    ReferralResumed.event_type: ReferralStatus.ON_HOLD,
}


class IllegalTransition(Exception):
    """The step is not allowed from the referral's current status."""

    def __init__(self, current: ReferralStatus) -> None:
        super().__init__(current.value)
        self.current = current


def check_transition(current: ReferralStatus, step: type[ReferralTransition]) -> ReferralStatus:
    """The status the step leads to by the state machine, or IllegalTransition."""
    required = _STEP_ONLY_FROM.get(step.event_type)
    if step.to_status not in TRANSITIONS[current] or (required is not None and current is not required):
        raise IllegalTransition(current)
    return step.to_status
