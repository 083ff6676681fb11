"""Reports that providers send about a citizen attending their offer."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from schemas.base import EventData
from schemas.topics import PROVIDER_REPORTS

ShortText = Annotated[str, Field(min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=4000)]


class AbsenceReason(StrEnum):
    """Why the citizen stayed away, as far as the provider knows (udeblivelse/fravær)."""

    UNKNOWN = "unknown"
    ILLNESS = "illness"
    TREATMENT = "treatment"
    PERSONAL = "personal"
    OTHER = "other"


class AbsenceNotice(BaseModel):
    """What the provider tells: who stayed away, from when, and what it did about it."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    absent_from: date = Field(description="First day of absence.", examples=["2026-11-16"])
    absent_to: date | None = Field(
        default=None,
        validate_default=True,
        description="Last day of absence; empty while the absence is open-ended.",
        examples=["2026-11-20"],
    )
    reason: AbsenceReason = AbsenceReason.UNKNOWN
    reason_text: Annotated[str, Field(max_length=500)] | None = Field(
        default=None, validate_default=True, description="Required when the reason is 'other'."
    )
    contact_attempts: Annotated[int, Field(ge=0, le=100)] = Field(
        default=0, description="How many times the provider tried to reach the citizen."
    )
    comment: LongText | None = Field(default=None, examples=["Not seen since Monday; phone unanswered."])

    @field_validator("absent_to")
    @classmethod
    def _not_before_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("absent_from")
        if value is not None and start is not None and value < start:
            raise ValueError("must not be before absent_from")
        return value

    @field_validator("reason_text")
    @classmethod
    def _required_for_other(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("reason") is AbsenceReason.OTHER and not value:
            raise ValueError("is required when reason is 'other'")
        return value


class AbsenceNoticeSubmitted(EventData, AbsenceNotice):
    """A provider notified the jobcenter that the citizen has stayed away from the offer.

    The provider is obliged to notify; re-contacting the citizen is the jobcenter's duty.
    """

    event_type = "dk.samspil.provider.absence-notice.submitted.v1"
    dataschema = "urn:samspil:schema:absence-notice-submitted:v1"
    topic = PROVIDER_REPORTS

    submission_id: uuid.UUID = Field(description="The gateway's id for this submission.")
    referral_id: uuid.UUID = Field(description="The referral (henvisning) the citizen attends.")
    provider_id: ShortText = Field(description="The provider that sent the notice.")
