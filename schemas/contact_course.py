"""The contact course (kontaktforløb) under the flexible trial: follow-ups, postponements with
their mandatory justification note, and the reminders that keep citizens from being parked."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from schemas.base import EventData
from schemas.common import Department, ShortText, end_not_before_start
from schemas.topics import EMPLOYMENT_EVENTS, SOCIAL_EVENTS


class FollowUpKind(StrEnum):
    """Under the trial, each of these counts as the legally required follow-up."""

    CASEWORKER_MEETING = "caseworker-meeting"
    MENTOR_MEETING = "mentor-meeting"
    PROVIDER_MEETING = "provider-meeting"
    BUSINESS_CONSULTANT_MEETING = "business-consultant-meeting"
    GROUP_SESSION = "group-session"
    PHONE = "phone"
    DIGITAL = "digital"


class FollowUpRecorded(EventData):
    """A follow-up (opfølgning) took place and counts toward the 3-monthly rule."""

    event_type = "dk.samspil.contact-course.follow-up.recorded.v1"
    topic = EMPLOYMENT_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"kind": "mentor-meeting", "department": "employment", "held_on": "2026-12-15"}]
        }
    )

    kind: FollowUpKind
    department: Department = Field(description="Whose follow-up it was (the lead department's counts).")
    held_on: date
    next_due_on: date | None = Field(default=None, description="When the next follow-up falls due.")

    @field_validator("next_due_on")
    @classmethod
    def _due_after_held(cls, value: date | None, info: ValidationInfo) -> date | None:
        end_not_before_start(info.data.get("held_on"), value, "next_due_on")
        return value


class PostponementReason(StrEnum):
    AWAITING_MEDICAL_TREATMENT = "awaiting-medical-treatment"
    AWAITING_MEDICAL_INFORMATION = "awaiting-medical-information"
    ONGOING_COMPANY_INTERNSHIP = "ongoing-company-internship"
    OTHER = "other"


def other_reason_explained(reason_text: str | None, info: ValidationInfo) -> str | None:
    """A postponement for an 'other' reason says which."""
    if info.data.get("reason") is PostponementReason.OTHER and not reason_text:
        raise ValueError("is required when reason is 'other'")
    return reason_text


class FollowUpPostponed(EventData):
    """A follow-up was postponed. Valid only with a justification note (socialfaglig vurdering)
    recorded in the case; the note stays in the case, the bus only learns that it exists."""

    event_type = "dk.samspil.contact-course.follow-up.postponed.v1"
    topic = EMPLOYMENT_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reason": "awaiting-medical-treatment",
                    "until": "2027-02-15",
                    "justification_note_recorded": True,
                    "department": "employment",
                }
            ]
        }
    )

    reason: PostponementReason
    reason_text: ShortText | None = Field(
        default=None, validate_default=True, description="Required for 'other'."
    )
    until: date
    justification_note_recorded: Literal[True] = Field(
        description="Always true: a postponement without a justification note is not valid."
    )
    department: Department

    @field_validator("reason_text")
    @classmethod
    def _other_explained(cls, value: str | None, info: ValidationInfo) -> str | None:
        return other_reason_explained(value, info)


class FollowUpDueSoon(EventData):
    """A reminder: the follow-up falls due soon."""

    event_type = "dk.samspil.contact-course.follow-up.due-soon.v1"
    topic = EMPLOYMENT_EVENTS
    model_config = ConfigDict(json_schema_extra={"examples": [{"due_on": "2027-03-15", "days_left": 7}]})

    due_on: date
    days_left: Annotated[int, Field(ge=0, le=365)]


class FollowUpOverdue(EventData):
    """The follow-up was not held by its due date. Announced once per due date."""

    event_type = "dk.samspil.contact-course.follow-up.overdue.v1"
    topic = EMPLOYMENT_EVENTS
    model_config = ConfigDict(json_schema_extra={"examples": [{"due_on": "2027-03-15"}]})

    due_on: date


class SocialFollowUpRecorded(FollowUpRecorded):
    """A follow-up held by the social department while it is the lead department."""

    event_type = "dk.samspil.social.follow-up.recorded.v1"
    topic = SOCIAL_EVENTS

    department: Literal[Department.SOCIAL] = Field(description="Always the social department.")
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"kind": "caseworker-meeting", "department": "social", "held_on": "2026-12-15"}]
        }
    )
