"""Consent (samtykke): which information may cross from one department to another party, for
what purpose and until when. Every share carries its basis in the envelope's legal basis."""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from schemas.base import EventData
from schemas.common import Department, PlanVersion, ProviderId, ShortText, Strict
from schemas.plans import MeasureCategory
from schemas.topics import SOCIAL_EVENTS


class SharedInformation(StrEnum):
    SOCIAL_PLAN_SUMMARY = "social-plan-summary"
    JOB_PLAN_SUMMARY = "job-plan-summary"
    READINESS = "readiness"
    ATTENDANCE = "attendance"


def exactly_one_recipient(to_provider_id: str | None, info: ValidationInfo) -> str | None:
    """A consent names one recipient: a department or a provider."""
    if (to_provider_id is None) == (info.data.get("to_department") is None):
        raise ValueError("name exactly one recipient: to_department or to_provider_id")
    return to_provider_id


class ConsentRecorded(EventData):
    """The citizen consented to a specific share."""

    event_type = "dk.samspil.consent.recorded.v1"
    topic = SOCIAL_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "consent_id": "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091",
                    "information": "social-plan-summary",
                    "from_department": "social",
                    "to_department": "employment",
                    "purpose": "At jobplanen tager hensyn til den sociale handleplan.",
                    "given_on": "2026-11-20",
                    "expires_on": "2027-11-20",
                }
            ]
        }
    )

    consent_id: uuid.UUID
    information: SharedInformation
    from_department: Department
    to_department: Department | None = Field(default=None, description="A department, or else a provider.")
    to_provider_id: ProviderId | None = Field(default=None, validate_default=True)
    purpose: ShortText
    given_on: date
    expires_on: date

    @field_validator("to_provider_id")
    @classmethod
    def _one_recipient(cls, value: str | None, info: ValidationInfo) -> str | None:
        return exactly_one_recipient(value, info)

    @field_validator("expires_on")
    @classmethod
    def _expires_after_given(cls, value: date, info: ValidationInfo) -> date:
        given = info.data.get("given_on")
        if given is not None and value <= given:
            raise ValueError("must be after given_on")
        return value


class ConsentWithdrawn(EventData):
    """The citizen withdrew a consent; shares based on it stop and copies are removed."""

    event_type = "dk.samspil.consent.withdrawn.v1"
    topic = SOCIAL_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"consent_id": "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091", "withdrawn_on": "2027-01-10"}]
        }
    )

    consent_id: uuid.UUID
    withdrawn_on: date


class SharedMeasure(Strict):
    """A social measure as a provider may see it: what kind, when, and whether activation should
    wait while it runs. Never the provider of the measure, hours or notes."""

    category: MeasureCategory
    starts_on: date
    ends_on: date | None = None
    compatible_with_activation: bool = True


class MeasuresSharedWithProvider(EventData):
    """On the citizen's specific consent, the provider of their offer may see the social measures
    (e.g. so the offer is planned around treatment). Replaces what the provider saw before."""

    event_type = "dk.samspil.social.measures.shared-with-provider.v1"
    topic = SOCIAL_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "consent_id": "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091",
                    "provider_id": "aktivcenter-nord",
                    "plan_version": 2,
                    "measures": [
                        {
                            "category": "mental-health-treatment",
                            "starts_on": "2026-11-01",
                            "ends_on": "2027-01-31",
                            "compatible_with_activation": False,
                        }
                    ],
                    "shared_until": "2027-11-20",
                }
            ]
        }
    )

    consent_id: uuid.UUID
    provider_id: ProviderId
    plan_version: PlanVersion
    measures: Annotated[list[SharedMeasure], Field(max_length=50)]
    shared_until: date = Field(description="When the consent runs out.")


class ShareEndReason(StrEnum):
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class ProviderShareEnded(EventData):
    """The consent behind a share with a provider ended: the provider's view shrinks at once."""

    event_type = "dk.samspil.social.provider-share.ended.v1"
    topic = SOCIAL_EVENTS
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "consent_id": "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091",
                    "provider_id": "aktivcenter-nord",
                    "ended_on": "2027-01-10",
                    "reason": "withdrawn",
                }
            ]
        }
    )

    consent_id: uuid.UUID
    provider_id: ProviderId
    ended_on: date
    reason: ShareEndReason
