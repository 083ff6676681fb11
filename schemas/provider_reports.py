"""Reports that providers send about a citizen attending their offer. Each carries the
gateway's submission id, so the provider can follow it through the closed loop."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from schemas.base import EventData
from schemas.common import (
    Department,
    LongText,
    ProviderId,
    RequiredBecause,
    ShortText,
    Strict,
    end_not_before_start,
)
from schemas.topics import PROVIDER_REPORTS

_REF = "6f1c2a4e-8d1b-4a57-9f0e-3c5d7b9a1e20"
_SUBMISSION = "0b6e8f7c-2d3a-4c1b-9e8f-7a6b5c4d3e2f"


class ProviderReport(EventData):
    """Fields every report has."""

    topic = PROVIDER_REPORTS

    submission_id: uuid.UUID = Field(description="The gateway's id for this submission.")
    referral_id: uuid.UUID = Field(description="The referral (henvisning) the citizen attends.")
    provider_id: ProviderId


def _example(**fields: Any) -> ConfigDict:
    return ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "submission_id": _SUBMISSION,
                    "referral_id": _REF,
                    "provider_id": "aktivcenter-nord",
                    **fields,
                }
            ]
        }
    )


# Absence notice ---------------------------------------------------------------------------------


class AbsenceReason(StrEnum):
    """Why the citizen stayed away, as far as the provider knows (udeblivelse/fravær)."""

    UNKNOWN = "unknown"
    ILLNESS = "illness"
    TREATMENT = "treatment"
    PERSONAL = "personal"
    OTHER = "other"


class AbsenceNotice(Strict):
    """What the provider tells: from when the citizen stayed away, why if known, and what the
    provider did. The same fields in versions 1 and 2, apart from the contact attempts."""

    absent_from: date = Field(description="First day of absence.", examples=["2026-11-16"])
    absent_to: date | None = Field(
        default=None,
        validate_default=True,
        description="Last day of absence; empty while the absence is open-ended.",
        examples=["2026-11-20"],
    )
    reason: AbsenceReason = AbsenceReason.UNKNOWN
    reason_text: ShortText | None = Field(
        default=None, validate_default=True, description="Required when the reason is 'other'."
    )
    comment: LongText | None = Field(
        default=None, examples=["Ikke set siden mandag; telefonen besvares ikke."]
    )

    @field_validator("absent_to")
    @classmethod
    def _not_before_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        end_not_before_start(info.data.get("absent_from"), value, "absent_to")
        return value

    @field_validator("reason_text")
    @classmethod
    def _required_for_other(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("reason") is AbsenceReason.OTHER and not value:
            raise ValueError("is required when reason is 'other'")
        return value


class AbsenceNoticeSubmittedV1(ProviderReport, AbsenceNotice):
    """Version 1 (superseded by version 2, still read): the provider only counted its attempts
    to reach the citizen."""

    event_type = "dk.samspil.provider.absence-notice.submitted.v1"
    model_config = _example(absent_from="2026-11-16", reason="illness", contact_attempts=2)

    contact_attempts: Annotated[int, Field(ge=0, le=100)] = Field(
        default=0, description="How many times the provider tried to reach the citizen."
    )


class ContactChannel(StrEnum):
    PHONE = "phone"
    TEXT_MESSAGE = "text-message"
    EMAIL = "email"
    LETTER = "letter"
    HOME_VISIT = "home-visit"
    UNKNOWN = "unknown"


class ContactAttempt(Strict):
    """One attempt by the provider to reach the citizen."""

    on: date | None = Field(default=None, description="When; unknown for notices upcast from version 1.")
    channel: ContactChannel


class AbsenceNoticeSubmitted(ProviderReport, AbsenceNotice):
    """A provider notified the jobcenter that the citizen has stayed away from the offer.

    The provider is obliged to notify; re-contacting the citizen is the jobcenter's duty.
    Version 2 records each contact attempt (when and how) instead of only a count.
    """

    event_type = "dk.samspil.provider.absence-notice.submitted.v2"
    model_config = _example(
        absent_from="2026-11-16",
        reason="illness",
        contact_attempts=[
            {"on": "2026-11-17", "channel": "phone"},
            {"on": "2026-11-18", "channel": "text-message"},
        ],
        comment="Ikke set siden mandag; telefonen besvares ikke.",
    )

    contact_attempts: Annotated[list[ContactAttempt], Field(max_length=100)] = Field(
        default_factory=list, description="The provider's attempts to reach the citizen."
    )

    @classmethod
    def from_v1(cls, old: AbsenceNoticeSubmittedV1) -> AbsenceNoticeSubmitted:
        """Read a version 1 notice as version 2: each counted attempt becomes an attempt of
        unknown date and channel, so consumers handle one shape during the migration."""
        fields = old.model_dump(exclude={"contact_attempts"})
        attempts = [ContactAttempt(channel=ContactChannel.UNKNOWN)] * old.contact_attempts
        return cls(**fields, contact_attempts=attempts)


# Progress, readiness, plan change, meetings -----------------------------------------------------


class ProgressionRating(StrEnum):
    REGRESSED = "regressed"
    NONE = "none"
    SOME = "some"
    CLEAR = "clear"


class Recommendation(StrEnum):
    CONTINUE = "continue"
    ADJUST = "adjust"
    END = "end"
    READY_FOR_MORE = "ready-for-more"


class ProgressReportSubmitted(ProviderReport):
    """The provider's regular written feedback (tilbagemelding) on the citizen's progression,
    with a recommendation for what should happen next."""

    event_type = "dk.samspil.provider.progress-report.submitted.v1"
    model_config = _example(
        period_from="2026-12-01",
        period_to="2027-02-28",
        progression="some",
        attendance_percent=72,
        summary="Kommer stabilt tre dage om ugen; arbejder med struktur og mødetider.",
        recommendation="continue",
        concern=False,
    )

    period_from: date
    period_to: date
    progression: ProgressionRating
    attendance_percent: Annotated[int, Field(ge=0, le=100)] = Field(
        description="Share of planned days attended."
    )
    summary: LongText
    recommendation: Recommendation
    concern: bool = Field(default=False, description="The provider is worried about the citizen.")
    concern_text: ShortText | None = Field(
        default=None, validate_default=True, description="Required with a concern."
    )

    @field_validator("period_to")
    @classmethod
    def _period(cls, value: date, info: ValidationInfo) -> date:
        end_not_before_start(info.data.get("period_from"), value, "period_to")
        return value

    @field_validator("concern_text")
    @classmethod
    def _concern_explained(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("concern") and not value:
            raise ValueError("is required when concern is true")
        return value


class ReadyFor(StrEnum):
    EMPLOYMENT_OFFER = "employment-offer"
    COMPANY_INTERNSHIP = "company-internship"
    EDUCATION = "education"
    MORE_HOURS = "more-hours"
    SOCIAL_MEASURE = "social-measure"
    OTHER = "other"


class ReadinessReportSubmitted(ProviderReport):
    """The provider judges the citizen ready for further offers; it is forwarded to the social
    caseworker so social support comes at the right time."""

    event_type = "dk.samspil.provider.readiness-report.submitted.v1"
    model_config = _example(
        ready_for="company-internship",
        justification="Har mødt stabilt i tre måneder og ønsker selv at prøve en praktik.",
    )

    ready_for: ReadyFor
    ready_for_text: ShortText | None = Field(
        default=None, validate_default=True, description="Required for 'other'."
    )
    justification: Annotated[LongText, RequiredBecause("A justification is required in a readiness report.")]

    @field_validator("ready_for_text")
    @classmethod
    def _other_explained(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("ready_for") is ReadyFor.OTHER and not value:
            raise ValueError("is required when ready_for is 'other'")
        return value


class TargetPlan(StrEnum):
    """Which plan a change concerns, and so which department's team must act on it."""

    JOB_PLAN = "job-plan"
    SOCIAL_PLAN = "social-plan"

    @property
    def department(self) -> Department:
        return Department.EMPLOYMENT if self is TargetPlan.JOB_PLAN else Department.SOCIAL


class ChangeKind(StrEnum):
    HOURS = "hours"
    CONTENT = "content"
    PAUSE = "pause"
    END = "end"
    NEW_ACTIVITY = "new-activity"
    OTHER = "other"


class Urgency(StrEnum):
    ROUTINE = "routine"
    SOON = "soon"
    URGENT = "urgent"


class PlanChangeRequested(ProviderReport):
    """The provider's contact person asks the team that owns the plan to change it. That team
    is obliged to act, and to inform and involve the other department's team."""

    event_type = "dk.samspil.provider.plan-change.requested.v1"
    model_config = _example(
        target_plan="job-plan",
        change_kind="hours",
        proposed_change="Øg fra 10 til 15 timer om ugen fra januar.",
        reason="Borgeren har overskud og ønsker flere timer.",
        urgency="routine",
    )

    target_plan: TargetPlan
    change_kind: ChangeKind
    proposed_change: LongText
    reason: Annotated[LongText, RequiredBecause("A reason is required to request a plan change.")]
    urgency: Urgency = Urgency.ROUTINE


class MeetingForm(StrEnum):
    IN_PERSON = "in-person"
    PHONE = "phone"
    DIGITAL = "digital"


class ProviderMeetingReported(ProviderReport):
    """The provider held a follow-up meeting with the citizen; under the flexible contact course
    trial it counts as the required follow-up."""

    event_type = "dk.samspil.provider.meeting.reported.v1"
    model_config = _example(held_on="2026-12-15", form="in-person", summary="Opfølgning på fremmøde og mål.")

    held_on: date
    form: MeetingForm
    summary: ShortText
